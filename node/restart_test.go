package node_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cmtdb "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/privval"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/gendata"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/node"
	"github.com/divoc/divoc/vault"
)

// A stopped node started again on the same home has the same state: the
// height, the app hash of the old height, the totals, the certificates
// (which still verify), and it goes on: a new upload commits, a row
// committed before the restart is refused as a duplicate dose.
func TestRestartKeepsState(t *testing.T) {
	home := t.TempDir()
	h := node.Home(home)
	if _, err := node.InitLocal(node.LocalOptions{Home: home, Seed: 5, Facilities: 2, Certificates: 120,
		APIListen: "127.0.0.1:0", P2PListen: "tcp://127.0.0.1:0"}); err != nil {
		t.Fatalf("init: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := startNode(ctx, t, h)
	pub := client.New("http://"+n.APIAddr, "")
	adminCl := client.New("http://"+n.APIAddr, n.Service.AdminToken())
	reg, err := pub.Registry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fac := facilityOf(t, h, reg.Facilities[0].Code)
	rows := facilityRows(t, h, fac.Code)
	if len(rows) < 20 {
		t.Fatalf("facility %s has %d rows", fac.Code, len(rows))
	}
	before, after := rows[:len(rows)/2], rows[len(rows)/2:]

	up, err := uploadRows(ctx, pub, fac, before)
	if err != nil || up.Status != vault.UploadCommitted || up.Accepted != len(before) {
		t.Fatalf("upload before the restart: %+v %v", up, err)
	}
	var certs []string
	for _, r := range up.Results {
		certs = append(certs, r.Certificate)
	}
	creds := map[string]string{}
	for _, id := range certs[:5] {
		c, err := adminCl.Certificate(ctx, id)
		if err != nil || c.Credential == "" {
			t.Fatalf("certificate %s: %+v %v", id, c, err)
		}
		creds[id] = c.Credential
	}
	snap := n.App.Committed()
	height, hash, totals := snap.Height, snap.AppHash, snap.Totals()
	if err := n.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	// What the stopped home says, read through CometBFT's and IAVL's APIs.
	in, err := node.Inspect(h)
	if err != nil {
		t.Fatal(err)
	}
	st, err := in.State()
	if err != nil {
		t.Fatal(err)
	}
	hashes, latest, err := in.AppHashes(height, height)
	in.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.LastBlockHeight < height || latest < height || !bytes.Equal(hashes[height], hash) {
		t.Fatalf("stopped home: CometBFT at %d, app at %d with hash %X at %d; the node had committed %d with %X",
			st.LastBlockHeight, latest, hashes[height], height, height, hash)
	}
	if latest == st.LastBlockHeight && !bytes.Equal(st.AppHash, hashes[latest]) {
		t.Fatalf("CometBFT's state has app hash %X for %d, the app's tree %X", st.AppHash, latest, hashes[latest])
	}

	n = startNode(ctx, t, h)
	again := n.App.Committed()
	if again.Height < height {
		t.Fatalf("after the restart the height is %d, before it was %d", again.Height, height)
	}
	old, err := n.App.SnapshotAt(height)
	if err != nil || !bytes.Equal(old.AppHash, hash) {
		t.Fatalf("app hash at %d after the restart: %v %v, before %X", height, old, err, hash)
	}
	if got := again.Totals(); got != totals {
		t.Fatalf("totals after the restart %+v, before %+v", got, totals)
	}
	pub = client.New("http://"+n.APIAddr, "")
	adminCl = client.New("http://"+n.APIAddr, n.Service.AdminToken())
	for id, cred := range creds {
		v, err := pub.Verify(ctx, cred)
		if err != nil || !v.Valid {
			t.Fatalf("certificate %s after the restart: %+v %v", id, v, err)
		}
		c, err := adminCl.Certificate(ctx, id)
		if err != nil || c.Status != app.CertActive || c.Credential != cred {
			t.Fatalf("certificate %s after the restart: %+v %v", id, c, err)
		}
	}

	up, err = uploadRows(ctx, pub, fac, after)
	if err != nil || up.Status != vault.UploadCommitted || up.Accepted != len(after) || up.Height <= height {
		t.Fatalf("upload after the restart: %+v %v", up, err)
	}
	dup, err := uploadRows(ctx, pub, fac, before[:5])
	if err != nil || dup.Accepted != 0 || len(dup.Results) != 5 {
		t.Fatalf("re-upload of committed rows: %+v %v", dup, err)
	}
	for _, r := range dup.Results {
		if r.Code != string(app.CodeDuplicateDose) {
			t.Fatalf("re-uploaded row %d: %s (%s), want %s", r.Row, r.Code, r.Reason, app.CodeDuplicateDose)
		}
	}
	if got := n.App.Committed().Totals(); got.EventsAccepted != totals.EventsAccepted+int64(len(after)) {
		t.Fatalf("totals after the new upload: %+v, before the restart %+v", got, totals)
	}
	t.Logf("restart: height %d -> %d, app hash %X kept, %d + %d rows recorded, %d re-uploaded rows refused as %s",
		height, n.App.Committed().Height, hash[:6], len(before), len(after), len(dup.Results), app.CodeDuplicateDose)
}

// THREATS row 22: a `divoc start` process killed with SIGKILL while
// uploads are in flight, three times at random moments after an upload was
// acknowledged, comes back with `divoc start` alone, loses nothing it
// acknowledged, records nothing twice, and goes on committing; the app
// hash of every height is the one the next block's header carries. Where
// a kill lands is chance (the handshake lines logged at the end tell);
// TestCrashMidCommit makes each state a crash inside a commit can leave.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the divoc binary and kills it")
	}
	bin := buildDivoc(t)
	home := t.TempDir()
	h := node.Home(home)
	if _, err := node.InitLocal(node.LocalOptions{Home: home, Seed: 3, Facilities: 2, Certificates: 300,
		P2PListen: "tcp://127.0.0.1:0", RPCListen: ""}); err != nil {
		t.Fatalf("init: %v", err)
	}
	s, err := node.LoadSettings(h)
	if err != nil {
		t.Fatal(err)
	}
	s.APIListen = freeAddr(t)
	s.PublicURL = "http://" + s.APIListen
	if err := node.SaveSettings(h, s); err != nil {
		t.Fatal(err)
	}
	base := s.PublicURL
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The work: every row of both facilities, 10 rows an upload.
	run := &crashRun{acked: map[string]int64{}}
	var codes []string
	for _, f := range mustRegistryCodes(t, h) {
		codes = append(codes, f)
		rows := facilityRows(t, h, f)
		run.total += len(rows)
		for lo := 0; lo < len(rows); lo += 10 {
			run.queue = append(run.queue, chunk{facility: f, rows: rows[lo:min(lo+10, len(rows))]})
		}
	}
	facs := map[string]client.Facility{}
	for _, c := range codes {
		facs[c] = facilityOf(t, h, c)
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("%d rows in %d uploads; kill delays seeded with %d", run.total, len(run.queue), seed)

	logPath := filepath.Join(t.TempDir(), "divoc.log")
	for round := 1; round <= 3; round++ {
		p := startProcess(ctx, t, bin, h, base, logPath)
		run.checkRecovered(ctx, t, base, round)
		before := run.ackCount()
		rctx, stop := context.WithCancel(ctx)
		done := run.work(rctx, t, base, facs, 3)
		// Kill once this round has acknowledged an upload, after a random
		// further delay, while the workers keep uploads in flight.
		deadline := time.Now().Add(30 * time.Second)
		for run.ackCount() == before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if run.ackCount() == before {
			t.Fatalf("round %d: no upload committed in 30 s; log:\n%s", round, tail(logPath))
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		p.kill(t)
		stop()
		<-done
		t.Logf("round %d: killed at about height %d; %d rows acknowledged so far, %d uploads left", round, run.maxHeight(), run.ackCount(), run.left())
	}

	// A last start finishes the work and stops cleanly.
	p := startProcess(ctx, t, bin, h, base, logPath)
	run.checkRecovered(ctx, t, base, 4)
	<-run.work(ctx, t, base, facs, 3)
	if run.left() != 0 || t.Failed() {
		t.Fatalf("%d uploads could not be completed", run.left())
	}
	pub := client.New(base, "")
	adminCl := client.New(base, adminToken(t, h))
	st, err := pub.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Totals.EventsAccepted != int64(run.total) || st.Totals.Certificates != int64(run.total) {
		t.Errorf("totals %+v: want %d events and certificates, each row once", st.Totals, run.total)
	}
	for id := range run.acknowledged() {
		c, err := adminCl.Certificate(ctx, id)
		if err != nil || c.Credential == "" {
			t.Fatalf("acknowledged certificate %s: %+v %v", id, c, err)
		}
		v, err := pub.Verify(ctx, c.Credential)
		if err != nil || !v.Valid {
			t.Fatalf("acknowledged certificate %s does not verify: %+v %v", id, v, err)
		}
	}
	p.terminate(t)

	// The ledger itself, read from the stopped home: each acknowledged
	// certificate anchored by exactly one accepted event, every row once,
	// and the app hash of every height equal to the next header's.
	anchored, hashes := ledgerAnchors(t, h)
	for id, height := range run.acknowledged() {
		if anchored[id] != 1 {
			t.Errorf("acknowledged certificate %s (height %d) is anchored %d times", id, height, anchored[id])
		}
	}
	accepted := 0
	for _, c := range anchored {
		accepted += c
	}
	if accepted != run.total {
		t.Errorf("%d accepted events with anchors on the ledger for %d rows", accepted, run.total)
	}
	// What each start found, as CometBFT's handshake logged it: a
	// store ahead of the state or of the app means a block was replayed.
	if b, err := os.ReadFile(filepath.Join(h.Logs(), "cometbft.log")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "ABCI Replay Blocks") || strings.Contains(line, "Replay last block") {
				t.Log(strings.TrimSpace(line[strings.Index(line, "]")+1:]))
			}
		}
	}
	t.Logf("after 3 kills: %d rows acknowledged, %d on the ledger (each once), %d uploads sent again after a crash, %d heights with app hashes matching the headers",
		run.ackCount(), accepted, run.resent, hashes)
}

