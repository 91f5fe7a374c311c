package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
)

// Restoring a snapshot (snapshot.go describes the format). CometBFT offers
// a snapshot with the app hash its light client verified for that height,
// then applies the chunks in order. Each chunk must hash to the value the
// metadata lists; the stream must be well formed; the restored tree's root
// hash must equal the trusted app hash (checked as soon as the tree ends,
// before the index entries); and every batch's leaves in the index must
// hash to the batch root in the tree. Anything else is refused with the
// ABCI result that lets CometBFT try another chunk, peer or snapshot, and
// what was written is wiped before the next attempt.

// OfferResult is the answer to a snapshot offer.
type OfferResult int

// Offer results (ABCI's ResponseOfferSnapshot_Result).
const (
	OfferAccept OfferResult = iota + 1
	OfferAbort
	OfferReject
	OfferRejectFormat
	OfferRejectSender
)

// ChunkResult is the answer to a chunk.
type ChunkResult int

// Chunk results (ABCI's ResponseApplySnapshotChunk_Result).
const (
	ChunkAccept ChunkResult = iota + 1
	ChunkAbort
	ChunkRetry
	ChunkRetrySnapshot
	ChunkRejectSnapshot
)

// ChunkOutcome is the answer to a chunk: the result, chunks to fetch again,
// peers not to ask again, and why (when not accepted).
type ChunkOutcome struct {
	Result        ChunkResult
	Refetch       []uint32
	RejectSenders []string
	Err           error
}

// restoringMarker, in the state directory, says a restore was begun and not
// finished: Open wipes the state it finds beside it.
const restoringMarker = "restoring"

type kvBatch interface {
	Set(key, value []byte) error
	Write() error
	WriteSync() error
	Close() error
}

type restoring struct {
	info    SnapshotInfo
	chunks  [][]byte // SHA-256 of each chunk
	trusted []byte   // the app hash CometBFT verified for the height
	next    uint32
	dec     snapDecoder
	imp     *iavl.Importer
	time    int64
	batch   kvBatch
	pending int
}

// parseSnapshotMeta checks a snapshot's description: its hash is the
// SHA-256 of its metadata, which is canonical, of the same height, and
// lists one hash per chunk.
func parseSnapshotMeta(s SnapshotInfo) (*snapshotMeta, [][]byte, []byte, error) {
	if s.Height == 0 || s.Height > math.MaxInt64 {
		return nil, nil, nil, malformed("height %d", s.Height)
	}
	if sum := sha256.Sum256(s.Metadata); !bytes.Equal(sum[:], s.Hash) {
		return nil, nil, nil, malformed("its hash %X is not the SHA-256 of its metadata", s.Hash)
	}
	var m snapshotMeta
	dec := json.NewDecoder(bytes.NewReader(s.Metadata))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, nil, nil, malformed("metadata: %v", err)
	}
	if again, _ := json.Marshal(m); !bytes.Equal(again, s.Metadata) {
		return nil, nil, nil, malformed("metadata is not in canonical form")
	}
	if m.Height != s.Height {
		return nil, nil, nil, malformed("metadata of height %d offered as height %d", m.Height, s.Height)
	}
	if s.Chunks == 0 || s.Chunks > maxSnapshotChunks || int(s.Chunks) != len(m.ChunkHashes) {
		return nil, nil, nil, malformed("%d chunks, metadata lists %d hashes", s.Chunks, len(m.ChunkHashes))
	}
	hashes := make([][]byte, len(m.ChunkHashes))
	for i, h := range m.ChunkHashes {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size || hex.EncodeToString(b) != h {
			return nil, nil, nil, malformed("chunk hash %d is not a lowercase hex SHA-256", i)
		}
		hashes[i] = b
	}
	appHash, err := hex.DecodeString(m.AppHash)
	if err != nil || len(appHash) != sha256.Size {
		return nil, nil, nil, malformed("app hash is not a hex SHA-256")
	}
	return &m, hashes, appHash, nil
}

// OfferSnapshot answers CometBFT's offer of a snapshot whose height has the
// trusted app hash appHash. It accepts only into an empty state.
func (a *App) OfferSnapshot(s SnapshotInfo, appHash []byte) (OfferResult, error) {
	res, err := a.offerSnapshot(s, appHash)
	if err != nil {
		a.log.Error("snapshot refused", "height", s.Height, "format", s.Format, "hash", fmt.Sprintf("%X", s.Hash), "err", err)
	}
	return res, err
}

