package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/localnet"
	"github.com/divoc/divoc/node"
)

// Validator set changes by governance and late-joining nodes, on four
// validator processes under a load of uploads, with a snapshot every 10
// blocks:
//
//	(a) a fifth validator is added by 3 of 4 agencies (proposal and
//	    approvals through three nodes' APIs); its node starts later and
//	    joins by state sync from a snapshot (its block store starts above
//	    height 1), keeps up, signs commits, serves what the snapshot's
//	    index holds, and agrees on the app hash with the four others;
//	(b) an original validator is removed the same way and stopped: the
//	    network goes on, and still goes on with a second original stopped,
//	    which it could only do with the fifth validator's votes;
//	(c) a node started later replays the chain from height 1 (block sync)
//	    and agrees too.
func TestJoinByStateSyncAndGovernance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six node processes (the fault suite)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()
	const every = 10
	c := newCluster(t, clusterOptions{validators: 4, facilities: 8, certificates: 20000, seed: 31, timeoutCommit: "200ms", snapshotInterval: every})
	for _, nd := range c.net.Nodes { // small chunks: the new node fetches several, from several peers
		s, err := node.LoadSettings(nd.Home)
		if err != nil {
			t.Fatal(err)
		}
		s.SnapshotChunkSize = 64 << 10
		if err := node.SaveSettings(nd.Home, s); err != nil {
			t.Fatal(err)
		}
	}
	c.startAll(ctx)
	g := newLoadgen(c, 40)
	stopLoad := g.run(ctx, 1, 100*time.Millisecond) // uploads through nodes 1-4 keep blocks coming
	defer stopLoad()
	orig := []int{0, 1, 2, 3}

	// (a) The fifth agency's node: its home first (for its validator key),
	// then the governance change, then the process.
	ports := freePorts(t, 6)
	n5, err := c.net.AddNode(ctx, localnet.AddOptions{Agency: node.Agency{ID: "agency5", Name: "Health Agency 5", P2PPort: ports[0], RPCPort: ports[1], APIPort: ports[2]}, StateSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const i5 = 4
	stmt, err := os.ReadFile(n5.Home.ValidatorFile())
	if err != nil {
		t.Fatal(err)
	}
	added := govern(ctx, t, c, stmt, 0)
	t.Logf("validator %s added by 3 of 4 agencies at height %d", n5.ValidatorAddress, added)
	waitValidators(ctx, t, c, 0, func(vs map[string]bool) bool { return vs[n5.ValidatorAddress] && len(vs) == 5 }, "node5 in the validator set")

	// A snapshot the new node can restore: taken by the four, with two
	// blocks above it (the light client checks headers H+1 and H+2).
	var snapH int64
	deadline := time.Now().Add(time.Minute)
	for snapH == 0 || c.maxHeight(ctx, orig...) < snapH+2 {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot on node1 within a minute (height %d)", c.maxHeight(ctx, orig...))
		}
		snapH = latestSnapshot(c.net.Nodes[0].Home)
		time.Sleep(100 * time.Millisecond)
	}
	started := time.Now()
	c.start(i5)
	c.waitReady(ctx, i5)
	target := c.maxHeight(ctx, orig...)
	if _, err := c.waitHeight(ctx, i5, target, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Its block store starts above the snapshot's height (state sync
	// stores no earlier block), and its log says so.
	st5 := rpcStatus(ctx, t, c, i5)
	if st5.earliest <= 1 {
		t.Fatalf("node5's first block is %d: it replayed the chain instead of restoring a snapshot", st5.earliest)
	}
	restored := st5.earliest - 1
	log5 := localnet.Tail(filepath.Join(string(n5.Home), "logs", "cometbft.log"), 8<<20)
	if !strings.Contains(log5, "state restored from a snapshot") || !strings.Contains(log5, "Snapshot restored") {
		t.Fatal("node5's log does not say it restored its state from a snapshot")
	}
	chunks := regexp.MustCompile(`restoring a snapshot .*height=(\d+) chunks=(\d+)`).FindAllStringSubmatch(log5, -1)
	if len(chunks) == 0 || chunks[len(chunks)-1][1] != strconv.FormatInt(restored, 10) {
		t.Fatalf("node5's log names no restore of height %d: %v", restored, chunks)
	}
	nchunks, _ := strconv.Atoi(chunks[len(chunks)-1][2])
	if nchunks < 2 {
		t.Fatalf("the snapshot came in %d chunk(s); the test wants several", nchunks)
	}
	t.Logf("node5 restored the snapshot of height %d in %d chunks (node1's newest was %d when it started) and caught up to %d in %s", restored, nchunks, snapH, target, time.Since(started).Round(time.Millisecond))
	if restored%every != 0 {
		t.Fatalf("node5 restored height %d, not a snapshot height (every %d)", restored, every)
	}
	// It keeps up: ten more blocks, and it is there too.
	target = c.maxHeight(ctx, orig...) + 10
	if _, err := c.waitHeight(ctx, i5, target, time.Minute); err != nil {
		t.Fatal(err)
	}
	signed := waitSignature(ctx, t, c, 0, n5.ValidatorAddress, target)
	t.Logf("node5's signature is in the commit of block %d", signed)
	// Its index came with the snapshot: a certificate anchored before the
	// snapshot's height verifies through node5 (the check reads the index).
	checkedOld := false
	for id, a := range g.snapshot() {
		if a.height > restored {
			continue
		}
		cert, err := client.New(c.net.Nodes[a.node].API, c.admin[a.node]).Certificate(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		v, err := client.New(n5.API, "").Verify(ctx, cert.Credential)
		if err != nil || !v.Valid {
			t.Fatalf("certificate %s (height %d) through node5: %+v %v", id, a.height, v, err)
		}
		checkedOld = true
		break
	}
	if !checkedOld {
		t.Fatalf("no certificate acknowledged at or below height %d to check", restored)
	}
	h := c.maxHeight(ctx, 0, 1, 2, 3, i5) - 1
	hash := agreeAmong(ctx, t, c, h, 0, 1, 2, 3, i5)
	t.Logf("the five agree at height %d: %s", h, hash)

	// (b) Remove node4's validator by governance, then stop it.
	v4, err := node.ValidatorOf(c.net.Nodes[3].Home, 0, "agency4")
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := json.Marshal(app.SetValidatorStatement{Validator: v4})
	removed := govern(ctx, t, c, rm, 1)
	waitValidators(ctx, t, c, 0, func(vs map[string]bool) bool { return !vs[v4.Address] && len(vs) == 4 }, "node4 out of the validator set")
	c.stop(3)
	h0 := c.maxHeight(ctx, 0, 1, 2, i5)
	if _, err := c.waitHeight(ctx, 0, h0+3, 30*time.Second); err != nil {
		t.Fatalf("with node4 removed (at %d) and stopped: %v", removed, err)
	}
	// Validators node1, node2, node3 and node5 have 10 each: with node3
	// stopped too, 30 of 40 still commit, which takes node5's votes.
	c.stop(2)
	h1 := c.maxHeight(ctx, 0, 1, i5)
	if _, err := c.waitHeight(ctx, 0, h1+3, 30*time.Second); err != nil {
		t.Fatalf("with node4 removed and node3 stopped, node1, node2 and node5 do not commit: %v", err)
	}
	t.Logf("node4 removed at height %d and stopped; with node3 stopped too, commits went on from %d to %d", removed, h1, c.height(ctx, 0))
	c.start(2)
	c.waitReady(ctx, 2)

	// (c) A node that joins later replays every block (block sync).
	n6, err := c.net.AddNode(ctx, localnet.AddOptions{Agency: node.Agency{ID: "agency6", Name: "Health Agency 6", P2PPort: ports[3], RPCPort: ports[4], APIPort: ports[5]}})
	if err != nil {
		t.Fatal(err)
	}
	const i6 = 5
	started = time.Now()
	c.start(i6)
	c.waitReady(ctx, i6)
	target = c.maxHeight(ctx, 0, 1, 2, i5)
	if _, err := c.waitHeight(ctx, i6, target, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if st := rpcStatus(ctx, t, c, i6); st.earliest != 1 {
		t.Fatalf("node6's first block is %d, want 1 (block sync from genesis)", st.earliest)
	}
	t.Logf("node6 replayed blocks 1 to %d by block sync in %s", target, time.Since(started).Round(time.Millisecond))
	if vs := validators(ctx, t, c, i6); vs[n6.ValidatorAddress] || len(vs) != 4 {
		t.Fatalf("validators seen by node6: %v", vs)
	}
	stopLoad()
	h = c.maxHeight(ctx, 0, 1, 2, i5, i6) - 1
	hash = agreeAmong(ctx, t, c, h, 0, 1, 2, i5, i6)
	for _, p := range g.problems() {
		t.Error(p)
	}
	// Every node took its snapshots without a failure, and node5 refused
	// none of what it was offered.
	for _, nd := range c.net.Nodes {
		log := localnet.Tail(filepath.Join(string(nd.Home), "logs", "cometbft.log"), 8<<20)
		for _, bad := range []string{"snapshot failed", "snapshot not taken", "snapshot refused", "snapshot chunk refused", "State sync failed"} {
			if strings.Contains(log, bad) {
				t.Errorf("%s's log: %q", nd.Name, bad)
			}
		}
		if nd.Name != "node6" && !strings.Contains(log, "snapshot taken") {
			t.Errorf("%s took no snapshot", nd.Name)
		}
	}
	t.Logf("node1, node2, node3, node5 and node6 agree at height %d (%s); %d rows acknowledged; whole test %s", h, hash, g.acks.Load(), time.Since(began).Round(time.Second))
}

// govern proposes a validator.set/v1 change through node `from` and has
// the next two agencies approve it through their own nodes: it applies
// at the third (threshold 3 of 4), not before. It returns the height.
func govern(ctx context.Context, t *testing.T, c *cluster, stmt []byte, from int) int64 {
	t.Helper()
	res, err := client.New(c.net.Nodes[from].API, c.admin[from]).Propose(ctx, app.KindSetValidator, json.RawMessage(stmt))
	if err != nil || res.Status != app.ProposalPending || res.Threshold != 3 {
		t.Fatalf("proposal through %s: %+v %v", c.net.Nodes[from].Name, res, err)
	}
	var got = res
	for k := 1; k <= 2; k++ {
		i := (from + k) % 4
		got, err = client.New(c.net.Nodes[i].API, c.admin[i]).Approve(ctx, res.Proposal)
		want := map[int]string{1: app.ProposalPending, 2: app.ProposalApplied}[k]
		if err != nil || got.Status != want {
			t.Fatalf("approval %d through %s: %+v %v; want %s", k, c.net.Nodes[i].Name, got, err, want)
		}
	}
	return got.Height
}

// rpc reads a CometBFT RPC result from node i.
func rpc(ctx context.Context, t *testing.T, c *cluster, i int, path string, out any) error {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.net.Nodes[i].RPC+path, nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return err
	}
	if len(env.Error) > 0 && string(env.Error) != "null" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Result, out)
}

type nodeStatus struct{ earliest, latest int64 }

func rpcStatus(ctx context.Context, t *testing.T, c *cluster, i int) nodeStatus {
	t.Helper()
	var out struct {
		SyncInfo struct {
			Earliest string `json:"earliest_block_height"`
			Latest   string `json:"latest_block_height"`
		} `json:"sync_info"`
	}
	if err := rpc(ctx, t, c, i, "/status", &out); err != nil {
		t.Fatalf("%s /status: %v", c.net.Nodes[i].Name, err)
	}
	e, _ := strconv.ParseInt(out.SyncInfo.Earliest, 10, 64)
	l, _ := strconv.ParseInt(out.SyncInfo.Latest, 10, 64)
	return nodeStatus{e, l}
}

// validators is the validator set at node i's latest height.
func validators(ctx context.Context, t *testing.T, c *cluster, i int) map[string]bool {
	t.Helper()
	var out struct {
		Validators []struct {
			Address string `json:"address"`
		} `json:"validators"`
	}
	if err := rpc(ctx, t, c, i, "/validators?per_page=100", &out); err != nil {
		t.Fatalf("%s /validators: %v", c.net.Nodes[i].Name, err)
	}
	vs := map[string]bool{}
	for _, v := range out.Validators {
		vs[v.Address] = true
	}
	return vs
}

func waitValidators(ctx context.Context, t *testing.T, c *cluster, i int, ok func(map[string]bool) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		vs := validators(ctx, t, c, i)
		if ok(vs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s (validators %v)", what, vs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSignature finds a commit, from height `from` on, that carries the
// validator's signature (as node i stores it), and returns its height.
func waitSignature(ctx context.Context, t *testing.T, c *cluster, i int, addr string, from int64) int64 {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for h := from; ; {
		if time.Now().After(deadline) {
			t.Fatalf("no commit from %d to %d carries %s's signature", from, h, addr)
		}
		if c.height(ctx, i) <= h {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var out struct {
			SignedHeader struct {
				Commit struct {
					Signatures []struct {
						Flag    int    `json:"block_id_flag"`
						Address string `json:"validator_address"`
					} `json:"signatures"`
				} `json:"commit"`
			} `json:"signed_header"`
		}
		if err := rpc(ctx, t, c, i, fmt.Sprintf("/commit?height=%d", h), &out); err != nil {
			t.Fatal(err)
		}
		for _, s := range out.SignedHeader.Commit.Signatures {
			if s.Address == addr && s.Flag == 2 { // BlockIDFlagCommit
				return h
			}
		}
		h++
	}
}

// agreeAmong checks the given nodes have the same app hash for state h.
func agreeAmong(ctx context.Context, t *testing.T, c *cluster, h int64, nodes ...int) string {
	t.Helper()
	var first string
	for k, i := range nodes {
		if _, err := c.waitHeight(ctx, i, h+1, time.Minute); err != nil {
			t.Fatal(err)
		}
		hash, err := c.appHashAt(ctx, i, h)
		if err != nil {
			t.Fatalf("%s: app hash at %d: %v", c.net.Nodes[i].Name, h, err)
		}
		if k == 0 {
			first = hash
		} else if hash != first {
			t.Fatalf("app hashes differ at height %d: %s has %s, %s has %s", h, c.net.Nodes[nodes[0]].Name, first, c.net.Nodes[i].Name, hash)
		}
	}
	return first
}

// latestSnapshot is the height of the newest snapshot in a home (0: none).
func latestSnapshot(h node.Home) int64 {
	ents, _ := os.ReadDir(filepath.Join(h.AppData(), "snapshots"))
	var top int64
	for _, e := range ents {
		if n, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && len(e.Name()) == 20 {
			if _, err := os.Stat(filepath.Join(h.AppData(), "snapshots", e.Name(), "snapshot.json")); err == nil {
				top = max(top, n)
			}
		}
	}
	return top
}