// --- helpers ---

func startNode(ctx context.Context, t *testing.T, h node.Home) *node.Node {
	t.Helper()
	n, err := node.Start(h)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { n.Stop() })
	if err := n.WaitHeight(ctx, 1); err != nil {
		t.Fatalf("no block: %v", err)
	}
	return n
}

// facilityRows parses a facility's generated CSV.
func facilityRows(t *testing.T, h node.Home, code string) []divocfmt.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(string(h), "gen-data", gendata.FacilityCertificatesFile(code)))
	if err != nil {
		t.Fatal(err)
	}
	rows, errs, err := divocfmt.ParseBulkCSV(bytes.NewReader(b), divocfmt.CSVOptions{MaxRows: -1})
	if err != nil || len(errs) > 0 {
		t.Fatalf("%s: %v %v", code, errs, err)
	}
	return rows
}

// mustRegistryCodes lists the facilities of the home's registry.
func mustRegistryCodes(t *testing.T, h node.Home) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(h.Registry(), "facilities.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	facs, _, err := divocfmt.ParseFacilitiesCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range facs {
		if _, err := os.Stat(filepath.Join(string(h), "gen-data", gendata.FacilityCertificatesFile(x.Code))); err == nil {
			out = append(out, x.Code)
		}
	}
	return out
}

