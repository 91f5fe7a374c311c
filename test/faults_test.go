// Package faults holds the end-to-end fault tests: validator processes
// (`divoc start`, built from this repository) killed, paused and
// restarted under load, and after each fault the checks that nothing
// acknowledged was lost or recorded twice and that the ledger replays
// from genesis. See docs/RELIABILITY.md for the figures and commands.
package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/localnet"
	"github.com/divoc/divoc/node"
	"github.com/divoc/divoc/receipt"
)

// pauseFor is how long scenario 2 keeps a validator stopped (SIGSTOP).
// The issue asks for 30 s, and so does the suite (DIVOC_FAULTS_PAUSE=5s
// shortens it).
func pauseFor() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("DIVOC_FAULTS_PAUSE")); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

// figure is one line of the report: what was acknowledged and found after
// a fault, and how long the network took to recover.
type figure struct {
	scenario     string
	acked, found int
	recover      time.Duration
	note         string
}

type report struct {
	mu   sync.Mutex
	rows []figure
}

func (r *report) add(t *testing.T, f figure) {
	t.Helper()
	r.mu.Lock()
	r.rows = append(r.rows, f)
	r.mu.Unlock()
	t.Logf("%s: %d rows acknowledged, %d found on the ledger exactly once, recovered in %s; %s", f.scenario, f.acked, f.found, f.recover.Round(10*time.Millisecond), f.note)
}

// write appends the figures as Markdown table rows to $DIVOC_FAULTS_REPORT.
func (r *report) write(t *testing.T) {
	path := os.Getenv("DIVOC_FAULTS_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Log(err)
		return
	}
	defer f.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.rows {
		fmt.Fprintf(f, "| %s | %d | %d | %s | %s |\n", x.scenario, x.acked, x.found, x.recover.Round(10*time.Millisecond), x.note)
	}
}

// checkpoint checks the network after a fault: every acknowledged
// certificate not yet checked verifies (through another node than the
// one that issued it); then node `audited` is stopped cleanly, its ledger
// is read (every acknowledged row it has committed is anchored exactly
// once, and no certificate twice) and replayed from genesis by the
// auditor, and it is started again and catches up.
func checkpoint(ctx context.Context, t *testing.T, c *cluster, g *loadgen, audited int) (checked, found int, note string) {
	t.Helper()
	up := make([]bool, c.size())
	for i := range up {
		up[i] = true
	}
	verified := g.verifyNew(ctx, t, up)
	c.stop(audited)
	anchored, events, top := ledgerScan(t, c.net.Nodes[audited].Home)
	acked := g.snapshot()
	for id, n := range anchored {
		if n != 1 {
			t.Errorf("certificate %s is anchored %d times on %s's ledger", id, n, c.net.Nodes[audited].Name)
		}
	}
	for id, a := range acked {
		if a.height > top {
			continue // committed after this node stopped; checked later
		}
		checked++
		if anchored[id] != 1 {
			t.Errorf("certificate %s acknowledged by %s at height %d is anchored %d times on %s's ledger (height %d)",
				id, c.net.Nodes[a.node].Name, a.height, anchored[id], c.net.Nodes[audited].Name, top)
			continue
		}
		found++
	}
	r := replay(ctx, t, c.net.Nodes[audited].Home)
	c.start(audited)
	c.waitReady(ctx, audited)
	others := c.maxHeight(ctx, otherNodes(c, audited)...)
	if _, err := c.waitHeight(ctx, audited, others, time.Minute); err != nil {
		t.Fatal(err)
	}
	return checked, found, fmt.Sprintf("%d rows acknowledged in all; %d certificates verified through another node; %s stopped at %d: %d events on its ledger, replay of %d blocks passed (%.0f events/s)",
		len(acked), verified, c.net.Nodes[audited].Name, top, events, r.Blocks, r.EventsPerSecond)
}

