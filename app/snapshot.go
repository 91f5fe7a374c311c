package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cosmos/iavl"
	"github.com/syndtr/goleveldb/leveldb"
)

// State sync snapshots (CometBFT's ABCI snapshot methods; restore.go takes
// them in). A snapshot of height H is the state a node needs to go on from
// block H+1 without replaying 1..H:
//
//   - the IAVL tree at version H, exported node by node in the order iavl's
//     Exporter gives (depth-first, post-order), so that the importer rebuilds
//     the same tree, whose root hash is the app hash of H;
//   - the index beside the tree (index.go: dose history, certificate
//     locations, batch leaves, the journal) as it was at H, in key order.
//     It is not covered by the app hash, but later blocks read it (duplicate
//     detection, dose intervals) and the API serves it.
//
// The content is one byte stream, cut into chunks of a fixed size: the same
// state gives the same bytes, chunks and hash on every node, so a joining
// node can fetch chunks of one snapshot from several peers. The snapshot's
// metadata lists the SHA-256 of every chunk (each chunk is checked before it
// is applied) and its hash is the SHA-256 of the metadata.
//
// Stream (format 1): the magic "DIVOC-SNAPSHOT/1", then records, each a
// type byte and its fields (uvarint lengths and numbers):
//
//	'H' height, block time (varint, Unix ns)          first, once
//	'N' subtree height (1 byte), version, key[, value] tree nodes (value for leaves)
//	'T' number of nodes                                end of the tree
//	'I' key, value                                     index entries, keys ascending
//	'E' number of index entries                        last, once
//
// Snapshots are taken every Options.SnapshotInterval heights, after
// Commit, in the background: Commit only pins the tree version (pruning
// leaves it alone) and takes a LevelDB snapshot of the index, so consensus
// does not wait for the export. They are kept in <Dir>/snapshots/<height>/.

// SnapshotFormat is the format of the snapshots this app writes and reads.
const SnapshotFormat uint32 = 1

// Snapshot defaults.
const (
	DefaultSnapshotChunkSize = 8 << 20
	DefaultSnapshotKeep      = 2
)

// Limits that keep a hostile snapshot from using unbounded memory.
const (
	maxSnapshotKey    = 64 << 10
	maxSnapshotValue  = 128 << 20
	maxSnapshotChunks = 1 << 20
)

var snapshotMagic = []byte("DIVOC-SNAPSHOT/1")

// ixMeta prefixes the index's own entries (ixHeight, ixTime), which a
// snapshot does not carry: the restore writes them.
const ixMeta = "m/"

// Record types.
const (
	recHeader  = 'H'
	recNode    = 'N'
	recTreeEnd = 'T'
	recIndex   = 'I'
	recEnd     = 'E'
)

// SnapshotInfo describes a snapshot, as CometBFT lists and offers it.
type SnapshotInfo struct {
	Height   uint64 `json:"height"`
	Format   uint32 `json:"format"`
	Chunks   uint32 `json:"chunks"`
	Hash     []byte `json:"hash"`
	Metadata []byte `json:"metadata"`
}

// snapshotMeta is a snapshot's metadata: what a joining node checks each
// chunk and the restored state against. Its JSON encoding is canonical
// (fixed field order, lowercase hex).
type snapshotMeta struct {
	AppHash     string   `json:"app_hash"`
	ChunkHashes []string `json:"chunk_hashes"`
	Height      uint64   `json:"height"`
	Size        int64    `json:"size"`
}

// snapRecord is one record of the stream.
type snapRecord struct {
	kind   byte
	height int64 // header: the snapshot's height
	time   int64 // header: the block time, Unix ns
	node   iavl.ExportNode
	key    []byte // index entry
	value  []byte
	count  uint64 // tree end, end
}

