package app

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"
)

// Two validators executing the same blocks reach the same app hash, and a
// different decision (here: a different dose) changes it.
func TestSameBlocksSameAppHash(t *testing.T) {
	a, b := newTestChain(t), newTestChain(t)
	var blocks [][][]byte
	for i := 0; i < 3; i++ {
		blocks = append(blocks, [][]byte{a.record("DEL010", []Event{a.event("r"+string(rune('a'+i)), 1), a.event("r"+string(rune('a'+i)), 2)}, true)})
	}
	for _, txs := range blocks {
		a.block(txs...)
		b.height++
		b.now = a.now
		if _, _, err := b.app.FinalizeBlock(Block{Height: b.height, Time: b.now, Txs: txs}); err != nil {
			t.Fatal(err)
		}
		if err := b.app.Commit(); err != nil {
			t.Fatal(err)
		}
		ha, hb := a.app.Committed().AppHash, b.app.Committed().AppHash
		if !bytes.Equal(ha, hb) {
			t.Fatalf("height %d: app hashes differ: %X vs %X", a.height, ha, hb)
		}
	}
	before := a.app.Committed().AppHash
	a.block(a.record("DEL010", []Event{a.event("z", 1)}, true))
	if bytes.Equal(before, a.app.Committed().AppHash) {
		t.Fatal("a block with an accepted event did not change the app hash")
	}
}

func TestRestartKeepsStateAndHash(t *testing.T) {
	tc := newTestChain(t)
	res := tc.block(tc.record("DEL010", []Event{tc.event("a", 1)}, true))
	cert := res[0].Items[0].Certificate
	h, hash := tc.app.Info()
	if err := tc.app.Close(); err != nil {
		t.Fatal(err)
	}
	tc.open()
	h2, hash2 := tc.app.Info()
	if h2 != h || !bytes.Equal(hash, hash2) || tc.app.ChainID() != tc.chain {
		t.Fatalf("after restart: height %d hash %X chain %q; before %d %X", h2, hash2, tc.app.ChainID(), h, hash)
	}
	if rec, _ := tc.app.Certificate(tc.app.Committed(), cert); rec == nil {
		t.Fatal("certificate lost on restart")
	}
	// Duplicate detection survives the restart.
	r := tc.block(tc.record("DEL010", []Event{tc.event("a", 1)}, true))[0]
	if r.Items[0].Code != CodeDuplicateDose {
		t.Fatalf("after restart: %+v", r.Items[0])
	}
}

// threat 22: a crash after the index was written but before the tree was
// saved. The block is executed again on restart; it must not see its own
// index entries (its events would all look like duplicates) and must reach
// the same app hash.
func TestCrashBetweenIndexAndTreeReplaysBlock(t *testing.T) {
	tc := newTestChain(t)
	txs := [][]byte{tc.record("DEL010", []Event{tc.event("a", 1), tc.event("b", 1)}, true)}
	tc.height++
	tc.now = tc.now.Add(time.Minute)
	res1, hash1, err := tc.app.FinalizeBlock(Block{Height: tc.height, Time: tc.now, Txs: txs})
	if err != nil {
		t.Fatal(err)
	}
	// Commit's first step only, then "crash".
	p := tc.app.pending
	if err := tc.app.ix.write(p.height, p.time, p.blk.ixKeys, p.blk.ixValues); err != nil {
		t.Fatal(err)
	}
	tc.app.Close()
	tc.open()
	if h, _ := tc.app.Info(); h != tc.height-1 {
		t.Fatalf("state height after crash %d, want %d", h, tc.height-1)
	}
	res2, hash2, err := tc.app.FinalizeBlock(Block{Height: tc.height, Time: tc.now, Txs: txs})
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.app.Commit(); err != nil {
		t.Fatal(err)
	}
	j1, _ := json.Marshal(res1)
	j2, _ := json.Marshal(res2)
	if !bytes.Equal(hash1, hash2) || !bytes.Equal(j1, j2) {
		t.Fatalf("replayed block differs:\n%s\n%s", j1, j2)
	}
}

func TestGenesisValidation(t *testing.T) {
	good := testGenesis(seedKey("g"), seedKey("i"), map[string]ed25519.PrivateKey{"DEL010": seedKey("1"), "BLR311": seedKey("2"), "SUS001": seedKey("3")})
	if err := good.Validate(); err != nil {
		t.Fatalf("valid genesis refused: %v", err)
	}
	cases := map[string]func(g *Genesis){
		"vaccinator at unknown facility": func(g *Genesis) { g.Vaccinators[0].Facilities = []string{"NOPE"} },
		"program with unknown vaccine":   func(g *Genesis) { g.Programs[0].Vaccines = append(g.Programs[0].Vaccines, "NOPE") },
		"duplicate facility":             func(g *Genesis) { g.Facilities = append(g.Facilities, g.Facilities[0]) },
		"no issuer key":                  func(g *Genesis) { g.Authorities[0].Keys = g.Authorities[0].Keys[:1] },
		"zero batch size":                func(g *Genesis) { g.Params.MaxEventsPerTx = 0 },
		"duplicate key":                  func(g *Genesis) { g.Facilities[1].Keys = g.Facilities[0].Keys },
	}
	for name, mod := range cases {
		g := testGenesis(seedKey("g"), seedKey("i"), map[string]ed25519.PrivateKey{"DEL010": seedKey("1"), "BLR311": seedKey("2"), "SUS001": seedKey("3")})
		mod(&g)
		if err := g.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeTx(f *testing.F) {
	tc := newTestChain(f)
	f.Add(tc.record("DEL010", []Event{tc.event("a", 1)}, true))
	f.Add([]byte(`{"kind":"certificate.revoke/v1","parts":[{"protected":"e30","payload":"e30","signature":"AA"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, e := DecodeTx(raw, 1<<20)
		if e != nil {
			if e.Code == "" || e.Reason == "" {
				t.Fatalf("rejection without code or reason: %+v", e)
			}
			return
		}
		if !bytes.Equal(tx.Encode(), raw) {
			t.Fatalf("accepted a non-canonical transaction")
		}
		_, _ = decodeBody(tx)
	})
}
