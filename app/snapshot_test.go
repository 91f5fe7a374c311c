package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// snapSource is a chain that takes snapshots, with what a second node
// needs to execute the same blocks: each height's transactions, time and
// resulting app hash.
type snapSource struct {
	tc     *testChain
	txs    map[int64][][]byte
	times  map[int64]time.Time
	hashes map[int64][]byte
	certs  map[int64][]string // certificates anchored at each height
}

// newSnapSource runs blocks 2..top on a chain that snapshots every
// `every` heights in chunks of chunkSize bytes. The blocks record new
// doses, repeat earlier ones (refused by the index: duplicates), and
// correct a certificate, so that the index matters to later blocks.
func newSnapSource(t testing.TB, every int64, chunkSize int, top int64) *snapSource {
	t.Helper()
	tc := newTestChain(t)
	tc.app.opts.SnapshotInterval, tc.app.opts.SnapshotChunkSize = every, chunkSize
	s := &snapSource{tc: tc, txs: map[int64][][]byte{}, times: map[int64]time.Time{}, hashes: map[int64][]byte{}, certs: map[int64][]string{}}
	s.hashes[1] = tc.app.Committed().AppHash
	for h := int64(2); h <= top; h++ {
		var txs [][]byte
		evs := []Event{tc.event(fmt.Sprintf("r%da", h), 1), tc.event(fmt.Sprintf("r%db", h), 1)}
		if h > 3 {
			evs = append(evs, tc.event(fmt.Sprintf("r%da", h-2), 1)) // a duplicate: the index refuses it
		}
		txs = append(txs, tc.record("DEL010", evs, true))
		if h == 5 {
			corr := Correction{Commitment: hexOf("fixed"), New: Anchor{Certificate: "corrected0005", Hash: hexOf("new credential")}, Old: s.certs[2][0], Reason: "data_correction"}
			txs = append(txs, tc.tx(KindSupersede, tc.part(TypSupersede, tc.issuer, SupersedeStatement{Corrections: []Correction{corr}, Issuer: "moh"})))
		}
		res := tc.block(txs...)
		tc.app.WaitSnapshots() // one at a time: a snapshot due while one is being written is skipped
		s.txs[h], s.times[h], s.hashes[h] = txs, tc.now, tc.app.Committed().AppHash
		for _, r := range res {
			for _, it := range r.Items {
				if it.Code == OK && it.Certificate != "" {
					s.certs[h] = append(s.certs[h], it.Certificate)
				}
			}
		}
		if h > 3 && res[0].Items[2].Code != CodeDuplicateDose {
			t.Fatalf("height %d: the repeated dose was %s", h, res[0].Items[2].Code)
		}
	}
	tc.app.WaitSnapshots()
	return s
}

// snapshot returns the source's snapshot of height h and its chunks.
func (s *snapSource) snapshot(t testing.TB, h uint64) (SnapshotInfo, [][]byte) {
	t.Helper()
	list, err := s.tc.app.ListSnapshots()
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range list {
		if info.Height == h {
			var chunks [][]byte
			for i := uint32(0); i < info.Chunks; i++ {
				c, err := s.tc.app.LoadSnapshotChunk(h, info.Format, i)
				if err != nil || c == nil {
					t.Fatalf("chunk %d of %d: %v", i, h, err)
				}
				chunks = append(chunks, c)
			}
			return info, chunks
		}
	}
	t.Fatalf("no snapshot of height %d (have %v)", h, heightsOf(list))
	return SnapshotInfo{}, nil
}

func heightsOf(list []SnapshotInfo) []string {
	var out []string
	for _, s := range list {
		out = append(out, fmt.Sprintf("%d:%X", s.Height, s.Hash[:4]))
	}
	return out
}