// appendRecord encodes a record.
func appendRecord(b []byte, r *snapRecord) []byte {
	b = append(b, r.kind)
	switch r.kind {
	case recHeader:
		b = binary.AppendUvarint(b, uint64(r.height))
		b = binary.AppendVarint(b, r.time)
	case recNode:
		b = append(b, byte(r.node.Height))
		b = binary.AppendUvarint(b, uint64(r.node.Version))
		b = binary.AppendUvarint(b, uint64(len(r.node.Key)))
		b = append(b, r.node.Key...)
		if r.node.Height == 0 {
			b = binary.AppendUvarint(b, uint64(len(r.node.Value)))
			b = append(b, r.node.Value...)
		}
	case recIndex:
		b = binary.AppendUvarint(b, uint64(len(r.key)))
		b = append(b, r.key...)
		b = binary.AppendUvarint(b, uint64(len(r.value)))
		b = append(b, r.value...)
	case recTreeEnd, recEnd:
		b = binary.AppendUvarint(b, r.count)
	}
	return b
}

// errIncomplete: the buffer ends inside a record (more bytes are needed).
var errIncomplete = errors.New("incomplete record")

// SnapshotError is a snapshot that is not well formed: its bytes (or
// what they describe) are wrong, not this node's storage.
type SnapshotError struct{ Reason string }

func (e *SnapshotError) Error() string { return "bad snapshot: " + e.Reason }

func malformed(format string, args ...any) error {
	return &SnapshotError{Reason: fmt.Sprintf(format, args...)}
}

func readUvarint(b []byte, p int) (uint64, int, error) {
	if p > len(b) {
		return 0, p, errIncomplete
	}
	v, n := binary.Uvarint(b[p:])
	if n == 0 {
		return 0, p, errIncomplete
	}
	if n < 0 {
		return 0, p, malformed("number overflows 64 bits")
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		return 0, p, malformed("number not in its shortest form")
	}
	return v, p + n, nil
}

// readBytes reads a length-prefixed field of at most limit bytes, copied
// out of b (which the decoder reuses).
func readBytes(b []byte, p, limit int, what string) ([]byte, int, error) {
	n, p, err := readUvarint(b, p)
	if err != nil {
		return nil, p, err
	}
	if n > uint64(limit) {
		return nil, p, malformed("%s of %d bytes (the limit is %d)", what, n, limit)
	}
	if uint64(len(b)-p) < n {
		return nil, p, errIncomplete
	}
	out := make([]byte, n)
	copy(out, b[p:p+int(n)])
	return out, p + int(n), nil
}

// parseRecord decodes the record at the start of b, returning its length.
// Lengths are checked against the limits as soon as they are read, so a
// record claiming to be huge is refused before its bytes arrive.
func parseRecord(b []byte) (*snapRecord, int, error) {
	if len(b) == 0 {
		return nil, 0, errIncomplete
	}
	r := &snapRecord{kind: b[0]}
	p := 1
	var err error
	switch r.kind {
	case recHeader:
		var h uint64
		if h, p, err = readUvarint(b, p); err != nil {
			return nil, 0, err
		}
		if h == 0 || h > math.MaxInt64 {
			return nil, 0, malformed("header height %d", h)
		}
		r.height = int64(h)
		if p >= len(b) {
			return nil, 0, errIncomplete
		}
		t, n := binary.Varint(b[p:])
		if n == 0 {
			return nil, 0, errIncomplete
		}
		if n < 0 || n != len(binary.AppendVarint(nil, t)) {
			return nil, 0, malformed("block time is not a 64-bit number in its shortest form")
		}
		r.time, p = t, p+n
	case recNode:
		if len(b) < 2 {
			return nil, 0, errIncomplete
		}
		if b[1] > math.MaxInt8 {
			return nil, 0, malformed("tree node of height %d", b[1])
		}
		r.node.Height = int8(b[1])
		p = 2
		var v uint64
		if v, p, err = readUvarint(b, p); err != nil {
			return nil, 0, err
		}
		if v == 0 || v > math.MaxInt64 {
			return nil, 0, malformed("tree node of version %d", v)
		}
		r.node.Version = int64(v)
		if r.node.Key, p, err = readBytes(b, p, maxSnapshotKey, "tree key"); err != nil {
			return nil, 0, err
		}
		if r.node.Height == 0 {
			if r.node.Value, p, err = readBytes(b, p, maxSnapshotValue, "tree value"); err != nil {
				return nil, 0, err
			}
		}
	case recIndex:
		if r.key, p, err = readBytes(b, p, maxSnapshotKey, "index key"); err != nil {
			return nil, 0, err
		}
		if r.value, p, err = readBytes(b, p, maxSnapshotValue, "index value"); err != nil {
			return nil, 0, err
		}
	case recTreeEnd, recEnd:
		if r.count, p, err = readUvarint(b, p); err != nil {
			return nil, 0, err
		}
	default:
		return nil, 0, malformed("unknown record type 0x%02x", r.kind)
	}
	return r, p, nil
}