// uploadRows signs rows as the facility (the events the node will derive
// from exactly this CSV) and uploads them, waiting for the commit.
func uploadRows(ctx context.Context, cl *client.Client, f client.Facility, rows []divocfmt.Certificate) (*vault.Upload, error) {
	var buf bytes.Buffer
	if err := divocfmt.WriteBulkCSV(&buf, rows); err != nil {
		return nil, err
	}
	body := buf.Bytes()
	again, _, err := divocfmt.ParseBulkCSV(bytes.NewReader(body), divocfmt.CSVOptions{MaxRows: -1})
	if err != nil {
		return nil, err
	}
	reg, err := cl.Registry(ctx)
	if err != nil {
		return nil, err
	}
	st, err := cl.Status(ctx)
	if err != nil {
		return nil, err
	}
	b := ingest.Prepare(f.Code, "", again, ingest.NewCatalog(reg.Vaccines, reg.Programs, f.Vaccinators).InZone(reg.TimezoneOffsetMinutes), f.Pseudonym)
	part, err := b.Sign(st.ChainID, f.Key, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w %v", err, b.Errors)
	}
	return cl.BulkCertify(ctx, body, "", part.DetachedJWS(), true)
}

// buildDivoc builds the divoc binary from the repository this test is in.
func buildDivoc(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "divoc")); err != nil {
		t.Fatalf("no cmd/divoc beside the node package: %v", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "divoc")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/divoc")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/divoc: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a `divoc start` subprocess.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProcess runs `divoc start --home H` and waits until its API answers
// /healthz.
func startProcess(ctx context.Context, t *testing.T, bin string, h node.Home, base, logPath string) *process {
	t.Helper()
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(log, "--- divoc start at %s\n", time.Now().Format(time.RFC3339Nano))
	p := &process{cmd: exec.Command(bin, "start", "--home", string(h)), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("divoc start: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		log.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("divoc start exited: %v; log:\n%s", p.err, tail(logPath))
		default:
		}
		// Healthy, and past the first block: before it the registry
		// is empty.
		if resp, err := hc.Get(base + "/healthz"); err == nil {
			var hz struct{ Height int64 }
			err := json.NewDecoder(resp.Body).Decode(&hz)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && err == nil && hz.Height >= 1 {
				return p
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("divoc start: no /healthz in 30 s; log:\n%s", tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-p.done
}

// terminate stops the process as an operator would (SIGTERM) and checks it
// exits cleanly.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("divoc start did not stop within 30 s of SIGTERM")
	}
	if p.err != nil {
		t.Fatalf("divoc start exited with %v", p.err)
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// crashRun is the uploads of a crash test: what is left to do and what the
// node acknowledged. A facility's uploads are sent in file order, one at a
// time (a later dose must not reach the ledger before an earlier one), so
// an upload that fails goes back to the front of its facility's queue.
type crashRun struct {
	mu       sync.Mutex
	queue    []chunk
	inflight map[string]bool  // facilities with an upload in flight
	acked    map[string]int64 // certificate -> height of the acknowledged commit
	total    int
	maxH     int64
	resent   int
}

type chunk struct {
	facility string
	rows     []divocfmt.Certificate
}

func (r *crashRun) ackCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.acked)
}

func (r *crashRun) left() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue) + len(r.inflight)
}

func (r *crashRun) maxHeight() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxH
}

