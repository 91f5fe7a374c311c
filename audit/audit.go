// Package audit replays a node's ledger from genesis, as an auditor would:
// it reads a stopped home's block store, checks every block against the
// chain of signed headers (data hash, previous block id, the validators'
// commit signatures, validator set hashes derived from the genesis and the
// replayed validator updates), re-executes every transaction in a fresh
// app in a scratch directory, and checks each block's resulting app hash
// and results hash against the header of the next block, the ones the
// validators signed. Every signature inside the transactions is checked
// again by the app's FinalizeBlock against the key the replayed state lists
// at that height. Finally it compares the home's own stored state (the
// IAVL tree and the index beside it) with the replayed one, entry by entry,
// so that a tampered or corrupted store is named by key and height.
package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/divoc/divoc/abci"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/node"
)

// Options configure a replay.
type Options struct {
	// Home is a stopped node's home (or a copy of one).
	Home node.Home
	// WorkDir receives the replayed state (default: a temporary
	// directory, removed afterwards).
	WorkDir string
	// SkipStoredState skips the comparison of the home's stored app state
	// and index with the replayed ones.
	SkipStoredState bool
	// MaxMismatches bounds the mismatches listed (default 20; all are
	// counted).
	MaxMismatches int
	// Progress is called after each replayed block.
	Progress func(height, top int64)
}

