package audit_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cmtdb "github.com/cometbft/cometbft-db"
	idb "github.com/cosmos/iavl/db"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/audit"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/gendata"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/node"
)

// ledger is a stopped single-node home with a few uploads, a revocation
// and a correction, shared by the tests (each tampers with its own copy).
type ledger struct {
	home      node.Home
	rows      int
	lastBatch int64 // the last height with a record transaction
	cert      string
}

var shared *ledger

func buildLedger(t *testing.T) *ledger {
	t.Helper()
	if shared != nil {
		return shared
	}
	dir, err := os.MkdirTemp("", "divoc-audit-test-")
	if err != nil {
		t.Fatal(err)
	}
	home := node.Home(dir)
	if _, err := node.InitLocal(node.LocalOptions{Home: dir, Seed: 11, Facilities: 2, Certificates: 160,
		APIListen: "127.0.0.1:0", P2PListen: "tcp://127.0.0.1:0"}); err != nil {
		t.Fatalf("init: %v", err)
	}
	n, err := node.Start(home)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.WaitHeight(ctx, 1); err != nil {
		n.Stop()
		t.Fatal(err)
	}
	base := "http://" + n.APIAddr
	pub := client.New(base, "")
	pk, err := ingest.LoadPseudonymKey(home.PseudonymKey())
	if err != nil {
		t.Fatal(err)
	}
	vf, err := os.Open(filepath.Join(home.Registry(), "vaccinators.csv"))
	if err != nil {
		t.Fatal(err)
	}
	vaccinators, _, _ := divocfmt.ParseVaccinatorsCSV(vf)
	vf.Close()
	reg, err := pub.Registry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := &ledger{home: home}
	var certs []string
	for _, f := range reg.Facilities {
		body, err := os.ReadFile(filepath.Join(dir, "gen-data", gendata.FacilityCertificatesFile(f.Code)))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		key, err := keys.Load(home.FacilityKey(f.Code))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := pub.SubmitCSV(ctx, client.Facility{Code: f.Code, Key: key, Pseudonym: pk, Vaccinators: vaccinators}, body, client.SubmitOptions{ChunkRows: 40})
		if err != nil {
			n.Stop()
			t.Fatalf("submit %s: %v", f.Code, err)
		}
		if rep.Accepted != rep.Rows {
			n.Stop()
			t.Fatalf("submit %s: %d of %d rows accepted: %+v", f.Code, rep.Accepted, rep.Rows, rep.Results)
		}
		l.rows += rep.Accepted
		for _, r := range rep.Results {
			certs = append(certs, r.Certificate)
		}
	}
	admin := client.New(base, n.Service.AdminToken())
	if _, err := admin.Revoke(ctx, certs[0], "issued_in_error"); err != nil {
		n.Stop()
		t.Fatalf("revoke: %v", err)
	}
	if _, err := admin.Correct(ctx, certs[1], api.Correction{Reason: "data_correction", Name: "Asha Kumari"}); err != nil {
		n.Stop()
		t.Fatalf("correct: %v", err)
	}
	l.cert = certs[2]
	c, err := pub.Certificate(ctx, certs[len(certs)-1])
	if err != nil {
		n.Stop()
		t.Fatal(err)
	}
	l.lastBatch = c.Anchor.Height
	if err := n.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	shared = l
	return l
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		os.RemoveAll(string(shared.home))
	}
	os.Exit(code)
}

func replay(t *testing.T, h node.Home) *audit.Report {
	t.Helper()
	r, err := audit.Replay(context.Background(), audit.Options{Home: h})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	var buf bytes.Buffer
	r.Write(&buf)
	t.Log("\n" + buf.String())
	return r
}

// An untouched ledger replays from genesis with every check passing, and
// the report counts what it holds.
func TestReplayPasses(t *testing.T) {
	l := buildLedger(t)
	r := replay(t, l.home)
	if !r.OK() {
		t.Fatalf("replay of an untouched ledger: %d mismatches, first %v", r.MismatchCount, r.First())
	}
	if r.EventsAccepted != int64(l.rows) || r.Certificates != int64(l.rows)+1 || r.Revocations != 1 || r.Supersessions != 1 {
		t.Errorf("report counts %d events, %d certificates, %d revocations, %d supersessions; want %d, %d, 1, 1",
			r.EventsAccepted, r.Certificates, r.Revocations, r.Supersessions, l.rows, l.rows+1)
	}
	if r.TxsByKind[app.KindRecord] == 0 || r.TxsByKind[app.KindRevoke] != 1 || r.TxsByKind[app.KindSupersede] != 1 {
		t.Errorf("transactions by kind: %v", r.TxsByKind)
	}
	if r.CommitsVerified < int(r.Blocks)-1 || r.AppHashesChecked != int(r.Blocks) || r.StateKeys == 0 || r.IndexEntries < l.rows {
		t.Errorf("checks: %d commits, %d app hashes for %d blocks; %d state keys, %d index entries", r.CommitsVerified, r.AppHashesChecked, r.Blocks, r.StateKeys, r.IndexEntries)
	}
	if r.EventsPerSecond <= 0 {
		t.Errorf("replay speed %f", r.EventsPerSecond)
	}
}