func (r *crashRun) acknowledged() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.acked))
	for k, v := range r.acked {
		out[k] = v
	}
	return out
}

// take returns the first queued upload of a facility with none in flight;
// wait reports that the queue is not empty but every facility is busy.
func (r *crashRun) take() (c chunk, ok, wait bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight == nil {
		r.inflight = map[string]bool{}
	}
	for i, c := range r.queue {
		if r.inflight[c.facility] {
			continue
		}
		r.queue = append(r.queue[:i:i], r.queue[i+1:]...)
		r.inflight[c.facility] = true
		return c, true, false
	}
	return chunk{}, false, len(r.queue) > 0
}

// checkRecovered checks a restarted node has every acknowledged commit.
func (r *crashRun) checkRecovered(ctx context.Context, t *testing.T, base string, round int) {
	t.Helper()
	st, err := client.New(base, "").Status(ctx)
	if err != nil {
		t.Fatalf("start %d: status: %v", round, err)
	}
	if st.Height < r.maxHeight() {
		t.Fatalf("start %d: height %d, but a commit at %d was acknowledged", round, st.Height, r.maxHeight())
	}
	if st.Totals.EventsAccepted < int64(r.ackCount()) {
		t.Fatalf("start %d: %d events accepted, %d were acknowledged", round, st.Totals.EventsAccepted, r.ackCount())
	}
}

