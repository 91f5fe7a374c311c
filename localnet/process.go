package localnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/divoc/divoc/api"
)

// proc is a `divoc start` process this Network started.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

var procsMu sync.Mutex

// PIDFile is the file, in a node's home, that holds the pid of its
// `divoc start` process.
const PIDFile = "divoc.pid"

// LogFile is the file, in a node's logs directory, that receives the
// process's standard output and error.
const LogFile = "divoc.log"

func (n *Network) home(i int) string {
	h, err := filepath.Abs(string(n.Nodes[i].Home))
	if err != nil {
		return string(n.Nodes[i].Home)
	}
	return h
}

// LogPath is node i's process log.
func (n *Network) LogPath(i int) string { return filepath.Join(n.home(i), "logs", LogFile) }

func (n *Network) bin() (string, error) {
	if n.Bin != "" {
		return n.Bin, nil
	}
	return os.Executable()
}

// Start runs `divoc start --home H` for node i. With detach the process
// gets its own session and outlives the caller (`divoc localnet start`);
// otherwise it is the caller's child and is killed if the caller dies
// (tests).
func (n *Network) Start(i int, detach bool) error {
	if pid, ok := n.Running(i); ok {
		return fmt.Errorf("%s is already running (pid %d)", n.Nodes[i].Name, pid)
	}
	bin, err := n.bin()
	if err != nil {
		return err
	}
	home := n.home(i)
	if err := os.MkdirAll(filepath.Join(home, "logs"), 0o755); err != nil {
		return err
	}
	log, err := os.OpenFile(n.LogPath(i), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "--- divoc start at %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, "start", "--home", home)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr(detach)
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", n.Nodes[i].Name, err)
	}
	if err := os.WriteFile(filepath.Join(home, PIDFile), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		log.Close()
		return err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	procsMu.Lock()
	if n.procs == nil {
		n.procs = map[int]*proc{}
	}
	n.procs[i] = p
	procsMu.Unlock()
	return nil
}

func (n *Network) tracked(i int) *proc {
	procsMu.Lock()
	defer procsMu.Unlock()
	return n.procs[i]
}

// Running returns the pid of node i's process if it is alive: a process
// this Network started, or the one named by the home's divoc.pid if it is
// still a `divoc start` of this home.
func (n *Network) Running(i int) (int, bool) {
	if p := n.tracked(i); p != nil {
		select {
		case <-p.done:
		default:
			return p.cmd.Process.Pid, true
		}
	}
	b, err := os.ReadFile(filepath.Join(n.home(i), PIDFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, isNodeProcess(pid, n.home(i))
}

// isNodeProcess reports whether pid is a live (not zombie) `divoc start`
// of home, so that a stale pid file never leads to signalling another
// process.
func isNodeProcess(pid int, home string) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	hasStart, hasHome := false, false
	for _, a := range args {
		hasStart = hasStart || a == "start"
		hasHome = hasHome || a == home
	}
	return hasStart && hasHome
}

// Signal sends sig to node i's process.
func (n *Network) Signal(i int, sig syscall.Signal) error {
	pid, ok := n.Running(i)
	if !ok {
		return fmt.Errorf("%s is not running", n.Nodes[i].Name)
	}
	return syscall.Kill(pid, sig)
}

// Kill sends SIGKILL to node i and waits until the process is gone.
func (n *Network) Kill(i int) error {
	if err := n.Signal(i, syscall.SIGKILL); err != nil {
		return err
	}
	return n.waitExit(i, 30*time.Second)
}

// Pause stops node i with SIGSTOP; Resume continues it.
func (n *Network) Pause(i int) error  { return n.Signal(i, syscall.SIGSTOP) }
func (n *Network) Resume(i int) error { return n.Signal(i, syscall.SIGCONT) }

// Stop asks node i to shut down (SIGTERM) and waits up to timeout, then
// kills it. It returns an error if the process had to be killed or exited
// with an error.
func (n *Network) Stop(i int, timeout time.Duration) error {
	if _, ok := n.Running(i); !ok {
		return nil
	}
	_ = n.Signal(i, syscall.SIGCONT) // a paused process cannot handle SIGTERM
	if err := n.Signal(i, syscall.SIGTERM); err != nil {
		return err
	}
	if err := n.waitExit(i, timeout); err != nil {
		// SIGQUIT makes the Go runtime write every goroutine's stack to
		// the node's log: where the shutdown hangs.
		_ = n.Signal(i, syscall.SIGQUIT)
		if n.waitExit(i, 5*time.Second) != nil {
			_ = n.Kill(i)
		}
		return fmt.Errorf("%s did not stop within %s of SIGTERM; its goroutines (SIGQUIT) are in %s:\n%s", n.Nodes[i].Name, timeout, n.LogPath(i), stackDump(n.LogPath(i), 30000))
	}
	if p := n.tracked(i); p != nil && p.err != nil {
		return fmt.Errorf("%s exited with %v; log %s:\n%s", n.Nodes[i].Name, p.err, n.LogPath(i), Tail(n.LogPath(i), 3000))
	}
	return nil
}

// StopAll stops every running node, all at once.
func (n *Network) StopAll(timeout time.Duration) error {
	errs := make([]error, len(n.Nodes))
	var wg sync.WaitGroup
	for i := range n.Nodes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = n.Stop(i, timeout)
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (n *Network) waitExit(i int, timeout time.Duration) error {
	deadline := time.After(timeout)
	if p := n.tracked(i); p != nil {
		select {
		case <-p.done:
			return nil
		case <-deadline:
			return fmt.Errorf("%s still running after %s", n.Nodes[i].Name, timeout)
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, ok := n.Running(i); !ok {
			return nil
		}
		select {
		case <-deadline:
			return fmt.Errorf("%s still running after %s", n.Nodes[i].Name, timeout)
		case <-tick.C:
		}
	}
}

// Exited reports whether a process this Network started has exited, and
// how.
func (n *Network) Exited(i int) (bool, error) {
	p := n.tracked(i)
	if p == nil {
		return false, nil
	}
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// WaitReady waits until node i's API answers /healthz with a committed
// block, or its process exits, or ctx ends.
func (n *Network) WaitReady(ctx context.Context, i int) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if done, err := n.Exited(i); done {
			return fmt.Errorf("%s exited (%v); log %s:\n%s", n.Nodes[i].Name, err, n.LogPath(i), Tail(n.LogPath(i), 3000))
		}
		if resp, err := hc.Get(n.Nodes[i].API + "/healthz"); err == nil {
			var hz struct{ Height int64 }
			err := json.NewDecoder(resp.Body).Decode(&hz)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && err == nil && hz.Height >= 1 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no committed block on %s/healthz: %w; log %s:\n%s", n.Nodes[i].Name, n.Nodes[i].API, ctx.Err(), n.LogPath(i), Tail(n.LogPath(i), 3000))
		case <-tick.C:
		}
	}
}

// StartAll starts every node that is not running and waits until each
// has a committed block.
func (n *Network) StartAll(ctx context.Context, detach bool) error {
	for i := range n.Nodes {
		if _, ok := n.Running(i); ok {
			continue
		}
		if err := n.Start(i, detach); err != nil {
			return err
		}
	}
	for i := range n.Nodes {
		if err := n.WaitReady(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// NodeStatus is one node's view, from its API's /v1/status.
type NodeStatus struct {
	Name    string `json:"name"`
	Agency  string `json:"agency"`
	API     string `json:"api"`
	PID     int    `json:"pid,omitempty"`
	Running bool   `json:"running"`
	Height  int64  `json:"height"`
	AppHash string `json:"app_hash"`
	Error   string `json:"error,omitempty"`
}

// Status asks every node's API for its height and app hash.
func (n *Network) Status(ctx context.Context) []NodeStatus {
	out := make([]NodeStatus, len(n.Nodes))
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 3 * time.Second}
	for i, nd := range n.Nodes {
		out[i] = NodeStatus{Name: nd.Name, Agency: nd.Agency.ID, API: nd.API}
		out[i].PID, out[i].Running = n.Running(i)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, err := GetStatus(ctx, hc, n.Nodes[i].API)
			if err != nil {
				out[i].Error = err.Error()
				return
			}
			out[i].Height, out[i].AppHash = st.Height, st.AppHash
		}(i)
	}
	wg.Wait()
	return out
}

// GetStatus reads one API's /v1/status.
func GetStatus(ctx context.Context, hc *http.Client, base string) (*api.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/v1/status: %s", base, resp.Status)
	}
	var st api.Status
	return &st, json.NewDecoder(resp.Body).Decode(&st)
}

// Tail returns the last n bytes of a file.
func Tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// stackDump is the start of the goroutine dump the Go runtime wrote to a
// log on SIGQUIT (goroutine 1, where main waits, comes first), or the
// log's tail if there is none.
func stackDump(path string, n int) string {
	b, _ := os.ReadFile(path)
	i := strings.LastIndex(string(b), "SIGQUIT: quit")
	if i < 0 {
		return Tail(path, n)
	}
	b = b[i:]
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