// One byte of a transaction in a stored block, changed through the block
// store's database: the block no longer matches its header, and the replay
// of that height gives another app hash than the one the validators signed
// in the next header. Both name the block.
func TestTamperedBlock(t *testing.T) {
	l := buildLedger(t)
	h := copyHome(t, l.home)
	H := l.lastBatch

	in, err := node.Inspect(h)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := in.Block(H)
	in.Close()
	if err != nil || len(blk.Txs) == 0 {
		t.Fatalf("block %d: %v", H, err)
	}
	tx := []byte(blk.Txs[0])
	cfg, err := node.LoadCometConfig(h)
	if err != nil {
		t.Fatal(err)
	}
	db, err := cmtdb.NewGoLevelDB("blockstore", cfg.DBDir())
	if err != nil {
		t.Fatal(err)
	}
	flipped := false
	for part := 0; !flipped; part++ {
		key := []byte("P:" + itoa(H) + ":" + itoa(int64(part)))
		raw, err := db.Get(key)
		if err != nil || raw == nil {
			break
		}
		// A base64url character in the middle of the facility's signed
		// payload becomes another one: the proto still decodes.
		mid := len(tx) / 2
		at := bytes.Index(raw, tx[mid:mid+24])
		if at < 0 {
			continue
		}
		raw = bytes.Clone(raw)
		raw[at] = otherB64(raw[at])
		if err := db.Set(key, raw); err != nil {
			t.Fatal(err)
		}
		flipped = true
	}
	db.Close()
	if !flipped {
		t.Fatalf("the middle of block %d's first transaction is not in one stored part", H)
	}

	r := replay(t, h)
	if r.OK() {
		t.Fatal("the replay of a tampered block passed")
	}
	f := r.First()
	if f.Height != H {
		t.Fatalf("first mismatch %v, want height %d", f, H)
	}
	var sawBlock, sawApp bool
	for _, m := range r.Mismatches {
		if m.Height == H && m.Check == "block" && strings.Contains(m.Detail, "DataHash") {
			sawBlock = true
		}
		if m.Height == H && m.Check == "app_hash" {
			sawApp = true
		}
	}
	if !sawBlock || !sawApp {
		t.Fatalf("want a block (data hash) and an app_hash mismatch at %d: %v", H, r.Mismatches)
	}
}

// One byte of a leaf of the stored IAVL tree (the batch commitment written
// at height H), changed in its database: the tree's saved root hash does
// not change (IAVL stores it), but the replay compares every key and
// names this one, with the height that wrote it.
func TestTamperedState(t *testing.T) {
	l := buildLedger(t)
	h := copyHome(t, l.home)
	H := l.lastBatch
	key := app.BatchKey(H, 0)

	db, err := idb.NewGoLevelDB("state", h.AppData())
	if err != nil {
		t.Fatal(err)
	}
	it, err := db.Iterator(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var nodeKey, nodeVal []byte
	for ; it.Valid(); it.Next() {
		// IAVL's node entries ('s' + version + nonce) hold the leaf's key
		// and value; fast-node entries ('f' + key) are a copy it keeps for
		// reads and are left alone.
		if k := it.Key(); len(k) > 0 && k[0] == 's' && bytes.Contains(it.Value(), []byte(key)) && bytes.Contains(it.Value(), []byte(`"root":"`)) {
			nodeKey, nodeVal = bytes.Clone(k), bytes.Clone(it.Value())
		}
	}
	it.Close()
	if nodeKey == nil {
		db.Close()
		t.Fatalf("no IAVL node holds %s", key)
	}
	at := bytes.Index(nodeVal, []byte(`"root":"`))
	if at < 0 {
		db.Close()
		t.Fatalf("the leaf of %s has no root: %q", key, nodeVal)
	}
	at += len(`"root":"`) + 5
	nodeVal[at] = otherHex(nodeVal[at])
	if err := db.Set(nodeKey, nodeVal); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r := replay(t, h)
	if r.OK() {
		t.Fatal("the replay of a home with a tampered state passed")
	}
	f := r.First()
	if f.Check != "state" || f.Key != key || f.Height != H {
		t.Fatalf("first mismatch %v, want state key %s written at %d", f, key, H)
	}
	if r.MismatchCount != 1 {
		t.Errorf("%d mismatches for one byte: %v", r.MismatchCount, r.Mismatches)
	}
}

// One byte of an index entry (a certificate's record), changed in the
// index's database: the replay names the entry and the height that wrote
// it.
func TestTamperedIndex(t *testing.T) {
	l := buildLedger(t)
	h := copyHome(t, l.home)
	db, err := idb.NewGoLevelDB("index", h.AppData())
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("c/" + l.cert)
	v, err := db.Get(key)
	if err != nil || len(v) < 9 {
		db.Close()
		t.Fatalf("index entry %s: %q %v", key, v, err)
	}
	wrote := int64(binary.BigEndian.Uint64(v[:8]))
	v = bytes.Clone(v)
	at := bytes.Index(v, []byte(`"hash":"`)) + len(`"hash":"`) + 3
	v[at] = otherHex(v[at])
	if err := db.Set(key, v); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r := replay(t, h)
	if r.OK() {
		t.Fatal("the replay of a home with a tampered index passed")
	}
	f := r.First()
	if f.Check != "index" || f.Key != string(key) || f.Height != wrote {
		t.Fatalf("first mismatch %v, want index key %s written at %d", f, key, wrote)
	}
	if r.MismatchCount != 1 {
		t.Errorf("%d mismatches for one byte: %v", r.MismatchCount, r.Mismatches)
	}
}

// A home whose block store was pruned cannot be replayed from genesis:
// the replay says so instead of reporting a pass.
func TestReplayNeedsABlockStore(t *testing.T) {
	if _, err := audit.Replay(context.Background(), audit.Options{Home: node.Home(t.TempDir())}); err == nil {
		t.Fatal("replay of an empty directory did not fail")
	}
}

func copyHome(t *testing.T, src node.Home) node.Home {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(string(src), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(string(src), p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if rel == "vault" {
				return filepath.SkipDir // personal data is not needed to audit
			}
			return os.MkdirAll(target, 0o755)
		}
		if d.Name() == "LOCK" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return node.Home(dst)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func otherB64(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

func otherHex(c byte) byte {
	if c == '0' {
		return '1'
	}
	return '0'
}
