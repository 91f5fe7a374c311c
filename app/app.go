// Package app is the deterministic state machine of the DIVOC ledger: the
// transaction kinds, their checks, and the state they change (an IAVL tree
// whose root is the app hash, and a deterministic index beside it).
//
// It knows nothing of networking, CometBFT types or the wall clock: every
// rule uses the block's time, state is read and written in a fixed order,
// and nothing here holds personal data.
//
// The block lifecycle follows ABCI 2.0: FinalizeBlock executes a block and
// stages its writes, returning the app hash; Commit persists them.
package app

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"
)

// Options configure an App.
type Options struct {
	// Dir holds the state: state.db (the IAVL tree) and index.db.
	Dir string
	// CacheSize is the IAVL node cache, in nodes.
	CacheSize int
	// KeepVersions: tree versions older than this many heights are pruned
	// (0 keeps all).
	KeepVersions int64
	// MaxTxBytes refuses larger transactions before parsing them.
	MaxTxBytes int
	// SnapshotInterval: a state sync snapshot is taken every this many
	// heights, in the background after Commit (0: none; see snapshot.go).
	SnapshotInterval int64
	// SnapshotKeep is how many recent snapshots are kept (default 2).
	SnapshotKeep int
	// SnapshotChunkSize is the size of a snapshot's chunks (default 8 MiB).
	SnapshotChunkSize int
}

// Logger receives what happens off the consensus path (snapshots, state
// sync). CometBFT's logger is one.
type Logger interface {
	Info(msg string, keyvals ...any)
	Error(msg string, keyvals ...any)
}

type nopLogger struct{}

func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}

// DefaultMaxTxBytes is the default transaction size limit.
const DefaultMaxTxBytes = 8 << 20

// App is the state machine.
type App struct {
	opts   Options
	treeDB *idb.GoLevelDB
	tree   *iavl.MutableTree
	ix     *index

	// Set by InitChain or loaded from state.
	chain  string
	params Params

	// The block being executed, between FinalizeBlock and Commit.
	pending *pendingBlock

	// decoded caches stateless decoding by transaction hash: CheckTx,
	// PrepareProposal, ProcessProposal and FinalizeBlock each see the same
	// bytes, and decoding a batch of thousands of events is not free. The
	// result is a pure function of the bytes, so caching it cannot change a
	// decision.
	decodedMu sync.Mutex
	decoded   map[string]decodedTx

	committed atomic.Pointer[Snapshot]
	commitMu  sync.Mutex
	listeners []func(*CommittedBlock)

	log Logger

	// State sync snapshots being taken (snapshot.go) and restored
	// (restore.go).
	snapBusy     atomic.Bool
	snapPinned   atomic.Int64 // the height of the snapshot being written
	snapWG       sync.WaitGroup
	snapMu       sync.Mutex
	snapCancel   context.CancelFunc
	restoreMu    sync.Mutex
	restore      *restoring
	restoreDirty bool
}

type pendingBlock struct {
	height  int64
	time    time.Time
	blk     *blockState
	results []*TxResult
	hashes  []string
	appHash []byte
}

// Snapshot is a committed version of the state, safe to read from any
// goroutine while later blocks execute.
type Snapshot struct {
	Height  int64
	AppHash []byte
	Time    time.Time
	tree    *iavl.ImmutableTree
}

// CommittedBlock is what listeners learn after Commit: the results of each
// transaction, by hash.
type CommittedBlock struct {
	Height   int64
	Time     time.Time
	AppHash  []byte
	TxHashes []string
	Results  []*TxResult
	// Events is the block's journal (see journal.go).
	Events []BlockEvent
}