func otherNodes(c *cluster, except ...int) []int {
	var out []int
	for i := 0; i < c.size(); i++ {
		skip := false
		for _, e := range except {
			skip = skip || i == e
		}
		if !skip {
			out = append(out, i)
		}
	}
	return out
}

// Four validators, each its own `divoc start` process, under a load of
// signed uploads through all four APIs; then, in turn: one validator
// killed and restarted; one paused (SIGSTOP) and continued; two killed
// (no quorum) and restarted; all four killed at once and restarted. After
// each: the acknowledged rows are on the ledger once each and verify, a
// node's ledger replays from genesis, and at the end all four agree.
func TestFaultsFourValidators(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four validator processes and kills them (the fault suite; see docs/RELIABILITY.md)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	began := time.Now()
	c := newCluster(t, clusterOptions{validators: 4, facilities: 12, certificates: 60000, seed: 21, timeoutCommit: "200ms"})
	c.startAll(ctx)
	t.Logf("four validators up in %s", time.Since(began).Round(time.Millisecond))
	// `divoc localnet status` sees the four processes and their heights.
	out, err := exec.Command(divocBinary(t), "localnet", "status", "--json", "--dir", c.net.Dir).Output()
	if err != nil {
		t.Fatalf("divoc localnet status: %v", err)
	}
	var sts []localnet.NodeStatus
	if err := json.Unmarshal(out, &sts); err != nil || len(sts) != 4 {
		t.Fatalf("divoc localnet status --json: %v\n%s", err, out)
	}
	for _, st := range sts {
		if !st.Running || st.Height < 1 || len(st.AppHash) != 64 {
			t.Fatalf("divoc localnet status: %+v", st)
		}
	}
	rep := &report{}
	defer rep.write(t)
	governThreeOfFour(ctx, t, c)

	g := newLoadgen(c, 40)
	stopLoad := g.run(ctx, 1, 50*time.Millisecond)
	defer stopLoad()
	if _, err := g.waitAcks(ctx, 0, 200, time.Minute); err != nil {
		t.Fatal(err)
	}
	all := []int{0, 1, 2, 3}

	t.Run("kill one validator", func(t *testing.T) {
		c.t = t
		h0 := c.maxHeight(ctx, all...)
		c.kill(3)
		// The other three keep committing, and keep acknowledging.
		if _, err := c.waitHeight(ctx, 0, h0+3, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := g.waitAcks(ctx, g.acks.Load(), 100, 30*time.Second); err != nil {
			t.Fatalf("after killing node4: %v", err)
		}
		target := c.maxHeight(ctx, 0, 1, 2)
		restarted := time.Now()
		c.start(3)
		c.waitReady(ctx, 3)
		if _, err := c.waitHeight(ctx, 3, target, time.Minute); err != nil {
			t.Fatal(err)
		}
		recover := time.Since(restarted)
		hash := c.agreeAt(ctx, target)
		checked, found, note := checkpoint(ctx, t, c, g, 3)
		rep.add(t, figure{"1. kill -9 one validator, restart", checked, found, recover,
			fmt.Sprintf("3 validators went on from %d; node4 caught up to %d in %s; app hashes agree at %d (%s...); %s", h0, target, recover.Round(10*time.Millisecond), target, hash[:12], note)})
	})

	t.Run("pause one validator", func(t *testing.T) {
		c.t = t
		pause := pauseFor()
		h0 := c.maxHeight(ctx, all...)
		if err := c.net.Pause(2); err != nil {
			t.Fatal(err)
		}
		paused := time.Now()
		// While it is stopped the other three commit: the pause lasts
		// `pause`, and commits are checked during it.
		if _, err := c.waitHeight(ctx, 0, h0+3, pause+20*time.Second); err != nil {
			c.net.Resume(2)
			t.Fatal(err)
		}
		for time.Since(paused) < pause && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
		target := c.maxHeight(ctx, 0, 1, 3)
		if err := c.net.Resume(2); err != nil {
			t.Fatal(err)
		}
		resumed := time.Now()
		if _, err := c.waitHeight(ctx, 2, target, time.Minute); err != nil {
			t.Fatal(err)
		}
		recover := time.Since(resumed)
		hash := c.agreeAt(ctx, target)
		checked, found, note := checkpoint(ctx, t, c, g, 2)
		rep.add(t, figure{fmt.Sprintf("2. SIGSTOP one validator %s, SIGCONT", pause), checked, found, recover,
			fmt.Sprintf("3 validators went from %d to %d during the pause; node3 caught up in %s; app hashes agree at %d (%s...); %s", h0, target, recover.Round(10*time.Millisecond), target, hash[:12], note)})
	})

	t.Run("kill two validators", func(t *testing.T) {
		c.t = t
		c.kill(0)
		c.kill(1)
		// Without a quorum the two left stop committing: wait until their
		// heights hold still for 2 s, then watch for 3 s more.
		var hStop int64 = -1
		stableSince := time.Now()
		deadline := time.Now().Add(30 * time.Second)
		for time.Since(stableSince) < 2*time.Second {
			if h := c.maxHeight(ctx, 2, 3); h != hStop {
				hStop, stableSince = h, time.Now()
			}
			if time.Now().After(deadline) {
				t.Fatalf("commits did not stop within 30 s of losing two of four validators (height %d)", hStop)
			}
			time.Sleep(50 * time.Millisecond)
		}
		watched := time.Now()
		for time.Since(watched) < 3*time.Second {
			for _, i := range []int{2, 3} {
				if h := c.height(ctx, i); h > hStop {
					t.Fatalf("%s reports height %d without a quorum (stopped at %d)", c.net.Nodes[i].Name, h, hStop)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		// No node reported a commit it did not make: nothing was
		// acknowledged beyond the last height. (An answer for a block
		// committed before the quorum was lost may still arrive late.)
		late := len(g.acksAfter(stableSince))
		for _, a := range g.snapshot() {
			if a.height > hStop {
				t.Errorf("%s acknowledged a row at height %d, beyond the last commit %d", c.net.Nodes[a.node].Name, a.height, hStop)
			}
		}
		before := g.acks.Load()
		restarted := time.Now()
		c.start(0)
		c.start(1)
		c.waitReady(ctx, 0)
		c.waitReady(ctx, 1)
		if _, err := c.waitHeight(ctx, 2, hStop+2, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := g.waitAcks(ctx, before, 20, 2*time.Minute); err != nil {
			t.Fatalf("after restoring the quorum: %v", err)
		}
		recover := time.Since(restarted)
		target := c.maxHeight(ctx, all...)
		for _, i := range []int{0, 1} {
			if _, err := c.waitHeight(ctx, i, target, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		hash := c.agreeAt(ctx, target)
		checked, found, note := checkpoint(ctx, t, c, g, 1)
		rep.add(t, figure{"3. kill -9 two validators (no quorum), restart", checked, found, recover,
			fmt.Sprintf("commits stopped at %d and nothing was acknowledged beyond it (%d late answers for commits up to it); restarted, commits resumed in %s; app hashes agree at %d (%s...); %s", hStop, late, recover.Round(10*time.Millisecond), target, hash[:12], note)})
	})

	t.Run("restart all four", func(t *testing.T) {
		c.t = t
		h0 := c.maxHeight(ctx, all...)
		var wg sync.WaitGroup
		for i := range all {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c.net.Kill(i)
			}(i)
		}
		wg.Wait()
		before := g.acks.Load()
		restarted := time.Now()
		for _, i := range all {
			c.start(i)
		}
		for _, i := range all {
			c.waitReady(ctx, i)
		}
		if _, err := c.waitHeight(ctx, 0, h0+2, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := g.waitAcks(ctx, before, 20, time.Minute); err != nil {
			t.Fatalf("after the power cut: %v", err)
		}
		recover := time.Since(restarted)
		target := c.maxHeight(ctx, all...)
		hash := c.agreeAt(ctx, target)
		checked, found, note := checkpoint(ctx, t, c, g, 0)
		rep.add(t, figure{"4. kill -9 all four at once, restart", checked, found, recover,
			fmt.Sprintf("killed at about %d; commits resumed in %s; app hashes agree at %d (%s...); %s", h0, recover.Round(10*time.Millisecond), target, hash[:12], note)})
	})

	// Issue 7 on the network: status receipts fetched from any node verify
	// offline against the validator set pinned from genesis, and match the
	// credential read from the node that issued it.
	t.Run("status receipts from every node", func(t *testing.T) {
		c.t = t
		checkReceipts(ctx, t, c, g, 12)
	})

	c.t = t
	stopLoad()
	for _, p := range g.problems() {
		t.Error(p)
	}
	if t.Failed() {
		return
	}
	// The end: every node stopped cleanly; every acknowledged row on the
	// ledger once; all four homes hold the same app hash at the same
	// height; the last audit replays a whole home again.
	up := []bool{true, true, true, true}
	verified := g.verifyNew(ctx, t, up)
	if err := c.net.StopAll(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	acked := g.snapshot()
	anchored, events, top := ledgerScan(t, c.net.Nodes[2].Home)
	found := 0
	for id := range acked {
		if anchored[id] == 1 {
			found++
		} else {
			t.Errorf("acknowledged certificate %s is anchored %d times", id, anchored[id])
		}
	}
	// Stopped all at once, the nodes may have saved different last
	// heights (the others commit a block while one is shutting down):
	// compare at the highest height all four have.
	appHashes := func(i int, h int64) (map[int64][]byte, int64) {
		in, err := node.Inspect(c.net.Nodes[i].Home)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		hs, latest, err := in.AppHashes(h, h)
		if err != nil {
			t.Fatal(err)
		}
		return hs, latest
	}
	common := top
	for i := range all {
		_, latest := appHashes(i, 1)
		common = min(common, latest)
	}
	if common < g.maxAckHeight() {
		t.Errorf("a node stopped at %d, below the last acknowledged height %d", common, g.maxAckHeight())
	}
	var hashes []string
	for i := range all {
		hs, _ := appHashes(i, common)
		hashes = append(hashes, fmt.Sprintf("%X", hs[common]))
	}
	for i := 1; i < len(hashes); i++ {
		if hashes[i] != hashes[0] || len(hashes[i]) != 64 {
			t.Errorf("at height %d node%d has app hash %s, node1 %s", common, i+1, hashes[i], hashes[0])
		}
	}
	r := replay(ctx, t, c.net.Nodes[2].Home)
	rep.add(t, figure{"end: all four stopped cleanly", len(acked), found, 0,
		fmt.Sprintf("%d events on the ledger (%d rows sent again after a failure came back as duplicates, %d uploads resent); %d more certificates verified; the four homes agree at %d; replay of node3's %d blocks passed at %.0f events/s; whole test %s",
			events, g.dups, g.resent, verified, common, r.Blocks, r.EventsPerSecond, time.Since(began).Round(time.Second))})
}

// A single-validator network whose `divoc start` is killed with SIGKILL in
// the middle of ingest ten times in a row, restarted each time on the same
// home: every acknowledged row survives, once, and verifies, and the ledger
// replays from genesis.
func TestFaultsSingleNodeKilledTenTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a validator process ten times (the fault suite; see docs/RELIABILITY.md)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	began := time.Now()
	c := newCluster(t, clusterOptions{validators: 1, facilities: 6, certificates: 30000, seed: 22, timeoutCommit: "100ms"})
	rep := &report{}
	defer rep.write(t)
	g := newLoadgen(c, 20)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	var recoveries []time.Duration
	var heights []string
	for round := 1; round <= 10; round++ {
		started := time.Now()
		c.start(0)
		c.waitReady(ctx, 0)
		c.loadRegistry(ctx)
		recoveries = append(recoveries, time.Since(started))
		st, err := client.New(c.net.Nodes[0].API, "").Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Height < g.maxH || st.Totals.EventsAccepted < g.acks.Load() {
			t.Fatalf("start %d: height %d and %d events accepted, but %d rows were acknowledged up to height %d", round, st.Height, st.Totals.EventsAccepted, g.acks.Load(), g.maxH)
		}
		before := g.acks.Load()
		stop := g.run(ctx, 3, 0)
		if _, err := g.waitAcks(ctx, before, 40, 30*time.Second); err != nil {
			stop()
			t.Fatalf("round %d: %v", round, err)
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond) // a random moment in the middle of ingest
		c.kill(0)
		stop()
		heights = append(heights, fmt.Sprint(c.net.Nodes[0].Name, "@", st.Height))
	}
	started := time.Now()
	c.start(0)
	c.waitReady(ctx, 0)
	recoveries = append(recoveries, time.Since(started))
	verified := g.verifyNew(ctx, t, []bool{true})
	c.stop(0)
	for _, p := range g.problems() {
		t.Error(p)
	}
	acked := g.snapshot()
	anchored, events, top := ledgerScan(t, c.net.Nodes[0].Home)
	found := 0
	for id, n := range anchored {
		if n != 1 {
			t.Errorf("certificate %s is anchored %d times", id, n)
		}
	}
	for id := range acked {
		if anchored[id] == 1 {
			found++
		} else {
			t.Errorf("acknowledged certificate %s is anchored %d times", id, anchored[id])
		}
	}
	r := replay(ctx, t, c.net.Nodes[0].Home)
	// The auditor's command says the same, with exit status 0.
	cmd := exec.Command(divocBinary(t), "audit", "replay", "--json", "--home", string(c.net.Nodes[0].Home))
	out, err := cmd.Output()
	var cli struct {
		MismatchCount  int   `json:"mismatch_count"`
		EventsAccepted int64 `json:"events_accepted"`
	}
	if err != nil || json.Unmarshal(out, &cli) != nil || cli.MismatchCount != 0 || cli.EventsAccepted != r.EventsAccepted {
		t.Fatalf("divoc audit replay: %v %+v\n%s", err, cli, out)
	}
	var worst time.Duration
	var parts []string
	for _, d := range recoveries {
		worst = max(worst, d)
		parts = append(parts, d.Round(10*time.Millisecond).String())
	}
	rep.add(t, figure{"5. single validator killed -9 mid-ingest 10 times", len(acked), found, worst,
		fmt.Sprintf("killed at %s; restarts took %s (kill delays seeded %d); %d verified; %d events on the ledger at height %d (%d duplicate rows from lost answers, %d uploads resent); replay of %d blocks passed at %.0f events/s; whole test %s",
			strings.Join(heights, ", "), strings.Join(parts, ", "), seed, verified, events, top, g.dups, g.resent, r.Blocks, r.EventsPerSecond, time.Since(began).Round(time.Second))})
}

// governThreeOfFour closes an eligibility phase and opens it again, each
// change proposed by one agency through its own node and approved by two
// others through theirs: it applies at the third approval (threshold 3 of
// 4), not before, and every node then shows it.
func governThreeOfFour(ctx context.Context, t *testing.T, c *cluster) {
	t.Helper()
	phaseOpen := func(i int) bool {
		progs, err := client.New(c.net.Nodes[i].API, "").Registry(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range progs.Programs {
			for _, ph := range p.Phases {
				if p.ID == "C19" && ph.ID == "phase-2" {
					return ph.Open
				}
			}
		}
		t.Fatal("no phase C19/phase-2")
		return false
	}
	for _, open := range []bool{false, true} {
		proposer := map[bool]int{false: 0, true: 3}[open]
		res, err := client.New(c.net.Nodes[proposer].API, c.admin[proposer]).SetPhase(ctx, "C19", "phase-2", open)
		if err != nil || res.Status != app.ProposalPending || res.Threshold != 3 || len(res.Approvals) != 1 {
			t.Fatalf("proposal by %s: %+v %v", c.net.Nodes[proposer].Name, res, err)
		}
		for k, approver := range []int{(proposer + 1) % 4, (proposer + 2) % 4} {
			got, err := client.New(c.net.Nodes[approver].API, c.admin[approver]).Approve(ctx, res.Proposal)
			want := map[int]string{0: app.ProposalPending, 1: app.ProposalApplied}[k]
			if err != nil || got.Status != want {
				t.Fatalf("approval %d by %s: %+v %v; want %s", k+1, c.net.Nodes[approver].Name, got, err, want)
			}
			if k == 0 && phaseOpen(approver) == open {
				t.Fatalf("the change applied with 2 of 3 approvals")
			}
			if k == 1 {
				if _, err := c.waitHeight(ctx, 0, got.Height, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := 0; i < 4; i++ {
			if _, err := c.waitHeight(ctx, i, c.maxHeight(ctx, 0, 1, 2, 3), time.Minute); err != nil {
				t.Fatal(err)
			}
			if phaseOpen(i) != open {
				t.Fatalf("%s does not show phase-2 open=%v after 3 of 4 approvals", c.net.Nodes[i].Name, open)
			}
		}
	}
	t.Log("governance: closing and reopening an eligibility phase each took 3 agencies' approvals through 3 different nodes")
}

// checkReceipts takes up to n acknowledged certificates and, for each,
// fetches a status receipt from a node other than the one that issued it
// and verifies it offline, with the validator set pinned from the genesis
// file, against the credential the issuing node serves.
func checkReceipts(ctx context.Context, t *testing.T, c *cluster, g *loadgen, n int) {
	t.Helper()
	gen, err := os.ReadFile(node.Home(c.net.Nodes[0].Home).Genesis())
	if err != nil {
		t.Fatal(err)
	}
	trust, err := receipt.ParseTrust(gen)
	if err != nil {
		t.Fatalf("pinning the validators from genesis: %v", err)
	}
	acked := g.snapshot()
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		t.Fatal("no acknowledged certificates")
	}
	ids = ids[:min(n, len(ids))]
	hc := &http.Client{Timeout: 30 * time.Second}
	for k, id := range ids {
		a := acked[id]
		from := (a.node + 1 + k%(c.size()-1)) % c.size()
		if _, err := c.waitHeight(ctx, from, a.height, time.Minute); err != nil { // it may lag behind the acknowledging node
			t.Fatal(err)
		}
		url := fmt.Sprintf("%s/v1/certificates/%s/status?proof=true", c.net.Nodes[from].API, id)
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
		}
		r, err := receipt.Parse(body)
		if err != nil {
			t.Fatalf("receipt of %s from %s: %v", id, c.net.Nodes[from].Name, err)
		}
		res, err := receipt.Verify(r, *trust, receipt.Policy{MaxAge: time.Hour})
		if err != nil {
			t.Fatalf("receipt of %s from %s does not verify: %v", id, c.net.Nodes[from].Name, err)
		}
		if !res.Active() {
			t.Errorf("receipt of %s from %s: not active", id, c.net.Nodes[from].Name)
		}
		cert, err := client.New(c.net.Nodes[a.node].API, c.admin[a.node]).Certificate(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.CheckCredential([]byte(cert.Credential)); err != nil {
			t.Errorf("receipt of %s from %s does not match the credential %s served: %v", id, c.net.Nodes[from].Name, c.net.Nodes[a.node].Name, err)
		}
		// The same receipt with the certificate's credential of another
		// certificate must not match.
		other := ids[(k+1)%len(ids)]
		if other != id {
			oc, err := client.New(c.net.Nodes[acked[other].node].API, c.admin[acked[other].node]).Certificate(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			if res.CheckCredential([]byte(oc.Credential)) == nil {
				t.Errorf("receipt of %s accepted the credential of %s", id, other)
			}
		}
	}
	t.Logf("%d status receipts fetched from a node other than the issuer verified offline against the validators pinned from genesis", len(ids))
}