func (a *App) offerSnapshot(s SnapshotInfo, appHash []byte) (OfferResult, error) {
	a.restoreMu.Lock()
	defer a.restoreMu.Unlock()
	if c := a.committed.Load(); c != nil {
		return OfferAbort, fmt.Errorf("this node already has state at height %d: a snapshot restores only into an empty node", c.Height)
	}
	if a.tree.Version() > 0 && !a.restoreDirty {
		return OfferAbort, fmt.Errorf("the tree already has version %d: a snapshot restores only into an empty node", a.tree.Version())
	}
	if s.Format != SnapshotFormat {
		return OfferRejectFormat, fmt.Errorf("snapshot format %d, this node reads format %d", s.Format, SnapshotFormat)
	}
	_, chunks, metaHash, err := parseSnapshotMeta(s)
	if err != nil {
		return OfferReject, err
	}
	if !bytes.Equal(metaHash, appHash) {
		return OfferReject, malformed("it is of app hash %X, the chain's app hash at %d is %X", metaHash, s.Height, appHash)
	}
	if err := a.resetForRestore(); err != nil {
		return OfferAbort, err
	}
	if err := os.WriteFile(filepath.Join(a.opts.Dir, restoringMarker), []byte(fmt.Sprintln(s.Height)), 0o644); err != nil {
		return OfferAbort, err
	}
	a.restoreDirty = true
	imp, err := a.tree.Import(int64(s.Height))
	if err != nil {
		return OfferAbort, fmt.Errorf("import: %w", err)
	}
	a.restore = &restoring{info: s, chunks: chunks, trusted: bytes.Clone(appHash), imp: imp, batch: a.ix.db.NewBatch()}
	a.log.Info("restoring a snapshot", "height", s.Height, "chunks", s.Chunks, "hash", fmt.Sprintf("%X", s.Hash))
	return OfferAccept, nil
}

// ApplySnapshotChunk applies chunk index of the snapshot being restored.
func (a *App) ApplySnapshotChunk(index uint32, chunk []byte, sender string) ChunkOutcome {
	out := a.applySnapshotChunk(index, chunk, sender)
	if out.Err != nil {
		a.log.Error("snapshot chunk refused", "chunk", index, "sender", sender, "result", out.Result, "err", out.Err)
	}
	return out
}

func (a *App) applySnapshotChunk(index uint32, chunk []byte, sender string) ChunkOutcome {
	a.restoreMu.Lock()
	defer a.restoreMu.Unlock()
	r := a.restore
	if r == nil {
		return ChunkOutcome{Result: ChunkAbort, Err: errors.New("no snapshot is being restored")}
	}
	if index >= r.info.Chunks {
		return a.failRestore(malformed("chunk %d of a snapshot of %d chunks", index, r.info.Chunks))
	}
	if index != r.next {
		a.abandonRestore()
		return ChunkOutcome{Result: ChunkRetrySnapshot, Err: fmt.Errorf("chunk %d arrived when chunk %d was expected: restarting the snapshot", index, r.next)}
	}
	if sum := sha256.Sum256(chunk); !bytes.Equal(sum[:], r.chunks[index]) {
		out := ChunkOutcome{Result: ChunkRetry, Refetch: []uint32{index}, Err: fmt.Errorf("chunk %d hashes to %X, the snapshot lists %X", index, sum, r.chunks[index])}
		if sender != "" {
			out.RejectSenders = []string{sender}
		}
		return out
	}
	if err := r.dec.feed(chunk, func(rec *snapRecord) error { return a.applyRecord(r, rec) }); err != nil {
		return a.failRestore(err)
	}
	r.next++
	if r.next < r.info.Chunks {
		return ChunkOutcome{Result: ChunkAccept}
	}
	if err := r.dec.finish(); err != nil {
		return a.failRestore(err)
	}
	if err := a.completeRestore(r); err != nil {
		return a.failRestore(err)
	}
	return ChunkOutcome{Result: ChunkAccept}
}

func (a *App) applyRecord(r *restoring, rec *snapRecord) error {
	switch rec.kind {
	case recHeader:
		if uint64(rec.height) != r.info.Height {
			return malformed("the stream is of height %d, the snapshot of %d", rec.height, r.info.Height)
		}
		r.time = rec.time
	case recNode:
		if err := r.imp.Add(&rec.node); err != nil {
			return malformed("tree node: %v", err)
		}
	case recTreeEnd:
		err := r.imp.Commit()
		r.imp = nil
		if err != nil {
			return malformed("tree: %v", err)
		}
		if got := a.tree.Hash(); a.tree.Version() != int64(r.info.Height) || !bytes.Equal(got, r.trusted) {
			return malformed("the restored tree (version %d) has root hash %X, the chain's app hash at %d is %X", a.tree.Version(), got, r.info.Height, r.trusted)
		}
		a.log.Info("snapshot tree restored; its root is the trusted app hash", "height", r.info.Height, "app_hash", fmt.Sprintf("%X", r.trusted))
	case recIndex:
		if bytes.HasPrefix(rec.key, []byte(ixLeaves)) {
			if err := a.checkLeaves(rec.key, rec.value[8:]); err != nil {
				return err
			}
		}
		if err := r.batch.Set(rec.key, rec.value); err != nil {
			return err
		}
		if r.pending++; r.pending >= 10_000 {
			if err := r.batch.Write(); err != nil {
				return err
			}
			r.batch.Close()
			r.batch, r.pending = a.ix.db.NewBatch(), 0
		}
	}
	return nil
}

