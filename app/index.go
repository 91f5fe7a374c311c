package app

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	idb "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// The index is the deterministic store beside the IAVL tree: per-recipient
// dose history (duplicate detection), certificate locations and the leaf
// hashes of every batch. It grows with every event, so it lives in its own
// LevelDB instead of the tree (random-key IAVL writes per event would cap the
// node near 1,000 events/s at national scale: see DESIGN.md "State at scale").
//
// Every decision the index drives is inside a batch commitment, so a node
// whose index diverged computes a different app hash and is caught by
// consensus. It is written in Commit, before the tree is saved, and each
// value carries the height that wrote it: while block h executes, entries
// written at h or later are ignored, so a block replayed after a crash
// between the two writes does not see its own effects.

// Index key prefixes.
const (
	ixDose   = "d/" // d/<recipient>/<program>/<dose> -> DoseRecord
	ixCert   = "c/" // c/<certificate id>             -> CertRecord
	ixLeaves = "l/" // l/<height>/<tx>                -> concatenated leaf hashes
	ixHeight = "m/height"
	// ixTime is the last committed block's time. It is kept here, not in
	// the tree: a block without transactions then leaves the app hash as it
	// was, and CometBFT does not need a new block to prove it (an idle
	// chain makes an empty block every create_empty_blocks_interval, not
	// ten a second). CheckTx judges freshness against it.
	ixTime = "m/time"
)

type index struct {
	db *idb.GoLevelDB
}

// indexOptions size LevelDB for a store that takes one or two random reads
// and writes per event: every read of a missing key (a new recipient) costs
// an index-block lookup per level, so index and filter blocks must stay in
// the block cache, and large tables keep the number of levels down.
func indexOptions() *opt.Options {
	return &opt.Options{
		Filter:                 filter.NewBloomFilter(10),
		BlockCacheCapacity:     512 << 20,
		WriteBuffer:            64 << 20,
		CompactionTableSize:    16 << 20,
		CompactionTotalSize:    64 << 20,
		OpenFilesCacheCapacity: 2000,
	}
}

func openIndex(dir string) (*index, error) {
	db, err := idb.NewGoLevelDBWithOpts("index", dir, indexOptions())
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	return &index{db: db}, nil
}

func (ix *index) height() (int64, error) {
	v, err := ix.db.Get([]byte(ixHeight))
	if err != nil || len(v) != 8 {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// get returns the value stored at key if it was written before height
// `before` (0 means any height).
func (ix *index) get(key string, before int64) ([]byte, error) {
	v, err := ix.db.Get([]byte(key))
	if err != nil || len(v) < 8 {
		return nil, err
	}
	h := int64(binary.BigEndian.Uint64(v[:8]))
	if before > 0 && h >= before {
		return nil, nil
	}
	return v[8:], nil
}

func (ix *index) getJSON(key string, before int64, v any) (bool, error) {
	b, err := ix.get(key, before)
	if err != nil || b == nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

func (ix *index) blockTime() (time.Time, error) {
	v, err := ix.db.Get([]byte(ixTime))
	if err != nil || len(v) != 8 {
		return time.Time{}, fmt.Errorf("no block time: %v", err)
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), nil
}

// write stores a block's entries, its height and its time, atomically.
func (ix *index) write(height int64, at time.Time, keys []string, values map[string][]byte) error {
	batch := ix.db.NewBatch()
	defer batch.Close()
	var hb [8]byte
	binary.BigEndian.PutUint64(hb[:], uint64(height))
	for _, k := range keys {
		v := make([]byte, 8+len(values[k]))
		copy(v, hb[:])
		copy(v[8:], values[k])
		if err := batch.Set([]byte(k), v); err != nil {
			return err
		}
	}
	if err := batch.Set([]byte(ixHeight), hb[:]); err != nil {
		return err
	}
	var tb [8]byte
	binary.BigEndian.PutUint64(tb[:], uint64(at.UnixNano()))
	if err := batch.Set([]byte(ixTime), tb[:]); err != nil {
		return err
	}
	return batch.Write()
}

func (ix *index) close() error { return ix.db.Close() }

func doseKey(recipient, program string, dose int) string {
	return fmt.Sprintf("%s%s/%s/%d", ixDose, recipient, program, dose)
}

func certKey(id string) string { return ixCert + id }

func leavesKey(height int64, tx int) string {
	return fmt.Sprintf("%s%020d/%06d", ixLeaves, height, tx)
}
