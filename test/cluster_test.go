package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/audit"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/gendata"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/localnet"
	"github.com/divoc/divoc/node"
	"github.com/divoc/divoc/vault"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// divocBinary builds cmd/divoc once for the package's tests.
func divocBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			binErr = err
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			binErr = fmt.Errorf("no go command to build the binary: %w", err)
			return
		}
		if binDir, err = os.MkdirTemp("", "divoc-faults-bin-"); err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(binDir, "divoc")
		cmd := exec.Command(goBin, "build", "-o", binPath, "./cmd/divoc")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/divoc: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// freePorts reserves n distinct loopback ports (released before use, as
// every such helper does).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// cluster is a network of `divoc start` processes built with the
// localnet package, each node on its own loopback ports, and what a load
// generator needs to sign uploads as the facilities.
type cluster struct {
	t     *testing.T
	net   *localnet.Network
	chain string
	reg   *api.Registry
	facs  map[string]client.Facility
	rows  map[string][]divocfmt.Certificate // each facility's rows, in file order
	codes []string
	admin []string // each node's operator token
	hc    *http.Client
}

type clusterOptions struct {
	validators, facilities, certificates int
	seed                                 int64
	timeoutCommit                        string
	snapshotInterval                     int64 // 0: the node default
}

func newCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	bin := divocBinary(t)
	dir := t.TempDir()
	ports := freePorts(t, 3*o.validators)
	cfg := localnet.Config{ChainID: "divoc-faults", GovernanceThreshold: (2*o.validators)/3 + 1, TimeoutCommit: o.timeoutCommit,
		Facilities: o.facilities, Certificates: o.certificates, Seed: o.seed, SnapshotInterval: o.snapshotInterval}
	if cfg.GovernanceThreshold > o.validators {
		cfg.GovernanceThreshold = o.validators
	}
	for i := 0; i < o.validators; i++ {
		cfg.Agencies = append(cfg.Agencies, node.Agency{ID: fmt.Sprintf("agency%d", i+1), Name: fmt.Sprintf("Health Agency %d", i+1),
			P2PPort: ports[3*i], RPCPort: ports[3*i+1], APIPort: ports[3*i+2]})
	}
	n, err := localnet.Init(dir, cfg, io.Discard)
	if err != nil {
		t.Fatalf("localnet init: %v", err)
	}
	n.Bin = bin
	c := &cluster{t: t, net: n, facs: map[string]client.Facility{}, rows: map[string][]divocfmt.Certificate{}, hc: &http.Client{Timeout: 3 * time.Second}}
	t.Cleanup(func() {
		for i := range n.Nodes {
			if _, ok := n.Running(i); ok {
				n.Kill(i)
			}
		}
	})
	h := n.Nodes[0].Home
	pk, err := ingest.LoadPseudonymKey(h.PseudonymKey())
	if err != nil {
		t.Fatal(err)
	}
	vf, err := os.Open(filepath.Join(h.Registry(), "vaccinators.csv"))
	if err != nil {
		t.Fatal(err)
	}
	vaccinators, _, err := divocfmt.ParseVaccinatorsCSV(vf)
	vf.Close()
	if err != nil {
		t.Fatal(err)
	}
	ff, err := os.Open(filepath.Join(h.Registry(), "facilities.csv"))
	if err != nil {
		t.Fatal(err)
	}
	facilities, _, err := divocfmt.ParseFacilitiesCSV(ff)
	ff.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range facilities {
		b, err := os.ReadFile(filepath.Join(n.GenData, gendata.FacilityCertificatesFile(f.Code)))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rows, errs, err := divocfmt.ParseBulkCSV(bytes.NewReader(b), divocfmt.CSVOptions{MaxRows: -1})
		if err != nil || len(errs) > 0 {
			t.Fatalf("%s: %v %v", f.Code, errs, err)
		}
		key, err := keys.Load(h.FacilityKey(f.Code))
		if err != nil {
			t.Fatal(err)
		}
		c.facs[f.Code] = client.Facility{Code: f.Code, Key: key, Pseudonym: pk, Vaccinators: vaccinators}
		c.rows[f.Code] = rows
		c.codes = append(c.codes, f.Code)
	}
	for _, nd := range n.Nodes {
		b, err := os.ReadFile(nd.Home.AdminToken())
		if err != nil {
			t.Fatal(err)
		}
		c.admin = append(c.admin, strings.TrimSpace(string(b)))
	}
	return c
}

func (c *cluster) size() int { return len(c.net.Nodes) }

// start starts node i and waits for its API to answer with a committed
// block (which, on a fresh network, needs a quorum of the others).
func (c *cluster) start(i int) {
	c.t.Helper()
	if err := c.net.Start(i, false); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) startAll(ctx context.Context) {
	c.t.Helper()
	for i := range c.net.Nodes {
		c.start(i)
	}
	for i := range c.net.Nodes {
		c.waitReady(ctx, i)
	}
	c.loadRegistry(ctx)
}