// snapDecoder decodes the stream as its chunks arrive, in order, and checks
// its structure: one header, tree nodes that form a valid tree (leaves in
// ascending key order; every inner node over the two subtrees before it,
// one level above the higher, keyed by its right subtree's first key: the
// root hash does not cover inner keys, so they are checked here), the tree's
// end, index entries in ascending key order written at or before the
// snapshot's height, and the end. It keeps at most one incomplete record.
type snapDecoder struct {
	buf     []byte
	magic   bool
	stage   int // 0 header, 1 tree, 2 index, 3 done
	height  int64
	nodes   uint64
	entries uint64
	stack   []subtree
	lastKey []byte // last leaf key, then last index key
	err     error
}

type subtree struct {
	height int8
	first  []byte
}

const (
	stageHeader = iota
	stageTree
	stageIndex
	stageDone
)

// feed decodes the records that p completes, calling emit for each.
func (d *snapDecoder) feed(p []byte, emit func(*snapRecord) error) error {
	if d.err != nil {
		return d.err
	}
	d.err = d.decode(p, emit)
	return d.err
}

func (d *snapDecoder) decode(p []byte, emit func(*snapRecord) error) error {
	d.buf = append(d.buf, p...)
	off := 0
	if !d.magic {
		n := min(len(d.buf), len(snapshotMagic))
		if !bytes.Equal(d.buf[:n], snapshotMagic[:n]) {
			return malformed("not a divoc snapshot of format %d (no %q at the start)", SnapshotFormat, snapshotMagic)
		}
		if n < len(snapshotMagic) {
			return nil
		}
		d.magic, off = true, n
	}
	for off < len(d.buf) {
		if d.stage == stageDone {
			return malformed("%d bytes after the end", len(d.buf)-off)
		}
		r, n, err := parseRecord(d.buf[off:])
		if err == errIncomplete {
			break
		}
		if err != nil {
			return err
		}
		if err := d.check(r); err != nil {
			return err
		}
		if err := emit(r); err != nil {
			return err
		}
		off += n
	}
	n := copy(d.buf, d.buf[off:])
	d.buf = d.buf[:n]
	return nil
}