// work uploads queued chunks with `workers` uploads in flight until the
// queue is empty or the node stops answering; a chunk whose upload failed
// goes back to the queue whole, to be sent again after the restart (its
// rows then come back accepted, or as duplicate doses if the lost upload
// had committed after all). The returned channel is closed when every
// worker has stopped.
func (r *crashRun) work(ctx context.Context, t *testing.T, base string, facs map[string]client.Facility, workers int) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	cl := client.New(base, "")
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, ok, wait := r.take()
				if wait {
					time.Sleep(5 * time.Millisecond) // another worker holds this facility's next upload
					continue
				}
				if !ok {
					return
				}
				up, err := uploadRows(ctx, cl, facs[c.facility], c.rows)
				if !r.settle(t, c, up, err) {
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

// settle records an upload's outcome; false means the node is gone.
func (r *crashRun) settle(t *testing.T, c chunk, up *vault.Upload, err error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.inflight, c.facility)
	var p *api.Problem
	if err != nil || up.Status == vault.UploadProcessing {
		if errors.As(err, &p) && p.Status < 500 {
			t.Errorf("upload refused: %v", err)
		}
		t.Logf("upload of %d rows of %s failed (sent again later): %v", len(c.rows), c.facility, err)
		r.queue = append([]chunk{c}, r.queue...)
		r.resent++
		return false
	}
	var again []divocfmt.Certificate
	for _, res := range up.Results {
		i := res.Row - 2
		if i < 0 || i >= len(c.rows) {
			t.Errorf("upload %s: result for row %d of %d", up.ID, res.Row, len(c.rows))
			continue
		}
		switch res.Code {
		case string(app.OK):
			if _, dup := r.acked[res.Certificate]; dup {
				t.Errorf("certificate %s acknowledged twice", res.Certificate)
			}
			r.acked[res.Certificate] = up.Height
			r.maxH = max(r.maxH, up.Height)
		case string(app.CodeDuplicateDose):
			// Recorded by an earlier upload that was lost in a crash
			// before it was acknowledged.
		default:
			t.Errorf("upload %s: row %d refused: %s %s", up.ID, res.Row, res.Code, res.Reason)
			again = append(again, c.rows[i])
		}
	}
	if len(up.Results)+len(up.Errors) < len(c.rows) {
		t.Errorf("upload %s: %d results and %d errors for %d rows", up.ID, len(up.Results), len(up.Errors), len(c.rows))
	}
	if len(again) > 0 {
		r.queue = append([]chunk{{facility: c.facility, rows: again}}, r.queue...)
		r.resent++
		return false
	}
	return true
}