// checkLeaves checks that a batch's leaf hashes in the index hash to the
// batch root in the (already verified) tree.
func (a *App) checkLeaves(key, flat []byte) error {
	bkey := kBatch + strings.TrimPrefix(string(key), ixLeaves)
	b, err := a.tree.Get([]byte(bkey))
	if err != nil {
		return err
	}
	if b == nil {
		return malformed("index holds leaves for %s, which the tree does not have", bkey)
	}
	var bc BatchCommitment
	if err := json.Unmarshal(b, &bc); err != nil {
		return malformed("%s: %v", bkey, err)
	}
	if len(flat)%32 != 0 {
		return malformed("leaves of %s are not 32-byte hashes", bkey)
	}
	leaves := make([][]byte, len(flat)/32)
	for i := range leaves {
		leaves[i] = flat[32*i : 32*i+32]
	}
	if got := hex.EncodeToString(MerkleRoot(leaves)); got != bc.Root {
		return malformed("the index's leaves of %s hash to %s, the tree's root is %s", bkey, got, bc.Root)
	}
	return nil
}

func (a *App) completeRestore(r *restoring) error {
	var hb, tb [8]byte
	binary.BigEndian.PutUint64(hb[:], r.info.Height)
	binary.BigEndian.PutUint64(tb[:], uint64(r.time))
	if err := r.batch.Set([]byte(ixHeight), hb[:]); err != nil {
		return err
	}
	if err := r.batch.Set([]byte(ixTime), tb[:]); err != nil {
		return err
	}
	if err := r.batch.WriteSync(); err != nil {
		return err
	}
	r.batch.Close()
	r.batch = nil
	if err := a.loadMeta(); err != nil {
		return malformed("restored state: %v", err)
	}
	if err := a.snapshot(); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(a.opts.Dir, restoringMarker)); err != nil {
		return err
	}
	a.restore, a.restoreDirty = nil, false
	a.log.Info("state restored from a snapshot", "height", r.info.Height, "app_hash", fmt.Sprintf("%X", r.trusted), "index_entries", r.dec.entries, "tree_nodes", r.dec.nodes)
	return nil
}

// failRestore ends a restore: a snapshot that is not well formed is
// rejected (CometBFT tries another); a local failure aborts.
func (a *App) failRestore(err error) ChunkOutcome {
	a.abandonRestore()
	var se *SnapshotError
	if errors.As(err, &se) {
		return ChunkOutcome{Result: ChunkRejectSnapshot, Err: err}
	}
	return ChunkOutcome{Result: ChunkAbort, Err: err}
}

// abandonRestore drops the restore in progress; the next offer (or the
// next Open) wipes what it wrote.
func (a *App) abandonRestore() {
	if r := a.restore; r != nil {
		if r.imp != nil {
			r.imp.Close()
		}
		if r.batch != nil {
			r.batch.Close()
		}
	}
	a.restore = nil
}

// resetForRestore empties the tree and the index (what an earlier,
// failed attempt wrote) and starts a fresh tree.
func (a *App) resetForRestore() error {
	a.abandonRestore()
	if err := a.tree.Close(); err != nil {
		return err
	}
	for _, db := range []*idb.GoLevelDB{a.treeDB, a.ix.db} {
		if err := wipe(db); err != nil {
			return fmt.Errorf("wipe state: %w", err)
		}
	}
	a.tree = newTree(a.treeDB, a.opts.CacheSize)
	if _, err := a.tree.Load(); err != nil {
		return err
	}
	a.chain, a.params, a.pending = "", Params{}, nil
	return nil
}

// wipe deletes every key of a database.
func wipe(db *idb.GoLevelDB) error {
	for {
		it, err := db.Iterator(nil, nil)
		if err != nil {
			return err
		}
		batch := db.NewBatch()
		n := 0
		for ; it.Valid() && n < 10_000; it.Next() {
			if err := batch.Delete(bytes.Clone(it.Key())); err != nil {
				it.Close()
				batch.Close()
				return err
			}
			n++
		}
		it.Close()
		if n == 0 {
			return batch.Close()
		}
		err = batch.Write()
		batch.Close()
		if err != nil {
			return err
		}
	}
}

func (r ChunkResult) String() string {
	switch r {
	case ChunkAccept:
		return "accept"
	case ChunkAbort:
		return "abort"
	case ChunkRetry:
		return "retry"
	case ChunkRetrySnapshot:
		return "retry_snapshot"
	case ChunkRejectSnapshot:
		return "reject_snapshot"
	}
	return fmt.Sprintf("ChunkResult(%d)", int(r))
}

func (r OfferResult) String() string {
	switch r {
	case OfferAccept:
		return "accept"
	case OfferAbort:
		return "abort"
	case OfferReject:
		return "reject"
	case OfferRejectFormat:
		return "reject_format"
	case OfferRejectSender:
		return "reject_sender"
	}
	return fmt.Sprintf("OfferResult(%d)", int(r))
}