// Open loads the state in opts.Dir, creating it if absent.
func Open(opts Options) (*App, error) {
	if opts.CacheSize == 0 {
		opts.CacheSize = 200_000
	}
	if opts.MaxTxBytes == 0 {
		opts.MaxTxBytes = DefaultMaxTxBytes
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	// A snapshot restore that did not finish leaves a partial state: start
	// from nothing (CometBFT, which saves its state only after a restore,
	// syncs again).
	if _, err := os.Stat(filepath.Join(opts.Dir, restoringMarker)); err == nil {
		for _, d := range []string{"state.db", "index.db", restoringMarker} {
			if err := os.RemoveAll(filepath.Join(opts.Dir, d)); err != nil {
				return nil, err
			}
		}
	}
	treeDB, err := idb.NewGoLevelDB("state", opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("open state: %w", err)
	}
	ix, err := openIndex(opts.Dir)
	if err != nil {
		treeDB.Close()
		return nil, err
	}
	tree := newTree(treeDB, opts.CacheSize)
	if _, err := tree.Load(); err != nil {
		ix.close()
		treeDB.Close()
		return nil, fmt.Errorf("load state: %w", err)
	}
	a := &App{opts: opts, treeDB: treeDB, tree: tree, ix: ix, log: nopLogger{}}
	a.removeUnfinishedSnapshots()
	if tree.Version() > 0 {
		if err := a.loadMeta(); err != nil {
			a.Close()
			return nil, err
		}
		ixh, err := ix.height()
		if err != nil {
			a.Close()
			return nil, err
		}
		if ixh < tree.Version() {
			a.Close()
			return nil, fmt.Errorf("index is at height %d, behind the state at %d: the index must be rebuilt by replay", ixh, tree.Version())
		}
		if err := a.snapshot(); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

func newTree(db *idb.GoLevelDB, cacheSize int) *iavl.MutableTree {
	return iavl.NewMutableTree(db, cacheSize, false, iavl.NewNopLogger(), iavl.AsyncPruningOption(true))
}

// SetLogger sets where snapshot and state sync messages go.
func (a *App) SetLogger(l Logger) {
	if l != nil {
		a.log = l
	}
}

func (a *App) loadMeta() error {
	chain, err := a.tree.Get([]byte(kChain))
	if err != nil || chain == nil {
		return fmt.Errorf("state has no chain id: %v", err)
	}
	a.chain = string(chain)
	pb, err := a.tree.Get([]byte(kParams))
	if err != nil || pb == nil {
		return fmt.Errorf("state has no params: %v", err)
	}
	return json.Unmarshal(pb, &a.params)
}

// snapshot publishes the latest saved version for readers.
func (a *App) snapshot() error {
	v := a.tree.Version()
	it, err := a.tree.GetImmutable(v)
	if err != nil {
		return fmt.Errorf("snapshot %d: %w", v, err)
	}
	s := &Snapshot{Height: v, AppHash: it.Hash(), tree: it}
	if t, err := a.ix.blockTime(); err == nil {
		s.Time = t
	}
	a.committed.Store(s)
	return nil
}

// Close stops a snapshot being written and releases the databases.
func (a *App) Close() error {
	a.snapMu.Lock()
	if a.snapCancel != nil {
		a.snapCancel()
	}
	a.snapMu.Unlock()
	a.snapWG.Wait()
	a.restoreMu.Lock()
	a.abandonRestore()
	a.restoreMu.Unlock()
	err := a.tree.Close()
	if e := a.ix.close(); err == nil {
		err = e
	}
	if e := a.treeDB.Close(); err == nil {
		err = e
	}
	return err
}

// ChainID is the chain this state belongs to ("" before InitChain).
func (a *App) ChainID() string { return a.chain }

// Params are the chain's parameters.
func (a *App) Params() Params { return a.params }

// MaxTxBytes is the size limit applied before parsing.
func (a *App) MaxTxBytes() int { return a.opts.MaxTxBytes }

// Info returns the last committed height and app hash.
func (a *App) Info() (int64, []byte) {
	if s := a.committed.Load(); s != nil {
		return s.Height, s.AppHash
	}
	return 0, nil
}

// Committed returns the latest committed snapshot (nil before the first block).
func (a *App) Committed() *Snapshot { return a.committed.Load() }

// OnCommit registers a function called after every Commit, in the
// committing goroutine. Listeners must not block.
func (a *App) OnCommit(f func(*CommittedBlock)) {
	a.commitMu.Lock()
	defer a.commitMu.Unlock()
	a.listeners = append(a.listeners, f)
}

// InitChain loads the genesis app_state, records the genesis validators
// (CometBFT's, from genesis.json) and returns the app hash it gives.
func (a *App) InitChain(chainID string, appState []byte, genesisTime time.Time, validators ...Validator) ([]byte, error) {
	if a.tree.Version() > 0 {
		return nil, errors.New("InitChain on a state that already has blocks")
	}
	g, err := ParseGenesis(appState)
	if err != nil {
		return nil, err
	}
	if chainID == "" {
		return nil, errors.New("empty chain id")
	}
	a.chain, a.params = chainID, g.Params
	c := &execCtx{app: a, kv: a.tree, chain: chainID, params: g.Params, time: genesisTime, blk: newBlockState()}
	c.set(kChain, []byte(chainID))
	g.apply(c)
	for _, v := range validators {
		pub, err := v.Key()
		if err != nil {
			return nil, err
		}
		v.Address = ValidatorAddress(pub)
		c.setJSON(kValidator+v.Address, v)
	}
	return a.tree.WorkingHash(), nil
}

// Block is a decided block as the app sees it.
type Block struct {
	Height int64
	Time   time.Time
	Txs    [][]byte
}

// FinalizeBlock executes a block. Its writes are staged until Commit; the
// returned app hash is the root the validators will sign.
func (a *App) FinalizeBlock(b Block) ([]*TxResult, []byte, error) {
	if a.chain == "" {
		return nil, nil, errors.New("FinalizeBlock before InitChain")
	}
	if want := a.tree.Version() + 1; b.Height != want {
		return nil, nil, fmt.Errorf("FinalizeBlock for height %d, state expects %d", b.Height, want)
	}
	if a.pending != nil {
		// A block executed but not committed (the round failed, or the
		// process is replaying): start over from the saved version.
		a.tree.Rollback()
		a.pending = nil
	}
	p := &pendingBlock{height: b.Height, time: b.Time.UTC(), blk: newBlockState()}
	for i, raw := range b.Txs {
		c := &execCtx{app: a, height: b.Height, time: p.time, chain: a.chain, params: a.params, txIdx: i, txHash: TxHash(raw), kv: a.tree, blk: p.blk}
		res := a.deliver(c, raw)
		if res.Code != OK {
			p.blk.totals.TxRejected++
		}
		p.results = append(p.results, res)
		p.hashes = append(p.hashes, c.txHash)
	}
	c := &execCtx{app: a, height: b.Height, time: p.time, chain: a.chain, params: a.params, kv: a.tree, blk: p.blk}
	c.flushCounts()
	c.flushSafety()
	if len(p.blk.events) > 0 {
		for i := range p.blk.events {
			p.blk.events[i].Height = b.Height
		}
		j, _ := json.Marshal(p.blk.events)
		c.ixSetRaw(journalKey(b.Height), j)
	}
	p.appHash = a.tree.WorkingHash()
	a.pending = p
	return p.results, p.appHash, nil
}

type decodedTx struct {
	kind string
	body body
	err  *Error
}

// maxDecoded bounds the decode cache (entries hold decoded batches).
const maxDecoded = 256

// decode parses a transaction's envelope and its kind's statements, from
// the cache when the same bytes were seen before.
func (a *App) decode(raw []byte, hash string) (string, body, *Error) {
	a.decodedMu.Lock()
	d, ok := a.decoded[hash]
	a.decodedMu.Unlock()
	if ok {
		return d.kind, d.body, d.err
	}
	tx, e := DecodeTx(raw, a.opts.MaxTxBytes)
	if e == nil {
		d.kind = tx.Kind
		d.body, e = decodeBody(tx)
	}
	d.err = e
	a.decodedMu.Lock()
	if a.decoded == nil || len(a.decoded) >= maxDecoded {
		a.decoded = map[string]decodedTx{}
	}
	a.decoded[hash] = d
	a.decodedMu.Unlock()
	return d.kind, d.body, d.err
}

// forget drops committed transactions from the decode cache.
func (a *App) forget(hashes []string) {
	a.decodedMu.Lock()
	for _, h := range hashes {
		delete(a.decoded, h)
	}
	a.decodedMu.Unlock()
}

func (a *App) deliver(c *execCtx, raw []byte) *TxResult {
	kind, b, e := a.decode(raw, c.txHash)
	if e != nil {
		r := rejected(e)
		r.Kind = kind
		return r
	}
	keys, e := verifyParts(c, b)
	if e != nil {
		r := rejected(e)
		r.Kind = kind
		return r
	}
	res := b.apply(c, keys)
	if res.Code == OK {
		h := []byte(fmt.Sprint(c.height))
		for _, p := range b.parts() {
			c.set(nonceKey(p.Header.KID, p.Header.Nonce), h)
		}
	}
	res.Kind = kind
	return res
}

// Commit persists the block FinalizeBlock executed: the index first, then
// the tree (see index.go for why this order survives a crash between them).
func (a *App) Commit() error {
	p := a.pending
	if p == nil {
		return errors.New("Commit without FinalizeBlock")
	}
	if err := a.ix.write(p.height, p.time, p.blk.ixKeys, p.blk.ixValues); err != nil {
		return fmt.Errorf("commit index at %d: %w", p.height, err)
	}
	hash, v, err := a.tree.SaveVersion()
	if err != nil {
		return fmt.Errorf("commit state at %d: %w", p.height, err)
	}
	if v != p.height || string(hash) != string(p.appHash) {
		return fmt.Errorf("commit: saved version %d hash %X, executed %d hash %X", v, hash, p.height, p.appHash)
	}
	a.pending = nil
	a.forget(p.hashes)
	if k := a.opts.KeepVersions; k > 0 && v > k && v%100 == 0 {
		to := v - k
		if pin := a.snapPinned.Load(); pin > 0 && to >= pin {
			to = pin - 1 // a snapshot of pin is being written
		}
		if to > 0 {
			if err := a.tree.DeleteVersionsTo(to); err != nil {
				return fmt.Errorf("prune to %d: %w", to, err)
			}
		}
	}
	if err := a.snapshot(); err != nil {
		return err
	}
	a.maybeSnapshot(v, p.time)
	cb := &CommittedBlock{Height: p.height, Time: p.time, AppHash: hash, TxHashes: p.hashes, Results: p.results, Events: p.blk.events}
	a.commitMu.Lock()
	ls := a.listeners
	a.commitMu.Unlock()
	for _, f := range ls {
		f(cb)
	}
	return nil
}

// CheckTx checks a transaction against the last committed state: shape,
// canonical statements, signatures by registered keys valid at the next
// height, chain, freshness and unused nonces. It writes nothing.
func (a *App) CheckTx(raw []byte) *TxResult {
	s := a.committed.Load()
	if s == nil {
		return rejected(reject(CodeMalformed, "the chain has no committed block yet"))
	}
	if a.opts.MaxTxBytes > 0 && len(raw) > a.opts.MaxTxBytes {
		return rejected(reject(CodeTooLarge, fmt.Sprintf("transaction is %d bytes, the limit is %d", len(raw), a.opts.MaxTxBytes)))
	}
	kind, b, e := a.decode(raw, TxHash(raw))
	if e != nil {
		r := rejected(e)
		r.Kind = kind
		return r
	}
	c := &execCtx{app: a, height: s.Height + 1, time: s.Time, chain: a.chain, params: a.params, check: true, kv: s.tree, blk: newBlockState()}
	if _, e := verifyParts(c, b); e != nil {
		r := rejected(e)
		r.Kind = kind
		return r
	}
	return &TxResult{Code: OK, Kind: kind}
}

// Signers returns the key ids that signed a transaction's parts (none if
// it does not decode).
func (a *App) Signers(raw []byte) []string {
	_, b, e := a.decode(raw, TxHash(raw))
	if e != nil {
		return nil
	}
	var kids []string
	for _, p := range b.parts() {
		kids = append(kids, p.Header.KID)
	}
	return kids
}

// CheckStateless checks what needs no state (ProcessProposal uses it to
// refuse blocks carrying transactions that could never be valid).
func (a *App) CheckStateless(raw []byte) *Error {
	if a.opts.MaxTxBytes > 0 && len(raw) > a.opts.MaxTxBytes {
		return reject(CodeTooLarge, fmt.Sprintf("transaction is %d bytes, the limit is %d", len(raw), a.opts.MaxTxBytes))
	}
	_, _, e := a.decode(raw, TxHash(raw))
	return e
}

// --- reads of committed state, for queries and the API ---

// Get reads a key at the snapshot.
func (s *Snapshot) Get(key string) ([]byte, error) { return s.tree.Get([]byte(key)) }

// Prove returns the value at key (nil if absent) with an ICS23 proof of its
// membership or absence in the snapshot's tree. It verifies against the app
// hash in the header of block Height+1.
func (s *Snapshot) Prove(key string) ([]byte, *ics23.CommitmentProof, error) {
	v, err := s.tree.Get([]byte(key))
	if err != nil {
		return nil, nil, err
	}
	var p *ics23.CommitmentProof
	if v != nil {
		p, err = s.tree.GetMembershipProof([]byte(key))
	} else {
		p, err = s.tree.GetNonMembershipProof([]byte(key))
	}
	return v, p, err
}

// Iterate calls f for each key with the prefix, in key order.
func (s *Snapshot) Iterate(prefix string, f func(key string, value []byte) bool) {
	var start, end []byte
	if prefix != "" {
		start, end = []byte(prefix), prefixEnd([]byte(prefix))
	}
	s.tree.IterateRange(start, end, true, func(k, v []byte) bool { return f(string(k), v) })
}

// prefixEnd is the first key after every key with the prefix (nil: none).
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Totals are the running counts at the snapshot.
func (s *Snapshot) Totals() Totals {
	var t Totals
	if b, _ := s.Get(kTotals); b != nil {
		_ = json.Unmarshal(b, &t)
	}
	return t
}

// Keys lists every key ever registered, retired ones included.
func (s *Snapshot) Keys() []Key {
	var out []Key
	s.Iterate(kKey, func(_ string, v []byte) bool {
		var k Key
		if json.Unmarshal(v, &k) == nil {
			out = append(out, k)
		}
		return false
	})
	return out
}

// Key returns one key by kid.
func (s *Snapshot) Key(kid string) *Key { return snapGet[Key](s, kKey+kid) }

// Authority returns one authority.
func (s *Snapshot) Authority(id string) *Authority { return snapGet[Authority](s, kAuthority+id) }

// Facility returns one facility.
func (s *Snapshot) Facility(code string) *Facility { return snapGet[Facility](s, kFacility+code) }

// Vaccine returns one vaccine.
func (s *Snapshot) Vaccine(code string) *Vaccine { return snapGet[Vaccine](s, kVaccine+code) }

// Program returns one program.
func (s *Snapshot) Program(id string) *Program { return snapGet[Program](s, kProgram+id) }

// Vaccinator returns one vaccinator.
func (s *Snapshot) Vaccinator(code string) *Vaccinator {
	return snapGet[Vaccinator](s, kVaccinatr+code)
}

// Status returns a certificate's revocation or supersession, nil if none.
func (s *Snapshot) Status(id string) *CertStatus { return snapGet[CertStatus](s, StatusKey(id)) }

// Batch returns a batch commitment.
func (s *Snapshot) Batch(h int64, tx int) *BatchCommitment {
	return snapGet[BatchCommitment](s, BatchKey(h, tx))
}

// List decodes every entry under a registry prefix.
func List[T any](s *Snapshot, prefix string) []T {
	var out []T
	s.Iterate(prefix, func(_ string, v []byte) bool {
		var t T
		if json.Unmarshal(v, &t) == nil {
			out = append(out, t)
		}
		return false
	})
	return out
}

// Registry prefixes, for List.
const (
	PrefixAuthorities = kAuthority
	PrefixFacilities  = kFacility
	PrefixVaccinators = kVaccinatr
	PrefixPrograms    = kProgram
	PrefixVaccines    = kVaccine
)

func snapGet[T any](s *Snapshot, key string) *T {
	b, err := s.Get(key)
	if err != nil || b == nil {
		return nil
	}
	t := new(T)
	if json.Unmarshal(b, t) != nil {
		return nil
	}
	return t
}

// Certificate returns the index entry of a certificate anchored at or
// before the snapshot's height.
func (a *App) Certificate(s *Snapshot, id string) (*CertRecord, error) {
	var rec CertRecord
	found, err := a.ix.getJSON(certKey(id), s.Height+1, &rec)
	if err != nil || !found {
		return nil, err
	}
	return &rec, nil
}

// DoseHistory returns the dose record of a recipient, program and dose.
func (a *App) DoseHistory(s *Snapshot, recipient, program string, dose int) (*DoseRecord, error) {
	var rec DoseRecord
	found, err := a.ix.getJSON(doseKey(recipient, program, dose), s.Height+1, &rec)
	if err != nil || !found {
		return nil, err
	}
	return &rec, nil
}

// Dose is one accepted dose of a recipient.
type Dose struct {
	DoseRecord
	Dose    int    `json:"dose"`
	Program string `json:"program"`
}

// Doses lists a recipient's accepted doses committed at or before the
// snapshot, by program and dose number.
func (a *App) Doses(s *Snapshot, recipient string) ([]Dose, error) {
	prefix := []byte(ixDose + recipient + "/")
	it, err := a.ix.db.Iterator(prefix, prefixEnd(prefix))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Dose
	for ; it.Valid(); it.Next() {
		v := it.Value()
		if len(v) < 8 || int64(binary.BigEndian.Uint64(v[:8])) > s.Height {
			continue
		}
		var d Dose
		if err := json.Unmarshal(v[8:], &d.DoseRecord); err != nil {
			return nil, err
		}
		rest := strings.TrimPrefix(string(it.Key()), string(prefix))
		prog, n, _ := strings.Cut(rest, "/")
		d.Program = prog
		d.Dose, _ = strconv.Atoi(n)
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Program != out[j].Program {
			return out[i].Program < out[j].Program
		}
		return out[i].Dose < out[j].Dose
	})
	return out, it.Error()
}

// BatchLeaves returns the leaf hashes of the batch of transaction tx at height h.
func (a *App) BatchLeaves(s *Snapshot, h int64, tx int) ([][]byte, error) {
	flat, err := a.ix.get(leavesKey(h, tx), s.Height+1)
	if err != nil || flat == nil {
		return nil, err
	}
	leaves := make([][]byte, len(flat)/32)
	for i := range leaves {
		leaves[i] = flat[32*i : 32*i+32]
	}
	return leaves, nil
}

// DataDir is where the state lives.
func (a *App) DataDir() string { return filepath.Clean(a.opts.Dir) }

// SnapshotAt returns the committed state at an earlier height, if it has
// not been pruned.
func (a *App) SnapshotAt(h int64) (*Snapshot, error) {
	cur := a.committed.Load()
	if cur == nil || h < 1 || h > cur.Height {
		return nil, fmt.Errorf("height %d is not committed", h)
	}
	it, err := a.tree.GetImmutable(h)
	if err != nil {
		return nil, fmt.Errorf("height %d is no longer kept: %w", h, err)
	}
	return &Snapshot{Height: h, AppHash: it.Hash(), tree: it}, nil
}