func (d *snapDecoder) check(r *snapRecord) error {
	switch r.kind {
	case recHeader:
		if d.stage != stageHeader {
			return malformed("a second header")
		}
		d.height, d.stage = r.height, stageTree
	case recNode:
		if d.stage != stageTree {
			return malformed("a tree node %s", d.where())
		}
		nd := &r.node
		if nd.Version > d.height {
			return malformed("tree node of version %d in a snapshot of height %d", nd.Version, d.height)
		}
		if nd.Height == 0 {
			if d.lastKey != nil && bytes.Compare(nd.Key, d.lastKey) <= 0 {
				return malformed("tree leaves out of order: %q after %q", nd.Key, d.lastKey)
			}
			d.lastKey = nd.Key
			d.stack = append(d.stack, subtree{0, nd.Key})
		} else {
			n := len(d.stack)
			if n < 2 {
				return malformed("inner tree node %d without two subtrees before it", d.nodes)
			}
			l, rt := d.stack[n-2], d.stack[n-1]
			if nd.Height != max(l.height, rt.height)+1 {
				return malformed("inner tree node %d of height %d over subtrees of heights %d and %d", d.nodes, nd.Height, l.height, rt.height)
			}
			if !bytes.Equal(nd.Key, rt.first) {
				return malformed("inner tree node %d keyed %q, its right subtree starts at %q", d.nodes, nd.Key, rt.first)
			}
			d.stack = append(d.stack[:n-2], subtree{nd.Height, l.first})
		}
		d.nodes++
	case recTreeEnd:
		if d.stage != stageTree {
			return malformed("the end of the tree %s", d.where())
		}
		if r.count != d.nodes {
			return malformed("the tree ends after %d nodes but says %d", d.nodes, r.count)
		}
		if len(d.stack) > 1 || (d.nodes > 0 && len(d.stack) != 1) {
			return malformed("the tree ends with %d subtrees, not one", len(d.stack))
		}
		d.stack, d.lastKey, d.stage = nil, nil, stageIndex
	case recIndex:
		if d.stage != stageIndex {
			return malformed("an index entry %s", d.where())
		}
		if d.lastKey != nil && bytes.Compare(r.key, d.lastKey) <= 0 {
			return malformed("index entries out of order: %q after %q", r.key, d.lastKey)
		}
		if bytes.HasPrefix(r.key, []byte(ixMeta)) || len(r.key) == 0 {
			return malformed("index entry %q is not data", r.key)
		}
		if len(r.value) < 8 {
			return malformed("index entry %q has no height", r.key)
		}
		if h := binary.BigEndian.Uint64(r.value[:8]); h > uint64(d.height) {
			return malformed("index entry %q written at height %d, after the snapshot's %d", r.key, h, d.height)
		}
		d.lastKey = r.key
		d.entries++
	case recEnd:
		if d.stage != stageIndex {
			return malformed("the end %s", d.where())
		}
		if r.count != d.entries {
			return malformed("the index ends after %d entries but says %d", d.entries, r.count)
		}
		d.stage = stageDone
	}
	return nil
}

func (d *snapDecoder) where() string {
	return [...]string{"before the header", "inside the tree", "among the index entries", "after the end"}[d.stage]
}

// finish reports whether the stream was complete.
func (d *snapDecoder) finish() error {
	if d.err != nil {
		return d.err
	}
	if d.stage != stageDone {
		return malformed("the snapshot ends early (%s, %d bytes of an unfinished record)", d.where(), len(d.buf))
	}
	return nil
}

// --- taking snapshots ---

func (a *App) snapshotDir() string { return filepath.Join(a.opts.Dir, "snapshots") }

func snapshotName(h uint64) string { return fmt.Sprintf("%020d", h) }

// maybeSnapshot starts a snapshot of the version Commit just saved, if the
// height is a multiple of the interval and no snapshot is being written.
// It pins what the snapshot needs (the tree version and a LevelDB
// snapshot of the index) and leaves the writing to a goroutine.
func (a *App) maybeSnapshot(h int64, at time.Time) {
	n := a.opts.SnapshotInterval
	if n <= 0 || h%n != 0 {
		return
	}
	if !a.snapBusy.CompareAndSwap(false, true) {
		a.log.Info("snapshot skipped: the previous one is still being written", "height", h)
		return
	}
	if _, err := os.Stat(filepath.Join(a.snapshotDir(), snapshotName(uint64(h)), "snapshot.json")); err == nil {
		a.snapBusy.Store(false)
		return
	}
	// The export reads version h through a tree of its own: node objects
	// cached by the tree that executes the next blocks are not shared with
	// it. Pruning leaves h alone until the snapshot is written (Commit).
	rt := iavl.NewMutableTree(a.treeDB, 10_000, true, iavl.NewNopLogger())
	it, err := rt.GetImmutable(h)
	var exp *iavl.Exporter
	var appHash []byte
	if err == nil {
		appHash = it.Hash()
		exp, err = it.Export()
	}
	var ixs *leveldb.Snapshot
	if err == nil {
		if ixs, err = a.ix.db.RawDB().GetSnapshot(); err != nil {
			exp.Close()
		}
	}
	if err != nil {
		rt.Close()
		a.snapBusy.Store(false)
		a.log.Error("snapshot not taken", "height", h, "err", err)
		return
	}
	a.snapPinned.Store(h)
	ctx, cancel := context.WithCancel(context.Background())
	a.snapMu.Lock()
	a.snapCancel = cancel
	a.snapMu.Unlock()
	a.snapWG.Add(1)
	go func() {
		defer a.snapWG.Done()
		defer a.snapBusy.Store(false)
		defer a.snapPinned.Store(0)
		defer cancel()
		began := time.Now()
		info, err := a.writeSnapshot(ctx, h, at, appHash, exp, ixs)
		exp.Close()
		ixs.Release()
		rt.Close()
		if err != nil {
			a.log.Error("snapshot failed", "height", h, "err", err)
			return
		}
		a.log.Info("snapshot taken", "height", h, "chunks", info.Chunks, "hash", fmt.Sprintf("%X", info.Hash), "took", time.Since(began).Round(time.Millisecond))
		if err := a.pruneSnapshots(); err != nil {
			a.log.Error("pruning snapshots", "err", err)
		}
	}()
}