func openEmpty(t testing.TB) *App {
	t.Helper()
	a, err := Open(Options{Dir: t.TempDir(), CacheSize: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// restoreAll offers a snapshot and applies its chunks in order, failing
// the test on any refusal.
func restoreAll(t testing.TB, a *App, info SnapshotInfo, chunks [][]byte, appHash []byte) {
	t.Helper()
	if res, err := a.OfferSnapshot(info, appHash); res != OfferAccept {
		t.Fatalf("offer: %s %v", res, err)
	}
	for i, c := range chunks {
		if out := a.ApplySnapshotChunk(uint32(i), c, "peer"); out.Result != ChunkAccept {
			t.Fatalf("chunk %d: %s %v", i, out.Result, out.Err)
		}
	}
}

// A node restored from the snapshot of height 4 has the source's state
// at 4 (app hash, chain, index entries up to 4 and none after), executes
// blocks 5..9 to the same app hashes as the source (its index refuses the
// same duplicates), survives a restart, and takes a snapshot of height 8
// identical to the source's.
func TestSnapshotRestoreContinuesLikeTheSource(t *testing.T) {
	src := newSnapSource(t, 4, 700, 9)
	list, err := src.tc.app.ListSnapshots()
	if err != nil || len(list) != 2 || list[0].Height != 8 || list[1].Height != 4 {
		t.Fatalf("snapshots kept: %v %v (want 8 and 4: every 4 heights, the last 2)", heightsOf(list), err)
	}
	info, chunks := src.snapshot(t, 4)
	if len(chunks) < 3 {
		t.Fatalf("a snapshot in 700-byte chunks has %d chunks", len(chunks))
	}
	for _, c := range chunks[:len(chunks)-1] {
		if len(c) != 700 {
			t.Fatalf("chunk of %d bytes, not 700", len(c))
		}
	}

	a := openEmpty(t)
	a.opts.SnapshotInterval, a.opts.SnapshotChunkSize = 4, 700
	restoreAll(t, a, info, chunks, src.hashes[4])
	if h, hash := a.Info(); h != 4 || !bytes.Equal(hash, src.hashes[4]) || a.ChainID() != src.tc.chain {
		t.Fatalf("restored: height %d hash %X chain %q; want 4 %X %q", h, hash, a.ChainID(), src.hashes[4], src.tc.chain)
	}
	s := a.Committed()
	if rec, _ := a.Certificate(s, src.certs[3][0]); rec == nil || rec.Anchor.Height != 3 {
		t.Fatalf("certificate of height 3 after the restore: %+v", rec)
	}
	later, _ := src.tc.app.Certificate(src.tc.app.Committed(), src.certs[6][0])
	if later == nil {
		t.Fatal("the source lost a certificate")
	}
	if ixh, _ := a.ix.height(); ixh != 4 {
		t.Fatalf("index height %d", ixh)
	}
	it, _ := a.ix.db.Iterator(nil, nil)
	for ; it.Valid(); it.Next() {
		if v := it.Value(); !strings.HasPrefix(string(it.Key()), ixMeta) && int64(binary.BigEndian.Uint64(v[:8])) > 4 {
			t.Fatalf("index entry %s of height %d in a snapshot of 4", it.Key(), binary.BigEndian.Uint64(v[:8]))
		}
	}
	it.Close()
	var srcJournal, gotJournal []int64
	src.tc.app.Journal(src.tc.app.Committed(), 1, 4, func(h int64, _ []BlockEvent) bool { srcJournal = append(srcJournal, h); return true })
	a.Journal(s, 1, 4, func(h int64, _ []BlockEvent) bool { gotJournal = append(gotJournal, h); return true })
	if fmt.Sprint(srcJournal) != fmt.Sprint(gotJournal) || len(gotJournal) != 3 {
		t.Fatalf("journal heights: source %v, restored %v", srcJournal, gotJournal)
	}

	for h := int64(5); h <= 9; h++ {
		if _, _, err := a.FinalizeBlock(Block{Height: h, Time: src.times[h], Txs: src.txs[h]}); err != nil {
			t.Fatal(err)
		}
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := a.Committed().AppHash; !bytes.Equal(got, src.hashes[h]) {
			t.Fatalf("height %d: restored node's app hash %X, source's %X", h, got, src.hashes[h])
		}
	}
	a.WaitSnapshots()
	mine, _ := a.ListSnapshots()
	theirs, _ := src.snapshot(t, 8)
	if len(mine) != 1 || mine[0].Height != 8 || !bytes.Equal(mine[0].Hash, theirs.Hash) || !bytes.Equal(mine[0].Metadata, theirs.Metadata) {
		t.Fatalf("restored node's snapshot of 8 differs from the source's: %v vs %X", heightsOf(mine), theirs.Hash)
	}

	dir := a.opts.Dir
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if h, hash := b.Info(); h != 9 || !bytes.Equal(hash, src.hashes[9]) {
		t.Fatalf("after a restart: %d %X", h, hash)
	}
}

// Two nodes that executed the same blocks write the same snapshot, byte
// for byte.
func TestSnapshotsAreDeterministic(t *testing.T) {
	a := newSnapSource(t, 3, 1000, 6)
	b := newSnapSource(t, 3, 1000, 6)
	for _, h := range []uint64{3, 6} {
		ia, ca := a.snapshot(t, h)
		ib, cb := b.snapshot(t, h)
		if !bytes.Equal(ia.Hash, ib.Hash) || len(ca) != len(cb) {
			t.Fatalf("height %d: snapshots differ: %X vs %X", h, ia.Hash, ib.Hash)
		}
	}
}

// stream joins a snapshot's chunks.
func stream(chunks [][]byte) []byte { return bytes.Join(chunks, nil) }

// forge cuts a stream into chunks and describes them, as a (possibly
// dishonest) peer would, with the given app hash in the metadata.
func forge(data []byte, size int, height uint64, appHash []byte) (SnapshotInfo, [][]byte) {
	var chunks [][]byte
	var hashes []string
	for off := 0; off < len(data); off += size {
		c := data[off:min(off+size, len(data))]
		sum := sha256.Sum256(c)
		chunks, hashes = append(chunks, c), append(hashes, hex.EncodeToString(sum[:]))
	}
	meta, _ := json.Marshal(snapshotMeta{AppHash: hex.EncodeToString(appHash), ChunkHashes: hashes, Height: height, Size: int64(len(data))})
	sum := sha256.Sum256(meta)
	return SnapshotInfo{Height: height, Format: SnapshotFormat, Chunks: uint32(len(chunks)), Hash: sum[:], Metadata: meta}, chunks
}

// records decodes a whole stream.
func records(t testing.TB, data []byte) []*snapRecord {
	t.Helper()
	var d snapDecoder
	var out []*snapRecord
	if err := d.feed(data, func(r *snapRecord) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := d.finish(); err != nil {
		t.Fatal(err)
	}
	return out
}

func encode(recs []*snapRecord) []byte {
	b := append([]byte(nil), snapshotMagic...)
	for _, r := range recs {
		b = appendRecord(b, r)
	}
	return b
}

// Every kind of bad snapshot is refused with the result that lets
// CometBFT go on (another chunk, peer or snapshot), never a panic; and
// the node then restores a good snapshot.
func TestSnapshotRejections(t *testing.T) {
	src := newSnapSource(t, 4, 400, 4)
	good, goodChunks := src.snapshot(t, 4)
	trusted := src.hashes[4]
	data := stream(goodChunks)
	recs := records(t, data)

	tamper := func(f func(recs []*snapRecord) []*snapRecord) []byte {
		cp := make([]*snapRecord, len(recs))
		for i, r := range recs {
			c := *r
			cp[i] = &c
		}
		return encode(f(cp))
	}
	withLeaves := func(f func(r *snapRecord)) []byte {
		return tamper(func(rs []*snapRecord) []*snapRecord {
			for _, r := range rs {
				if r.kind == recIndex && strings.HasPrefix(string(r.key), ixLeaves) {
					r.value = bytes.Clone(r.value)
					f(r)
					break
				}
			}
			return rs
		})
	}

	type step struct {
		index uint32
		chunk []byte
	}
	cases := []struct {
		name    string
		info    func() SnapshotInfo
		trusted []byte
		offer   OfferResult
		steps   func(info SnapshotInfo, chunks [][]byte) []step
		chunks  func() (SnapshotInfo, [][]byte)
		want    ChunkResult // of the last step
	}{
		{name: "wrong format", info: func() SnapshotInfo { s := good; s.Format = 2; return s }, offer: OfferRejectFormat},
		{name: "hash is not the metadata's", info: func() SnapshotInfo { s := good; s.Hash = bytes.Repeat([]byte{1}, 32); return s }, offer: OfferReject},
		{name: "garbage metadata", info: func() SnapshotInfo {
			s := good
			s.Metadata = []byte("{not json")
			sum := sha256.Sum256(s.Metadata)
			s.Hash = sum[:]
			return s
		}, offer: OfferReject},
		{name: "metadata not canonical", info: func() SnapshotInfo {
			s := good
			s.Metadata = append([]byte(" "), good.Metadata...)
			sum := sha256.Sum256(s.Metadata)
			s.Hash = sum[:]
			return s
		}, offer: OfferReject},
		{name: "chunk count differs from the metadata", info: func() SnapshotInfo { s := good; s.Chunks++; return s }, offer: OfferReject},
		{name: "height differs from the metadata", info: func() SnapshotInfo { s := good; s.Height = 3; return s }, offer: OfferReject},
		{name: "app hash differs from the trusted one", info: func() SnapshotInfo { return good }, trusted: src.hashes[3], offer: OfferReject},
		{name: "chunk with a flipped byte", chunks: func() (SnapshotInfo, [][]byte) { return good, goodChunks },
			steps: func(_ SnapshotInfo, c [][]byte) []step {
				bad := bytes.Clone(c[0])
				bad[len(bad)/2] ^= 1
				return []step{{0, bad}}
			}, want: ChunkRetry},
		{name: "chunk out of order", chunks: func() (SnapshotInfo, [][]byte) { return good, goodChunks },
			steps: func(_ SnapshotInfo, c [][]byte) []step { return []step{{1, c[1]}} }, want: ChunkRetrySnapshot},
		{name: "chunk index beyond the snapshot", chunks: func() (SnapshotInfo, [][]byte) { return good, goodChunks },
			steps: func(info SnapshotInfo, c [][]byte) []step { return []step{{info.Chunks, c[0]}} }, want: ChunkRejectSnapshot},
		{name: "garbage chunk listed in forged metadata", chunks: func() (SnapshotInfo, [][]byte) {
			return forge(append(bytes.Clone(data[:100]), bytes.Repeat([]byte{0xee}, 900)...), 400, 4, trusted)
		}, want: ChunkRejectSnapshot},
		{name: "not a snapshot at all", chunks: func() (SnapshotInfo, [][]byte) { return forge([]byte("PK\x03\x04 a zip file"), 400, 4, trusted) }, want: ChunkRejectSnapshot},
		{name: "truncated stream", chunks: func() (SnapshotInfo, [][]byte) { return forge(data[:len(data)-1], 400, 4, trusted) }, want: ChunkRejectSnapshot},
		{name: "bytes after the end", chunks: func() (SnapshotInfo, [][]byte) { return forge(append(bytes.Clone(data), 'E', 0), 400, 4, trusted) }, want: ChunkRejectSnapshot},
		{name: "a tree that is not the trusted one", chunks: func() (SnapshotInfo, [][]byte) {
			return forge(tamper(func(rs []*snapRecord) []*snapRecord {
				for _, r := range rs {
					if r.kind == recNode && r.node.Height == 0 && string(r.node.Key) == kChain {
						r.node.Value = []byte("another-chain")
					}
				}
				return rs
			}), 400, 4, trusted)
		}, want: ChunkRejectSnapshot},
		{name: "inner node keyed wrongly (not covered by the root hash)", chunks: func() (SnapshotInfo, [][]byte) {
			return forge(tamper(func(rs []*snapRecord) []*snapRecord {
				for _, r := range rs {
					if r.kind == recNode && r.node.Height > 0 {
						r.node.Key = []byte("a")
						break
					}
				}
				return rs
			}), 400, 4, trusted)
		}, want: ChunkRejectSnapshot},
		{name: "batch leaves that do not hash to the batch root", chunks: func() (SnapshotInfo, [][]byte) {
			return forge(withLeaves(func(r *snapRecord) { r.value[len(r.value)-1] ^= 1 }), 400, 4, trusted)
		}, want: ChunkRejectSnapshot},
		{name: "index entry from after the snapshot's height", chunks: func() (SnapshotInfo, [][]byte) {
			return forge(withLeaves(func(r *snapRecord) { binary.BigEndian.PutUint64(r.value[:8], 5) }), 400, 4, trusted)
		}, want: ChunkRejectSnapshot},
		{name: "index entries out of order", chunks: func() (SnapshotInfo, [][]byte) {
			return forge(tamper(func(rs []*snapRecord) []*snapRecord {
				for i := range rs {
					if rs[i].kind == recIndex && rs[i+1].kind == recIndex {
						rs[i], rs[i+1] = rs[i+1], rs[i]
						break
					}
				}
				return rs
			}), 400, 4, trusted)
		}, want: ChunkRejectSnapshot},
		{name: "the index's own height in the stream", chunks: func() (SnapshotInfo, [][]byte) {
			return forge(tamper(func(rs []*snapRecord) []*snapRecord {
				end := rs[len(rs)-1]
				return append(rs[:len(rs)-1], &snapRecord{kind: recIndex, key: []byte(ixHeight), value: make([]byte, 8)}, &snapRecord{kind: recEnd, count: end.count + 1})
			}), 400, 4, trusted)
		}, want: ChunkRejectSnapshot},
		{name: "header of another height", chunks: func() (SnapshotInfo, [][]byte) {
			return forge(tamper(func(rs []*snapRecord) []*snapRecord { rs[0].height = 3; return rs }), 400, 4, trusted)
		}, want: ChunkRejectSnapshot},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := openEmpty(t)
			info, chunks := good, goodChunks
			if tc.info != nil {
				info = tc.info()
			}
			if tc.chunks != nil {
				info, chunks = tc.chunks()
			}
			tr := trusted
			if tc.trusted != nil {
				tr = tc.trusted
			}
			want := tc.offer
			if want == 0 {
				want = OfferAccept
			}
			res, err := a.OfferSnapshot(info, tr)
			if res != want {
				t.Fatalf("offer: %s (%v), want %s", res, err, want)
			}
			if res == OfferAccept {
				var steps []step
				if tc.steps != nil {
					steps = tc.steps(info, chunks)
				} else {
					for i, c := range chunks {
						steps = append(steps, step{uint32(i), c})
					}
				}
				var out ChunkOutcome
				for i, s := range steps {
					out = a.ApplySnapshotChunk(s.index, s.chunk, "peer1")
					if i < len(steps)-1 && out.Result != ChunkAccept && out.Result != tc.want {
						t.Fatalf("chunk %d: %s %v", s.index, out.Result, out.Err)
					}
					if out.Result != ChunkAccept {
						break
					}
				}
				if out.Result != tc.want || out.Err == nil {
					t.Fatalf("got %s (%v), want %s", out.Result, out.Err, tc.want)
				}
				if out.Result == ChunkRetry && (fmt.Sprint(out.Refetch) != "[0]" || fmt.Sprint(out.RejectSenders) != "[peer1]") {
					t.Fatalf("a bad chunk: refetch %v, reject senders %v", out.Refetch, out.RejectSenders)
				}
				if h, _ := a.Info(); h != 0 {
					t.Fatalf("a refused snapshot left the node at height %d", h)
				}
			} else if err == nil {
				t.Fatal("a refused offer without a reason")
			}
			// The node then restores the good snapshot (a bad chunk is
			// fetched again within the same restore).
			if tc.want == ChunkRetry {
				for i, c := range goodChunks {
					if out := a.ApplySnapshotChunk(uint32(i), c, "peer2"); out.Result != ChunkAccept {
						t.Fatalf("good chunk %d after a bad one: %s %v", i, out.Result, out.Err)
					}
				}
			} else {
				restoreAll(t, a, good, goodChunks, trusted)
			}
			if h, hash := a.Info(); h != 4 || !bytes.Equal(hash, trusted) {
				t.Fatalf("after the good snapshot: %d %X", h, hash)
			}
		})
	}

	t.Run("node with state", func(t *testing.T) {
		if res, err := src.tc.app.OfferSnapshot(good, trusted); res != OfferAbort || err == nil {
			t.Fatalf("offer to a node with state: %s %v", res, err)
		}
	})
	t.Run("chunk without an offer", func(t *testing.T) {
		if out := openEmpty(t).ApplySnapshotChunk(0, goodChunks[0], ""); out.Result != ChunkAbort {
			t.Fatalf("%s %v", out.Result, out.Err)
		}
	})
}

// A restore interrupted by a crash is wiped when the node opens again.
func TestInterruptedRestoreIsWiped(t *testing.T) {
	src := newSnapSource(t, 4, 300, 4)
	info, chunks := src.snapshot(t, 4)
	dir := t.TempDir()
	a, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := a.OfferSnapshot(info, src.hashes[4]); res != OfferAccept {
		t.Fatal(res, err)
	}
	for i := range chunks[:len(chunks)-1] {
		if out := a.ApplySnapshotChunk(uint32(i), chunks[i], ""); out.Result != ChunkAccept {
			t.Fatal(out.Result, out.Err)
		}
	}
	a.Close()
	if _, err := os.Stat(filepath.Join(dir, restoringMarker)); err != nil {
		t.Fatal("no marker of the unfinished restore")
	}
	b, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("open after an interrupted restore: %v", err)
	}
	defer b.Close()
	if h, _ := b.Info(); h != 0 || b.tree.Version() != 0 {
		t.Fatalf("an interrupted restore left height %d, tree version %d", h, b.tree.Version())
	}
	restoreAll(t, b, info, chunks, src.hashes[4])
}

// FuzzSnapshotDecoder feeds arbitrary bytes, cut at an arbitrary point, to
// the chunk decoder: it must not panic; cut or not, it must decide the
// same; and what it accepts must encode back to the same bytes.
func FuzzSnapshotDecoder(f *testing.F) {
	src := newSnapSource(f, 3, 1<<20, 3)
	_, chunks := src.snapshot(f, 3)
	data := stream(chunks)
	f.Add(data, uint16(0))
	f.Add(data, uint16(len(data)/2))
	f.Add(data[:len(data)/3], uint16(7))
	f.Add(append([]byte(nil), snapshotMagic...), uint16(3))
	f.Add(append(append([]byte(nil), snapshotMagic...), 'H', 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), uint16(20))
	f.Add(append(append([]byte(nil), snapshotMagic...), 'H', 1, 0, 'N', 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f), uint16(18))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		decode := func(parts ...[]byte) ([]*snapRecord, error) {
			var d snapDecoder
			var recs []*snapRecord
			for _, p := range parts {
				if err := d.feed(p, func(r *snapRecord) error { recs = append(recs, r); return nil }); err != nil {
					return recs, err
				}
			}
			return recs, d.finish()
		}
		c := int(cut) % (len(data) + 1)
		whole, errWhole := decode(data)
		split, errSplit := decode(data[:c], data[c:])
		if (errWhole == nil) != (errSplit == nil) || len(whole) != len(split) {
			t.Fatalf("cut at %d: %d records (%v) vs %d (%v)", c, len(whole), errWhole, len(split), errSplit)
		}
		if errWhole == nil && !bytes.Equal(encode(whole), data) {
			t.Fatalf("accepted bytes do not encode back to themselves")
		}
	})
}