// Mismatch is one place where the stored ledger and the replay disagree.
type Mismatch struct {
	// Height is the block concerned: the executed block whose app hash or
	// results differ, the block that fails a check, or the height that
	// wrote a differing state or index entry.
	Height int64 `json:"height"`
	// Check names what failed: app_hash, results_hash, block, header,
	// last_block_id, commit, validators_hash, next_validators_hash,
	// stored_app_hash, state, index.
	Check string `json:"check"`
	// Key is the state or index key, for state and index mismatches.
	Key      string `json:"key,omitempty"`
	Expected string `json:"expected,omitempty"`
	Got      string `json:"got,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

func (m Mismatch) String() string {
	s := fmt.Sprintf("height %d: %s", m.Height, m.Check)
	if m.Key != "" {
		s += " " + m.Key
	}
	if m.Expected != "" || m.Got != "" {
		s += fmt.Sprintf(": expected %s, got %s", m.Expected, m.Got)
	}
	if m.Detail != "" {
		s += " (" + m.Detail + ")"
	}
	return s
}

// Report is what a replay found.
type Report struct {
	Home    string `json:"home"`
	ChainID string `json:"chain_id"`
	// From and To are the replayed heights.
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// Blocks and Txs count what was replayed; TxsByKind by kind.
	Blocks    int64          `json:"blocks"`
	Txs       int            `json:"txs"`
	TxsByKind map[string]int `json:"txs_by_kind"`
	// Events, certificates, revocations and supersessions as the replayed
	// state counts them.
	EventsAccepted int64 `json:"events_accepted"`
	EventsRejected int64 `json:"events_rejected"`
	Certificates   int64 `json:"certificates"`
	Revocations    int64 `json:"revocations"`
	Supersessions  int64 `json:"supersessions"`
	// TxRejected counts whole transactions refused by FinalizeBlock;
	// TxRejections is them by code, ItemRejections the items (events,
	// revocations, ...) refused inside accepted transactions, by code.
	TxRejected     int            `json:"tx_rejected"`
	TxRejections   map[string]int `json:"tx_rejections"`
	ItemRejections map[string]int `json:"item_rejections"`
	// What was checked.
	HeadersChecked   int `json:"headers_checked"`
	CommitsVerified  int `json:"commits_verified"`
	AppHashesChecked int `json:"app_hashes_checked"`
	ResultsChecked   int `json:"results_checked"`
	StoredVersions   int `json:"stored_versions_compared"`
	StateKeys        int `json:"state_keys_compared"`
	IndexEntries     int `json:"index_entries_compared"`
	// TailUnsigned is set when the last block's app hash could only be
	// compared with the node's saved state (no later header signs it).
	TailUnsigned bool   `json:"tail_unsigned,omitempty"`
	AppHash      string `json:"app_hash"`
	// Elapsed is the replay's duration (execution and checks), and
	// EventsPerSecond the events replayed per second of it.
	Elapsed         time.Duration `json:"elapsed"`
	EventsPerSecond float64       `json:"events_per_second"`
	// Mismatches lists the first MaxMismatches; MismatchCount counts all.
	Mismatches    []Mismatch `json:"mismatches"`
	MismatchCount int        `json:"mismatch_count"`
	// Notes are remarks that are not mismatches.
	Notes []string `json:"notes,omitempty"`

	limit int
}

// OK reports whether nothing diverged.
func (r *Report) OK() bool { return r.MismatchCount == 0 }

// First is the mismatch at the lowest height (nil if none).
func (r *Report) First() *Mismatch {
	if len(r.Mismatches) == 0 {
		return nil
	}
	first := r.Mismatches[0]
	for _, m := range r.Mismatches[1:] {
		if m.Height < first.Height {
			first = m
		}
	}
	return &first
}

func (r *Report) mismatch(m Mismatch) {
	r.MismatchCount++
	if len(r.Mismatches) < r.limit {
		r.Mismatches = append(r.Mismatches, m)
	}
}

// Replay re-executes a stopped home's ledger from genesis and checks it.
// It returns an error when the replay itself cannot run (no such home, a
// pruned block store, the app failing); divergences are in the report.
func Replay(ctx context.Context, o Options) (*Report, error) {
	in, err := node.Inspect(o.Home)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	gen, err := in.Genesis()
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	r := &Report{Home: string(o.Home), ChainID: gen.ChainID, TxsByKind: map[string]int{}, TxRejections: map[string]int{}, ItemRejections: map[string]int{}, limit: o.MaxMismatches}
	if r.limit <= 0 {
		r.limit = 20
	}
	base, top := in.Base(), in.Height()
	if top == 0 {
		return nil, errors.New("the block store is empty: the node has not committed a block")
	}
	if base > gen.InitialHeight {
		return nil, fmt.Errorf("the block store starts at height %d (pruned, or the node was state-synced): replay from genesis needs every block from %d", base, gen.InitialHeight)
	}
	r.From, r.To = gen.InitialHeight, top

	work := o.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "divoc-audit-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(work)
	}
	scratch := node.Home(work)
	a, err := app.Open(app.Options{Dir: scratch.AppData()})
	if err != nil {
		return nil, fmt.Errorf("open the scratch app: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			a.Close()
		}
	}()
	if h, _ := a.Info(); h != 0 {
		return nil, fmt.Errorf("the work directory %s already holds a state at height %d", work, h)
	}
	ap := abci.New(a)

	start := time.Now()
	// InitChain exactly as CometBFT's handshake sends it.
	genVals := make([]*cmttypes.Validator, len(gen.Validators))
	for i, v := range gen.Validators {
		genVals[i] = cmttypes.NewValidator(v.PubKey, v.Power)
	}
	valSet := cmttypes.NewValidatorSet(genVals)
	pbParams := gen.ConsensusParams.ToProto()
	initRes, err := ap.InitChain(ctx, &abcitypes.RequestInitChain{Time: gen.GenesisTime, ChainId: gen.ChainID, InitialHeight: gen.InitialHeight,
		ConsensusParams: &pbParams, Validators: cmttypes.TM2PB.ValidatorUpdates(valSet), AppStateBytes: gen.AppState})
	if err != nil {
		return nil, fmt.Errorf("replay InitChain: %w", err)
	}
	if len(initRes.Validators) > 0 {
		vals, err := cmttypes.PB2TM.ValidatorUpdates(initRes.Validators)
		if err != nil {
			return nil, err
		}
		valSet = cmttypes.NewValidatorSet(vals)
	}
	// The validators of the current height, the next, and the previous
	// (whose commit the current block carries).
	cur, next := valSet.Copy(), valSet.Copy()
	var prev *cmttypes.ValidatorSet
	expectApp := initRes.AppHash
	if len(expectApp) == 0 {
		expectApp = gen.AppHash
	}
	var expectResults []byte
	var prevHash []byte
	replayed := map[int64][]byte{}

	for h := r.From; h <= top; h++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		blk, defect, lerr := loadBlock(in, h)
		if lerr != nil {
			r.mismatch(Mismatch{Height: h, Check: "block", Detail: lerr.Error()})
			r.To = h - 1
			break
		}
		hdr := &blk.Header
		r.HeadersChecked++
		if hdr.Height != h || hdr.ChainID != gen.ChainID {
			r.mismatch(Mismatch{Height: h, Check: "header", Expected: fmt.Sprintf("%s at %d", gen.ChainID, h), Got: fmt.Sprintf("%s at %d", hdr.ChainID, hdr.Height)})
		}
		if err := blk.ValidateBasic(); err != nil {
			r.mismatch(Mismatch{Height: h, Check: "block", Detail: "the block does not match its own header: " + err.Error()})
		} else if defect != nil {
			r.mismatch(Mismatch{Height: h, Check: "block", Detail: "the block store refuses it: " + defect.Error()})
		}
		if got := hdr.ValidatorsHash; !bytes.Equal(got, cur.Hash()) {
			r.mismatch(Mismatch{Height: h, Check: "validators_hash", Expected: hexU(cur.Hash()), Got: hexU(got)})
		}
		if got := hdr.NextValidatorsHash; !bytes.Equal(got, next.Hash()) {
			r.mismatch(Mismatch{Height: h, Check: "next_validators_hash", Expected: hexU(next.Hash()), Got: hexU(got)})
		}
		if h > r.From {
			if !bytes.Equal(hdr.LastBlockID.Hash, prevHash) {
				r.mismatch(Mismatch{Height: h - 1, Check: "last_block_id", Expected: hexU(prevHash), Got: hexU(hdr.LastBlockID.Hash),
					Detail: fmt.Sprintf("block %d's header names another block %d", h, h-1)})
			}
			if err := prev.VerifyCommitLight(gen.ChainID, hdr.LastBlockID, h-1, blk.LastCommit); err != nil {
				r.mismatch(Mismatch{Height: h - 1, Check: "commit", Detail: fmt.Sprintf("block %d's last commit: %v", h, err)})
			} else {
				r.CommitsVerified++
			}
			if !bytes.Equal(hdr.LastResultsHash, expectResults) {
				r.mismatch(Mismatch{Height: h - 1, Check: "results_hash", Expected: hexU(hdr.LastResultsHash), Got: hexU(expectResults),
					Detail: fmt.Sprintf("the replayed results of block %d against block %d's header", h-1, h)})
			}
			r.ResultsChecked++
		}
		// The app hash in this header is the state after the previous
		// block (after InitChain for the first).
		if !bytes.Equal(hdr.AppHash, expectApp) {
			r.mismatch(Mismatch{Height: h - 1, Check: "app_hash", Expected: hexU(hdr.AppHash), Got: hexU(expectApp),
				Detail: fmt.Sprintf("the replayed state after block %d against the app hash signed in block %d's header", h-1, h)})
		}
		r.AppHashesChecked++

		res, err := ap.FinalizeBlock(ctx, &abcitypes.RequestFinalizeBlock{Txs: blk.Txs.ToSliceOfBytes(), Hash: blk.Hash(), Height: h, Time: hdr.Time,
			NextValidatorsHash: hdr.NextValidatorsHash, ProposerAddress: hdr.ProposerAddress})
		if err != nil {
			return nil, fmt.Errorf("replay FinalizeBlock %d: %w", h, err)
		}
		if _, err := ap.Commit(ctx, &abcitypes.RequestCommit{}); err != nil {
			return nil, fmt.Errorf("replay Commit %d: %w", h, err)
		}
		r.Blocks++
		r.tally(res.TxResults)
		expectApp, expectResults = res.AppHash, cmttypes.NewResults(res.TxResults).Hash()
		replayed[h] = res.AppHash
		prevHash = blk.Hash()

		nn := next.Copy()
		if len(res.ValidatorUpdates) > 0 {
			ups, err := cmttypes.PB2TM.ValidatorUpdates(res.ValidatorUpdates)
			if err != nil {
				return nil, fmt.Errorf("block %d: validator updates: %w", h, err)
			}
			if err := nn.UpdateWithChangeSet(ups); err != nil {
				return nil, fmt.Errorf("block %d: validator updates: %w", h, err)
			}
		}
		if res.ConsensusParamUpdates != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("block %d changed the consensus parameters (not re-checked)", h))
		}
		prev, cur, next = cur, next, nn
		if o.Progress != nil {
			o.Progress(h, top)
		}
	}

	// The last block: nothing after it signs its app hash. Its own
	// commit (the seen commit) signs the block; its app hash and results
	// are compared with what the node saved.
	if r.To >= r.From {
		if seen := in.Blocks.LoadSeenCommit(r.To); seen != nil {
			if err := prev.VerifyCommitLight(gen.ChainID, seen.BlockID, r.To, seen); err != nil || !bytes.Equal(seen.BlockID.Hash, prevHash) {
				r.mismatch(Mismatch{Height: r.To, Check: "commit", Detail: fmt.Sprintf("the seen commit of the last block: %v", err)})
			} else {
				r.CommitsVerified++
			}
		}
		r.TailUnsigned = true
		if st, err := in.State(); err == nil && st.LastBlockHeight == r.To {
			if !bytes.Equal(st.AppHash, expectApp) {
				r.mismatch(Mismatch{Height: r.To, Check: "app_hash", Expected: hexU(st.AppHash), Got: hexU(expectApp), Detail: "against the node's saved state (no later header signs it)"})
			}
			if !bytes.Equal(st.LastResultsHash, expectResults) {
				r.mismatch(Mismatch{Height: r.To, Check: "results_hash", Expected: hexU(st.LastResultsHash), Got: hexU(expectResults), Detail: "against the node's saved state"})
			}
		}
	}
	r.AppHash = hexU(expectApp)
	if snap := a.Committed(); snap != nil {
		t := snap.Totals()
		r.EventsAccepted, r.EventsRejected, r.Certificates, r.Revocations, r.Supersessions = t.EventsAccepted, t.EventsRejected, t.Certificates, t.Revocations, t.Supersessions
	}
	r.Elapsed = time.Since(start)
	if s := r.Elapsed.Seconds(); s > 0 {
		r.EventsPerSecond = float64(r.EventsAccepted+r.EventsRejected) / s
	}
	if err := a.Close(); err != nil {
		return nil, err
	}
	closed = true

	switch {
	case o.SkipStoredState:
	case r.MismatchCount > 0:
		// The replay itself diverged from the signed chain: a stored
		// state that disagrees with it says nothing more.
		r.Notes = append(r.Notes, "the stored state was not compared: the replay diverged from the signed blocks")
	default:
		if err := compareStored(in, scratch, replayed, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// loadBlock loads a block. CometBFT's store refuses (panics on) a block
// that does not match its own header; for an auditor that is a finding,
// and the block is decoded without that check so that its transactions can
// still be replayed and the divergence located. err describes the defect.
func loadBlock(in *node.Inspector, h int64) (b *cmttypes.Block, defect error, err error) {
	func() {
		defer func() {
			if p := recover(); p != nil {
				defect = fmt.Errorf("%v", p)
			}
		}()
		b = in.Blocks.LoadBlock(h)
	}()
	if defect == nil {
		if b == nil {
			return nil, nil, fmt.Errorf("block %d is missing from the block store", h)
		}
		return b, nil, nil
	}
	b, err = decodeUnchecked(in, h)
	return b, defect, err
}

// decodeUnchecked reassembles block h from its stored parts and decodes it
// as CometBFT's BlockFromProto does, without its final ValidateBasic.
func decodeUnchecked(in *node.Inspector, h int64) (b *cmttypes.Block, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("block %d cannot be decoded: %v", h, p)
		}
	}()
	meta := in.Blocks.LoadBlockMeta(h)
	if meta == nil {
		return nil, fmt.Errorf("block %d has no meta in the block store", h)
	}
	var buf []byte
	for i := 0; i < int(meta.BlockID.PartSetHeader.Total); i++ {
		part := in.Blocks.LoadBlockPart(h, i)
		if part == nil {
			return nil, fmt.Errorf("block %d: part %d is missing", h, i)
		}
		buf = append(buf, part.Bytes...)
	}
	pb := new(cmtproto.Block)
	if err := pb.Unmarshal(buf); err != nil {
		return nil, fmt.Errorf("block %d cannot be decoded: %w", h, err)
	}
	b = new(cmttypes.Block)
	if b.Header, err = cmttypes.HeaderFromProto(&pb.Header); err != nil {
		return nil, err
	}
	if b.Data, err = cmttypes.DataFromProto(&pb.Data); err != nil {
		return nil, err
	}
	if err := b.Evidence.FromProto(&pb.Evidence); err != nil {
		return nil, err
	}
	if pb.LastCommit != nil {
		if b.LastCommit, err = cmttypes.CommitFromProto(pb.LastCommit); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// tally counts one block's results.
func (r *Report) tally(results []*abcitypes.ExecTxResult) {
	for _, res := range results {
		r.Txs++
		var sum abci.TxSummary
		if err := json.Unmarshal(res.Data, &sum); err != nil {
			r.TxsByKind["(undecodable result)"]++
			continue
		}
		kind := sum.Kind
		if kind == "" {
			kind = "(undecodable transaction)"
		}
		r.TxsByKind[kind]++
		if sum.Code != app.OK {
			r.TxRejected++
			r.TxRejections[string(sum.Code)]++
		}
		for _, it := range sum.Refused {
			r.ItemRejections[string(it.Code)]++
		}
	}
}

// compareStored compares the home's saved app state with the replay: the
// root hash of every saved version, then every key of the tree at the
// home's latest version, then every index entry written up to it.
func compareStored(in *node.Inspector, scratch node.Home, replayed map[int64][]byte, r *Report) error {
	if _, err := os.Stat(filepath.Join(in.Home.AppData(), "state.db")); err != nil {
		r.Notes = append(r.Notes, "the home has no app state to compare (data/app/state.db is absent)")
		return nil
	}
	stored, closeStored, err := openTree(in.Home.AppData())
	if err != nil {
		r.mismatch(Mismatch{Check: "state", Detail: "the stored app state cannot be loaded: " + err.Error()})
		return nil
	}
	defer closeStored()
	latest := stored.Version()
	upTo := min(latest, r.To)
	if latest > r.To {
		r.Notes = append(r.Notes, fmt.Sprintf("the app state is at %d, beyond the last block %d in the store", latest, r.To))
	}
	for v := r.From; v <= upTo; v++ {
		if !stored.VersionExists(v) {
			continue
		}
		it, err := stored.GetImmutable(v)
		if err != nil {
			r.mismatch(Mismatch{Height: v, Check: "stored_app_hash", Detail: "the stored version cannot be loaded: " + err.Error()})
			continue
		}
		r.StoredVersions++
		if want := replayed[v]; !bytes.Equal(it.Hash(), want) {
			r.mismatch(Mismatch{Height: v, Check: "stored_app_hash", Expected: hexU(want), Got: hexU(it.Hash()), Detail: "the root hash the home saved for this height"})
		}
	}
	if upTo < r.From {
		return nil
	}
	mine, closeMine, err := openTree(scratch.AppData())
	if err != nil {
		return fmt.Errorf("reopen the replayed state: %w", err)
	}
	defer closeMine()
	if err := diffTrees(stored, mine, upTo, r); err != nil {
		return err
	}
	return diffIndexes(in.Home.AppData(), scratch.AppData(), upTo, r)
}

// openTree loads an app's IAVL tree read-only, reading through the tree's
// nodes (what the root hash commits to), not IAVL's fast-node copy.
func openTree(dir string) (*iavl.MutableTree, func() error, error) {
	db, err := idb.NewGoLevelDBWithOpts("state", dir, &opt.Options{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	tree := iavl.NewMutableTree(db, 10_000, true, iavl.NewNopLogger())
	if _, err := tree.Load(); err != nil {
		db.Close()
		return nil, nil, err
	}
	return tree, db.Close, nil
}

// diffTrees walks both trees at version v in key order and reports every
// key whose value differs, with the height that wrote each side's leaf.
func diffTrees(stored, mine *iavl.MutableTree, v int64, r *Report) error {
	si, err := stored.GetImmutable(v)
	if err != nil {
		r.mismatch(Mismatch{Height: v, Check: "state", Detail: "the stored version cannot be loaded: " + err.Error()})
		return nil
	}
	mi, err := mine.GetImmutable(v)
	if err != nil {
		return fmt.Errorf("replayed version %d: %w", v, err)
	}
	sIt, err := si.Iterator(nil, nil, true)
	if err != nil {
		return err
	}
	defer sIt.Close()
	mIt, err := mi.Iterator(nil, nil, true)
	if err != nil {
		return err
	}
	defer mIt.Close()
	leafVersion := func(t *iavl.ImmutableTree, key []byte) int64 {
		var ver int64
		t.IterateRangeInclusive(key, key, true, func(_, _ []byte, version int64) bool {
			ver = version
			return true
		})
		return ver
	}
	for sIt.Valid() || mIt.Valid() {
		r.StateKeys++
		var c int
		switch {
		case !sIt.Valid():
			c = 1
		case !mIt.Valid():
			c = -1
		default:
			c = bytes.Compare(sIt.Key(), mIt.Key())
		}
		switch {
		case c == 0:
			if !bytes.Equal(sIt.Value(), mIt.Value()) {
				k := sIt.Key()
				sv, mv := leafVersion(si, k), leafVersion(mi, k)
				at := diffAt(mIt.Value(), sIt.Value())
				r.mismatch(Mismatch{Height: sv, Check: "state", Key: printable(k), Expected: excerptAt(mIt.Value(), at), Got: excerptAt(sIt.Value(), at),
					Detail: fmt.Sprintf("the stored leaf was written at height %d, the replayed one at %d; %s", sv, mv, firstDiff(mIt.Value(), sIt.Value()))})
			}
			sIt.Next()
			mIt.Next()
		case c < 0:
			k := sIt.Key()
			r.mismatch(Mismatch{Height: leafVersion(si, k), Check: "state", Key: printable(k), Expected: "(absent)", Got: excerpt(sIt.Value()), Detail: "a key the replay does not have"})
			sIt.Next()
		default:
			k := mIt.Key()
			r.mismatch(Mismatch{Height: leafVersion(mi, k), Check: "state", Key: printable(k), Expected: excerpt(mIt.Value()), Got: "(absent)", Detail: "a key the stored state lacks"})
			mIt.Next()
		}
	}
	if err := sIt.Error(); err != nil {
		r.mismatch(Mismatch{Height: v, Check: "state", Detail: "reading the stored tree: " + err.Error()})
	}
	return mIt.Error()
}

// ixEntry is one index entry: the height that wrote it and the value.
type ixEntry struct {
	key    []byte
	height int64
	value  []byte
}

// diffIndexes compares the index entries written up to height upTo.
// Entries written later (the stored app may be behind the block store, or
// have written a block's index before a crash) are skipped on both sides.
func diffIndexes(storedDir, mineDir string, upTo int64, r *Report) error {
	stored, closeS, err := readIndex(storedDir, upTo)
	if err != nil {
		r.mismatch(Mismatch{Check: "index", Detail: "the stored index cannot be read: " + err.Error()})
		return nil
	}
	defer closeS()
	mine, closeM, err := readIndex(mineDir, upTo)
	if err != nil {
		return fmt.Errorf("the replayed index: %w", err)
	}
	defer closeM()
	s, sok := stored()
	m, mok := mine()
	for sok || mok {
		r.IndexEntries++
		var c int
		switch {
		case !sok:
			c = 1
		case !mok:
			c = -1
		default:
			c = bytes.Compare(s.key, m.key)
		}
		switch {
		case c == 0:
			if s.height != m.height || !bytes.Equal(s.value, m.value) {
				at := diffAt(m.value, s.value)
				r.mismatch(Mismatch{Height: s.height, Check: "index", Key: printable(s.key), Expected: fmt.Sprintf("%s (height %d)", excerptAt(m.value, at), m.height),
					Got: fmt.Sprintf("%s (height %d)", excerptAt(s.value, at), s.height), Detail: firstDiff(m.value, s.value)})
			}
			s, sok = stored()
			m, mok = mine()
		case c < 0:
			r.mismatch(Mismatch{Height: s.height, Check: "index", Key: printable(s.key), Expected: "(absent)", Got: excerpt(s.value), Detail: "an entry the replay does not have"})
			s, sok = stored()
		default:
			r.mismatch(Mismatch{Height: m.height, Check: "index", Key: printable(m.key), Expected: excerpt(m.value), Got: "(absent)", Detail: "an entry the stored index lacks"})
			m, mok = mine()
		}
	}
	return nil
}

// readIndex opens an app's index read-only and returns a function that
// yields its entries in key order, skipping the height marker and entries
// written after upTo. The index layout (app/index.go): each value starts
// with the 8-byte big-endian height that wrote it.
func readIndex(dir string, upTo int64) (func() (ixEntry, bool), func(), error) {
	db, err := idb.NewGoLevelDBWithOpts("index", dir, &opt.Options{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	it, err := db.Iterator(nil, nil)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	next := func() (ixEntry, bool) {
		for ; it.Valid(); it.Next() {
			k, v := it.Key(), it.Value()
			if string(k) == "m/height" {
				continue
			}
			e := ixEntry{key: bytes.Clone(k)}
			if len(v) >= 8 {
				e.height = int64(uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32 | uint64(v[4])<<24 | uint64(v[5])<<16 | uint64(v[6])<<8 | uint64(v[7]))
				e.value = bytes.Clone(v[8:])
			} else {
				e.value = bytes.Clone(v)
			}
			if e.height > upTo {
				continue
			}
			it.Next()
			return e, true
		}
		return ixEntry{}, false
	}
	return next, func() { it.Close(); db.Close() }, nil
}

func hexU(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// printable shows a key as text when it is, else as hex.
func printable(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "0x" + hex.EncodeToString(b)
		}
	}
	return string(b)
}

// excerpt shows at most 96 bytes of a value.
func excerpt(b []byte) string {
	s := printable(b)
	if len(s) > 96 {
		s = s[:96] + "..."
	}
	return s
}

// diffAt is the index of the first differing byte.
func diffAt(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// excerptAt shows the part of a value around byte i.
func excerptAt(b []byte, i int) string {
	lo, hi := max(i-40, 0), min(i+40, len(b))
	s := printable(b[lo:hi])
	if lo > 0 {
		s = "..." + s
	}
	if hi < len(b) {
		s += "..."
	}
	return s
}

// firstDiff names the first differing byte of two values.
func firstDiff(want, got []byte) string {
	n := min(len(want), len(got))
	for i := 0; i < n; i++ {
		if want[i] != got[i] {
			return fmt.Sprintf("first difference at byte %d: %q instead of %q", i, got[i], want[i])
		}
	}
	if len(want) != len(got) {
		return fmt.Sprintf("%d bytes instead of %d", len(got), len(want))
	}
	return "identical values written at different heights"
}

// Write prints the report for people.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "audit replay of %s (chain %s)\n", r.Home, r.ChainID)
	fmt.Fprintf(w, "  blocks        %d (heights %d to %d)\n", r.Blocks, r.From, r.To)
	fmt.Fprintf(w, "  transactions  %d (%d refused)\n", r.Txs, r.TxRejected)
	for _, k := range sortedKeys(r.TxsByKind) {
		fmt.Fprintf(w, "    %-28s %d\n", k, r.TxsByKind[k])
	}
	fmt.Fprintf(w, "  events        %d (%d accepted, %d rejected)\n", r.EventsAccepted+r.EventsRejected, r.EventsAccepted, r.EventsRejected)
	fmt.Fprintf(w, "  certificates  %d\n", r.Certificates)
	fmt.Fprintf(w, "  revocations   %d\n", r.Revocations)
	fmt.Fprintf(w, "  supersessions %d\n", r.Supersessions)
	if len(r.TxRejections)+len(r.ItemRejections) > 0 {
		fmt.Fprintln(w, "  rejections by code:")
		for _, k := range sortedKeys(r.TxRejections) {
			fmt.Fprintf(w, "    %-28s %d transactions\n", k, r.TxRejections[k])
		}
		for _, k := range sortedKeys(r.ItemRejections) {
			fmt.Fprintf(w, "    %-28s %d items\n", k, r.ItemRejections[k])
		}
	}
	fmt.Fprintf(w, "  checked       %d headers, %d commits (validators' signatures), %d app hashes and %d results hashes against the next header\n",
		r.HeadersChecked, r.CommitsVerified, r.AppHashesChecked, r.ResultsChecked)
	fmt.Fprintf(w, "  stored state  %d saved versions' root hashes, %d state keys and %d index entries compared with the replay\n", r.StoredVersions, r.StateKeys, r.IndexEntries)
	fmt.Fprintf(w, "  app hash      %s at %d\n", r.AppHash, r.To)
	fmt.Fprintf(w, "  replay speed  %.0f events/s (%s)\n", r.EventsPerSecond, r.Elapsed.Round(time.Millisecond))
	for _, n := range r.Notes {
		fmt.Fprintln(w, "  note:", n)
	}
	if r.OK() {
		fmt.Fprintln(w, "OK: the replay matches every signed header and the stored state")
		return
	}
	f := r.First()
	fmt.Fprintf(w, "MISMATCH: %d findings; first at %s\n", r.MismatchCount, f)
	for _, m := range r.Mismatches {
		fmt.Fprintln(w, "  -", m)
	}
	if r.MismatchCount > len(r.Mismatches) {
		fmt.Fprintf(w, "  ... and %d more\n", r.MismatchCount-len(r.Mismatches))
	}
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