// WaitSnapshots waits until no snapshot is being written.
func (a *App) WaitSnapshots() { a.snapWG.Wait() }

// chunkWriter cuts the stream into chunk files of a fixed size.
type chunkWriter struct {
	dir    string
	size   int
	buf    []byte
	hashes []string
	total  int64
}

func (w *chunkWriter) write(p []byte) error {
	w.buf = append(w.buf, p...)
	for len(w.buf) >= w.size {
		if err := w.flush(w.buf[:w.size]); err != nil {
			return err
		}
		n := copy(w.buf, w.buf[w.size:])
		w.buf = w.buf[:n]
	}
	return nil
}

func (w *chunkWriter) flush(c []byte) error {
	h := sha256.Sum256(c)
	if err := os.WriteFile(filepath.Join(w.dir, chunkName(uint32(len(w.hashes)))), c, 0o644); err != nil {
		return err
	}
	w.hashes = append(w.hashes, hex.EncodeToString(h[:]))
	w.total += int64(len(c))
	return nil
}

func (w *chunkWriter) close() error {
	if len(w.buf) > 0 || len(w.hashes) == 0 {
		if err := w.flush(w.buf); err != nil {
			return err
		}
		w.buf = nil
	}
	return nil
}

func chunkName(i uint32) string { return fmt.Sprintf("chunk-%06d", i) }