// loadRegistry reads what facilities need to derive their events: the
// programs and vaccines on the ledger, and the chain id.
func (c *cluster) loadRegistry(ctx context.Context) {
	c.t.Helper()
	if c.reg != nil {
		return
	}
	cl := client.New(c.net.Nodes[0].API, "")
	reg, err := cl.Registry(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	st, err := cl.Status(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	c.reg, c.chain = reg, st.ChainID
}

func (c *cluster) waitReady(ctx context.Context, i int) {
	c.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := c.net.WaitReady(wctx, i); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) kill(i int) {
	c.t.Helper()
	if err := c.net.Kill(i); err != nil {
		c.t.Fatalf("kill %s: %v", c.net.Nodes[i].Name, err)
	}
}

func (c *cluster) stop(i int) {
	c.t.Helper()
	if err := c.net.Stop(i, 30*time.Second); err != nil {
		c.t.Fatalf("stop %s: %v\n%s", c.net.Nodes[i].Name, err, localnet.Tail(c.net.LogPath(i), 3000))
	}
}

// height is node i's committed height from its API (-1 if it does not
// answer).
func (c *cluster) height(ctx context.Context, i int) int64 {
	st, err := localnet.GetStatus(ctx, c.hc, c.net.Nodes[i].API)
	if err != nil {
		return -1
	}
	return st.Height
}

// waitHeight polls node i until it has committed height h.
func (c *cluster) waitHeight(ctx context.Context, i int, h int64, within time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := time.Now().Add(within)
	for {
		if got := c.height(ctx, i); got >= h {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Since(start), fmt.Errorf("%s did not reach height %d within %s (at %d)", c.net.Nodes[i].Name, h, within, c.height(ctx, i))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// maxHeight is the highest height any of the given nodes reports.
func (c *cluster) maxHeight(ctx context.Context, nodes ...int) int64 {
	var m int64 = -1
	for _, i := range nodes {
		m = max(m, c.height(ctx, i))
	}
	return m
}

// appHashAt is the app hash of state h as node i's own block h+1 carries
// it (CometBFT's RPC): a node stores a block only if its header's app
// hash is the one its own state machine computed.
func (c *cluster) appHashAt(ctx context.Context, i int, h int64) (string, error) {
	url := fmt.Sprintf("%s/block?height=%d", c.net.Nodes[i].RPC, h+1)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Result struct {
			Block struct {
				Header struct {
					AppHash string `json:"app_hash"`
				} `json:"header"`
			} `json:"block"`
		} `json:"result"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	if len(out.Error) > 0 && string(out.Error) != "null" {
		return "", fmt.Errorf("%s: %s", url, out.Error)
	}
	return out.Result.Block.Header.AppHash, nil
}

// agreeAt checks every node has the same app hash for state h.
func (c *cluster) agreeAt(ctx context.Context, h int64) string {
	c.t.Helper()
	var first string
	for i := range c.net.Nodes {
		if _, err := c.waitHeight(ctx, i, h+1, time.Minute); err != nil {
			c.t.Fatal(err)
		}
		hash, err := c.appHashAt(ctx, i, h)
		if err != nil {
			c.t.Fatalf("%s: app hash at %d: %v", c.net.Nodes[i].Name, h, err)
		}
		if i == 0 {
			first = hash
		} else if hash != first {
			c.t.Fatalf("app hashes differ at height %d: %s has %s, %s has %s", h, c.net.Nodes[0].Name, first, c.net.Nodes[i].Name, hash)
		}
	}
	return first
}

// upload signs rows as the facility (the events the node will derive from
// exactly this CSV) and uploads them to one node, waiting for the commit.
func (c *cluster) upload(ctx context.Context, cl *client.Client, f client.Facility, rows []divocfmt.Certificate) (*vault.Upload, error) {
	var buf bytes.Buffer
	if err := divocfmt.WriteBulkCSV(&buf, rows); err != nil {
		return nil, err
	}
	body := buf.Bytes()
	again, _, err := divocfmt.ParseBulkCSV(bytes.NewReader(body), divocfmt.CSVOptions{MaxRows: -1})
	if err != nil {
		return nil, err
	}
	b := ingest.Prepare(f.Code, "", again, ingest.NewCatalog(c.reg.Vaccines, c.reg.Programs, f.Vaccinators).InZone(c.reg.TimezoneOffsetMinutes), f.Pseudonym)
	part, err := b.Sign(c.chain, f.Key, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w %v", err, b.Errors)
	}
	return cl.BulkCertify(ctx, body, "", part.DetachedJWS(), true)
}

// ledgerScan reads a stopped home's blocks and FinalizeBlock responses
// and counts, per certificate, the accepted events anchoring it.
func ledgerScan(t *testing.T, h node.Home) (anchored map[string]int, events int, top int64) {
	t.Helper()
	in, err := node.Inspect(h)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	anchored, events, err = in.Anchored()
	if err != nil {
		t.Fatal(err)
	}
	return anchored, events, in.Height()
}

// replay runs the auditor's replay from genesis on a stopped home.
func replay(ctx context.Context, t *testing.T, h node.Home) *audit.Report {
	t.Helper()
	r, err := audit.Replay(ctx, audit.Options{Home: h})
	if err != nil {
		t.Fatalf("audit replay of %s: %v", h, err)
	}
	if !r.OK() {
		var buf bytes.Buffer
		r.Write(&buf)
		t.Fatalf("audit replay of %s failed:\n%s", h, buf.String())
	}
	return r
}