// ledgerAnchors reads a stopped home's blocks and FinalizeBlock responses
// and counts, per certificate, the accepted record events that anchor it.
// It also checks every height's app hash against the next block's header
// and CometBFT's saved state, and returns how many heights it compared.
func ledgerAnchors(t *testing.T, h node.Home) (map[string]int, int) {
	t.Helper()
	in, err := node.Inspect(h)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	anchored, _, err := in.Anchored()
	if err != nil {
		t.Fatal(err)
	}
	top := in.Height()
	hashes, latest, err := in.AppHashes(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for height := int64(1); height < top && height <= latest; height++ {
		next, err := in.Block(height + 1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(next.AppHash, hashes[height]) {
			t.Errorf("height %d: the app's tree has hash %X, block %d's header %X", height, hashes[height], height+1, next.AppHash)
		}
		compared++
	}
	st, err := in.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.LastBlockHeight != latest || !bytes.Equal(st.AppHash, hashes[latest]) {
		t.Errorf("CometBFT's state: height %d app hash %X; the app: height %d hash %s", st.LastBlockHeight, st.AppHash, latest, strings.ToUpper(hex.EncodeToString(hashes[latest])))
	}
	return anchored, compared
}

// THREATS row 22, deterministically: the three states a crash during a
// block's commit can leave on disk are made on copies of a stopped home
// (through CometBFT's own rollback, IAVL's and LevelDB's APIs), for the
// last block that recorded vaccinations, H:
//
//   - the app saved H but CometBFT did not save its state (CometBFT
//     replays H's saved responses to itself);
//   - the app wrote H's index entries but crashed before saving the tree
//     (the app executes H again over an index that already holds H);
//   - the app crashed after FinalizeBlock, before Commit wrote anything.
//
// Each must start with `node.Start` alone, reach H with the app hash the
// first run had (CometBFT refuses to start otherwise), keep H's
// certificates exactly once, refuse H's rows again as duplicates, and go on.
func TestCrashMidCommit(t *testing.T) {
	home := t.TempDir()
	h := node.Home(home)
	if _, err := node.InitLocal(node.LocalOptions{Home: home, Seed: 9, Facilities: 1, Certificates: 60,
		APIListen: "127.0.0.1:0", P2PListen: "tcp://127.0.0.1:0"}); err != nil {
		t.Fatalf("init: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := startNode(ctx, t, h)
	pub := client.New("http://"+n.APIAddr, "")
	reg, err := pub.Registry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fac := facilityOf(t, h, reg.Facilities[0].Code)
	rows := facilityRows(t, h, fac.Code)
	first, last := rows[:len(rows)/2], rows[len(rows)/2:]
	if up, err := uploadRows(ctx, pub, fac, first); err != nil || up.Accepted != len(first) {
		t.Fatalf("first upload: %+v %v", up, err)
	}
	up, err := uploadRows(ctx, pub, fac, last)
	if err != nil || up.Accepted != len(last) {
		t.Fatalf("last upload: %+v %v", up, err)
	}
	H := up.Height
	var certs []string
	for _, r := range up.Results {
		certs = append(certs, r.Certificate)
	}
	snapH, err := n.App.SnapshotAt(H)
	if err != nil {
		t.Fatal(err)
	}
	hashH, totalsH := snapH.AppHash, snapH.Totals()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	for _, sc := range []struct {
		name             string
		rollTree, rollIx bool
	}{
		{"app committed, CometBFT state not saved", false, false},
		{"index written, tree not saved", true, false},
		{"after FinalizeBlock, before Commit", true, true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			crashed := node.Home(t.TempDir())
			copyDir(t, string(h), string(crashed))
			simulateCrash(t, crashed, H, sc.rollTree, sc.rollIx)

			in, err := node.Inspect(crashed)
			if err != nil {
				t.Fatal(err)
			}
			st, err := in.State()
			if err != nil {
				t.Fatal(err)
			}
			_, appH, err := in.AppHashes(H, H)
			in.Close()
			if wantApp := map[bool]int64{true: H - 1, false: H}[sc.rollTree]; err != nil || st.LastBlockHeight != H-1 || appH != wantApp {
				t.Fatalf("crashed home: CometBFT state %d, app %d (%v); want %d and %d", st.LastBlockHeight, appH, err, H-1, wantApp)
			}

			logPath := filepath.Join(crashed.Logs(), "cometbft.log")
			old, _ := os.ReadFile(logPath)
			n := startNode(ctx, t, crashed)
			if b, err := os.ReadFile(logPath); err == nil && len(b) >= len(old) {
				for _, line := range strings.Split(string(b[len(old):]), "\n") {
					if strings.Contains(line, "ABCI Replay Blocks") || strings.Contains(line, "Replay last block") {
						t.Log(strings.TrimSpace(line[strings.Index(line, "]")+1:]))
					}
				}
			}
			if err := n.WaitHeight(ctx, H+1); err != nil {
				t.Fatalf("the chain does not go on past %d: %v", H, err)
			}
			s, err := n.App.SnapshotAt(H)
			if err != nil || !bytes.Equal(s.AppHash, hashH) || s.Totals() != totalsH {
				t.Fatalf("height %d after recovery: %v, hash %X totals %+v; before the crash %X %+v", H, err, s.AppHash, s.Totals(), hashH, totalsH)
			}
			pub := client.New("http://"+n.APIAddr, "")
			adminCl := client.New("http://"+n.APIAddr, n.Service.AdminToken())
			for _, id := range certs[:3] {
				c, err := adminCl.Certificate(ctx, id)
				if err != nil || c.Anchor.Height != H {
					t.Fatalf("certificate %s of block %d: %+v %v", id, H, c, err)
				}
				if v, err := pub.Verify(ctx, c.Credential); err != nil || !v.Valid {
					t.Fatalf("certificate %s does not verify: %+v %v", id, v, err)
				}
			}
			dup, err := uploadRows(ctx, pub, fac, last)
			if err != nil || dup.Accepted != 0 || len(dup.Results) != len(last) || dup.Results[0].Code != string(app.CodeDuplicateDose) {
				t.Fatalf("rows of block %d sent again: %+v %v", H, dup, err)
			}
			if err := n.Stop(); err != nil {
				t.Fatal(err)
			}
			anchored, compared := ledgerAnchors(t, crashed)
			for _, id := range certs {
				if anchored[id] != 1 {
					t.Errorf("certificate %s anchored %d times", id, anchored[id])
				}
			}
			t.Logf("recovered at %d with the same app hash; %d heights' app hashes match their headers", H, compared)
		})
	}
}

// simulateCrash rewrites a stopped home into what a crash while
// committing height H leaves: CometBFT has block H and its FinalizeBlock
// response but its state is at H-1; the app's tree is at H-1 if rollTree,
// else at H; its index holds H's entries unless rollIndex. Blocks after H
// are removed first (their votes are forgotten: the consensus WAL and the
// validator's last-sign state are reset, as a crash at H would have left
// them without those blocks).
func simulateCrash(t *testing.T, h node.Home, H int64, rollTree, rollIndex bool) {
	t.Helper()
	cfg, err := node.LoadCometConfig(h)
	if err != nil {
		t.Fatal(err)
	}
	blockDB, err := cmtdb.NewGoLevelDB("blockstore", cfg.DBDir())
	if err != nil {
		t.Fatal(err)
	}
	stateDB, err := cmtdb.NewGoLevelDB("state", cfg.DBDir())
	if err != nil {
		t.Fatal(err)
	}
	bs := store.NewBlockStore(blockDB)
	ss := sm.NewStore(stateDB, sm.StoreOptions{})
	for bs.Height() > H {
		if _, _, err := sm.Rollback(bs, ss, true); err != nil {
			t.Fatalf("roll back to %d: %v", H, err)
		}
	}
	st, err := ss.Load()
	if err != nil {
		t.Fatal(err)
	}
	if st.LastBlockHeight == H {
		if _, _, err := sm.Rollback(bs, ss, false); err != nil {
			t.Fatal(err)
		}
	}
	// sm.Rollback takes the app version from the consensus params: the
	// genesis must set the version the app reports in Info
	// (abci.AppVersion), or the rolled-back state would not start.
	rolled, err := ss.Load()
	if err != nil {
		t.Fatal(err)
	}
	if rolled.Version.Consensus.App != st.Version.Consensus.App {
		t.Fatalf("rollback changed the app version from %d to %d: the genesis consensus params must carry abci.AppVersion", st.Version.Consensus.App, rolled.Version.Consensus.App)
	}
	if st, _ = ss.Load(); st.LastBlockHeight != H-1 || bs.Height() != H {
		t.Fatalf("CometBFT state at %d, blocks to %d; want %d and %d", st.LastBlockHeight, bs.Height(), H-1, H)
	}
	if _, err := ss.LoadFinalizeBlockResponse(H); err != nil {
		t.Fatalf("no FinalizeBlock response saved for %d: %v", H, err)
	}
	blockDB.Close()
	stateDB.Close()
	if err := os.RemoveAll(filepath.Join(cfg.DBDir(), "cs.wal")); err != nil {
		t.Fatal(err)
	}
	privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile()).Reset()

	// The app's tree, through IAVL.
	treeH := H
	if rollTree {
		treeH = H - 1
	}
	treeDB, err := idb.NewGoLevelDB("state", h.AppData())
	if err != nil {
		t.Fatal(err)
	}
	tree := iavl.NewMutableTree(treeDB, 10_000, false, iavl.NewNopLogger())
	if _, err := tree.Load(); err != nil {
		t.Fatal(err)
	}
	if err := tree.LoadVersionForOverwriting(treeH); err != nil {
		t.Fatalf("roll the tree back to %d: %v", treeH, err)
	}
	treeDB.Close()

	// The app's index. This knows its layout (app/index.go): each value
	// starts with the 8-byte height that wrote it; "m/height" and "m/time"
	// are the height and block time of the last write.
	ixH := H
	if rollIndex {
		ixH = H - 1
	}
	ixDB, err := idb.NewGoLevelDB("index", h.AppData())
	if err != nil {
		t.Fatal(err)
	}
	it, err := ixDB.Iterator(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var drop [][]byte
	wroteH := 0
	for ; it.Valid(); it.Next() {
		if bytes.HasPrefix(it.Key(), []byte("m/")) || len(it.Value()) < 8 {
			continue
		}
		switch wh := int64(binary.BigEndian.Uint64(it.Value()[:8])); {
		case wh > ixH:
			drop = append(drop, bytes.Clone(it.Key()))
		case wh == H:
			wroteH++
		}
	}
	it.Close()
	if !rollIndex && wroteH == 0 {
		t.Fatalf("the index holds no entry written at %d", H)
	}
	for _, k := range drop {
		if err := ixDB.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
	var hb [8]byte
	binary.BigEndian.PutUint64(hb[:], uint64(ixH))
	if err := ixDB.Set([]byte("m/height"), hb[:]); err != nil {
		t.Fatal(err)
	}
	ixDB.Close()
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if d.Name() == "LOCK" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

func adminToken(t *testing.T, h node.Home) string {
	t.Helper()
	b, err := os.ReadFile(h.AdminToken())
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