// writeSnapshot writes the stream of height h into a temporary directory
// and renames it into place once complete.
func (a *App) writeSnapshot(ctx context.Context, h int64, at time.Time, appHash []byte, exp *iavl.Exporter, ixs *leveldb.Snapshot) (*SnapshotInfo, error) {
	root := a.snapshotDir()
	tmp := filepath.Join(root, "tmp-"+snapshotName(uint64(h)))
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	size := a.opts.SnapshotChunkSize
	if size <= 0 {
		size = DefaultSnapshotChunkSize
	}
	w := &chunkWriter{dir: tmp, size: size}
	var scratch []byte
	put := func(r *snapRecord) error {
		scratch = appendRecord(scratch[:0], r)
		return w.write(scratch)
	}
	if err := w.write(snapshotMagic); err != nil {
		return nil, err
	}
	if err := put(&snapRecord{kind: recHeader, height: h, time: at.UnixNano()}); err != nil {
		return nil, err
	}
	var nodes uint64
	for {
		nd, err := exp.Next()
		if errors.Is(err, iavl.ErrorExportDone) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("export tree: %w", err)
		}
		if err := put(&snapRecord{kind: recNode, node: *nd}); err != nil {
			return nil, err
		}
		nodes++
		if nodes%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if err := put(&snapRecord{kind: recTreeEnd, count: nodes}); err != nil {
		return nil, err
	}
	it := ixs.NewIterator(nil, nil)
	var entries uint64
	for it.Next() {
		k, v := it.Key(), it.Value()
		// The index's own height and time are written by the restore.
		// Entries of a later height (a block whose index was written
		// before a crash and whose tree was not) are not part of H.
		if bytes.HasPrefix(k, []byte(ixMeta)) || len(v) < 8 || int64(binary.BigEndian.Uint64(v[:8])) > h {
			continue
		}
		if err := put(&snapRecord{kind: recIndex, key: k, value: v}); err != nil {
			it.Release()
			return nil, err
		}
		entries++
		if entries%4096 == 0 && ctx.Err() != nil {
			it.Release()
			return nil, ctx.Err()
		}
	}
	err := it.Error()
	it.Release()
	if err != nil {
		return nil, fmt.Errorf("export index: %w", err)
	}
	if err := put(&snapRecord{kind: recEnd, count: entries}); err != nil {
		return nil, err
	}
	if err := w.close(); err != nil {
		return nil, err
	}
	meta, _ := json.Marshal(snapshotMeta{AppHash: hex.EncodeToString(appHash), ChunkHashes: w.hashes, Height: uint64(h), Size: w.total})
	sum := sha256.Sum256(meta)
	info := &SnapshotInfo{Height: uint64(h), Format: SnapshotFormat, Chunks: uint32(len(w.hashes)), Hash: sum[:], Metadata: meta}
	ib, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "snapshot.json"), ib, 0o644); err != nil {
		return nil, err
	}
	final := filepath.Join(root, snapshotName(uint64(h)))
	if err := os.RemoveAll(final); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	ok = true
	return info, nil
}

// snapshotHeights lists the complete snapshots on disk, newest first.
func (a *App) snapshotHeights() ([]uint64, error) {
	ents, err := os.ReadDir(a.snapshotDir())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var hs []uint64
	for _, e := range ents {
		if !e.IsDir() || len(e.Name()) != 20 {
			continue
		}
		h, err := strconv.ParseUint(e.Name(), 10, 64)
		if err != nil {
			continue
		}
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i] > hs[j] })
	return hs, nil
}

// pruneSnapshots keeps the SnapshotKeep most recent snapshots.
func (a *App) pruneSnapshots() error {
	keep := a.opts.SnapshotKeep
	if keep <= 0 {
		keep = DefaultSnapshotKeep
	}
	hs, err := a.snapshotHeights()
	if err != nil {
		return err
	}
	for i, h := range hs {
		if i >= keep {
			if err := os.RemoveAll(filepath.Join(a.snapshotDir(), snapshotName(h))); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeUnfinishedSnapshots deletes what a crash left of snapshots being
// written.
func (a *App) removeUnfinishedSnapshots() {
	ents, _ := os.ReadDir(a.snapshotDir())
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "tmp-") {
			os.RemoveAll(filepath.Join(a.snapshotDir(), e.Name()))
		}
	}
}

// ListSnapshots returns the snapshots this node can serve, newest first.
func (a *App) ListSnapshots() ([]SnapshotInfo, error) {
	hs, err := a.snapshotHeights()
	if err != nil {
		return nil, err
	}
	var out []SnapshotInfo
	for _, h := range hs {
		b, err := os.ReadFile(filepath.Join(a.snapshotDir(), snapshotName(h), "snapshot.json"))
		if err != nil {
			continue // being pruned
		}
		var info SnapshotInfo
		if err := json.Unmarshal(b, &info); err != nil || info.Height != h {
			continue
		}
		out = append(out, info)
	}
	return out, nil
}

// LoadSnapshotChunk returns one chunk of a snapshot this node holds (nil
// if it holds no such chunk).
func (a *App) LoadSnapshotChunk(height uint64, format, chunk uint32) ([]byte, error) {
	if format != SnapshotFormat || chunk >= maxSnapshotChunks {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(a.snapshotDir(), snapshotName(height), chunkName(chunk)))
	if os.IsNotExist(err) {
		return nil, nil
	}
	return b, err
}
