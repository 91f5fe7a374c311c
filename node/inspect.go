package node

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	cmtdb "github.com/cometbft/cometbft-db"
	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/divoc/divoc/abci"
	"github.com/divoc/divoc/app"
)

// Inspector reads a stopped node's home through the stores' own APIs:
// CometBFT's block store and state store (blocks, their transactions, the
// FinalizeBlock responses with every event), the genesis, and the app's
// IAVL tree and index. It never writes: the LevelDB databases are opened
// read-only (a database that needs repair makes it fail instead), so it may
// also be pointed at a copy of a home taken from a crashed node.
//
// It must not be used on the home of a running node.
type Inspector struct {
	Home   Home
	Config *cmtcfg.Config
	// Blocks is CometBFT's block store; States its state store (which
	// keeps the FinalizeBlock response of every height unless
	// storage.discard_abci_responses is set).
	Blocks *store.BlockStore
	States sm.Store

	closers []func() error
}

// Inspect opens a stopped node's home for reading.
func Inspect(home Home) (*Inspector, error) {
	cfg, err := LoadCometConfig(home)
	if err != nil {
		return nil, err
	}
	in := &Inspector{Home: home, Config: cfg}
	blockDB, err := openCometDB(cfg, "blockstore")
	if err != nil {
		return nil, fmt.Errorf("open the block store (has the node run? is it stopped?): %w", err)
	}
	in.closers = append(in.closers, blockDB.Close)
	stateDB, err := openCometDB(cfg, "state")
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("open the state store: %w", err)
	}
	in.closers = append(in.closers, stateDB.Close)
	in.Blocks = store.NewBlockStore(blockDB)
	in.States = sm.NewStore(stateDB, sm.StoreOptions{DiscardABCIResponses: cfg.Storage.DiscardABCIResponses})
	return in, nil
}

// openCometDB opens one of CometBFT's databases read-only when it is a
// goleveldb one (the default); other backends go through CometBFT's own
// provider.
func openCometDB(cfg *cmtcfg.Config, name string) (cmtdb.DB, error) {
	if cfg.DBBackend == "" || cmtdb.BackendType(cfg.DBBackend) == cmtdb.GoLevelDBBackend {
		return cmtdb.NewGoLevelDBWithOpts(name, cfg.DBDir(), &opt.Options{ReadOnly: true})
	}
	return cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: name, Config: cfg})
}

// Close releases the databases.
func (in *Inspector) Close() error {
	var errs []error
	for i := len(in.closers) - 1; i >= 0; i-- {
		errs = append(errs, in.closers[i]())
	}
	in.closers = nil
	return errors.Join(errs...)
}

// Genesis reads config/genesis.json.
func (in *Inspector) Genesis() (*cmttypes.GenesisDoc, error) {
	return cmttypes.GenesisDocFromFile(in.Config.GenesisFile())
}

// State is CometBFT's last saved state: LastBlockHeight and the AppHash
// the app returned for it.
func (in *Inspector) State() (sm.State, error) { return in.States.Load() }

// Base and Height are the first and last heights in the block store.
func (in *Inspector) Base() int64   { return in.Blocks.Base() }
func (in *Inspector) Height() int64 { return in.Blocks.Height() }

// Block loads the block at height h.
func (in *Inspector) Block(h int64) (*cmttypes.Block, error) {
	b := in.Blocks.LoadBlock(h)
	if b == nil {
		return nil, fmt.Errorf("block %d is not in the block store (base %d, height %d)", h, in.Blocks.Base(), in.Blocks.Height())
	}
	return b, nil
}

// FinalizeBlockResponse is what the app answered for block h: each
// transaction's result (code, data, log, events) and the block's events.
func (in *Inspector) FinalizeBlockResponse(h int64) (*abcitypes.ResponseFinalizeBlock, error) {
	return in.States.LoadFinalizeBlockResponse(h)
}

// Anchored reads every stored block and its FinalizeBlock response and
// counts, per certificate, the accepted vaccination events that anchor it
// (an event the ledger refused anchors nothing): what an auditor checks
// against the certificates a node acknowledged. events is the total.
func (in *Inspector) Anchored() (anchored map[string]int, events int, err error) {
	anchored = map[string]int{}
	for height := in.Base(); height <= in.Height(); height++ {
		b, err := in.Block(height)
		if err != nil {
			return nil, 0, err
		}
		resp, err := in.FinalizeBlockResponse(height)
		if err != nil {
			return nil, 0, fmt.Errorf("FinalizeBlock response %d: %w", height, err)
		}
		for i, raw := range b.Txs {
			tx, e := app.DecodeTx(raw, 0)
			if e != nil || tx.Kind != app.KindRecord || len(tx.Parts) != 2 {
				continue
			}
			var sum abci.TxSummary
			if err := json.Unmarshal(resp.TxResults[i].Data, &sum); err != nil {
				return nil, 0, fmt.Errorf("block %d tx %d result: %w", height, i, err)
			}
			if sum.Code != app.OK {
				continue
			}
			refused := map[int]bool{}
			for _, it := range sum.Refused {
				refused[it.Index] = true
			}
			pb, err := base64.RawURLEncoding.DecodeString(tx.Parts[1].Payload)
			if err != nil {
				return nil, 0, fmt.Errorf("block %d tx %d anchor statement: %w", height, i, err)
			}
			var anc app.AnchorStatement
			if err := json.Unmarshal(pb, &anc); err != nil {
				return nil, 0, fmt.Errorf("block %d tx %d anchor statement: %w", height, i, err)
			}
			for j, a := range anc.Anchors {
				if !refused[j] {
					anchored[a.Certificate]++
					events++
				}
			}
		}
	}
	return anchored, events, nil
}

// AppTree describes the version of the app's IAVL tree that was walked.
type AppTree struct {
	// Latest is the newest saved version (the app's committed height).
	Latest int64
	// Version and Hash are the walked version and its root hash (the app
	// hash of that height).
	Version int64
	Hash    []byte
	// Keys counts the entries walked.
	Keys int
}

// openAppTree loads the app's IAVL tree from a read-only database.
func (in *Inspector) openAppTree() (*iavl.MutableTree, int64, func() error, error) {
	db, err := idb.NewGoLevelDBWithOpts("state", in.Home.AppData(), &opt.Options{ReadOnly: true})
	if err != nil {
		return nil, 0, nil, fmt.Errorf("open the app state: %w", err)
	}
	// skipFastStorageUpgrade: loading must not write the fast-node index,
	// and reads then traverse the tree's own nodes.
	tree := iavl.NewMutableTree(db, 10_000, true, iavl.NewNopLogger())
	latest, err := tree.Load()
	if err != nil {
		db.Close()
		return nil, 0, nil, fmt.Errorf("load the app state: %w", err)
	}
	return tree, latest, db.Close, nil
}

// WalkAppState calls f with every key and value of the app's IAVL tree at
// version (0: the latest saved), in key order, by traversing the tree's
// nodes (what the root hash commits to, not IAVL's fast-node copy). It
// stops at the first error f returns.
func (in *Inspector) WalkAppState(version int64, f func(key, value []byte) error) (AppTree, error) {
	var info AppTree
	tree, latest, closeDB, err := in.openAppTree()
	if err != nil {
		return info, err
	}
	defer closeDB()
	info.Latest = latest
	if latest == 0 {
		return info, nil
	}
	if version == 0 {
		version = latest
	}
	it, err := tree.GetImmutable(version)
	if err != nil {
		return info, fmt.Errorf("app state version %d: %w", version, err)
	}
	info.Version, info.Hash = version, it.Hash()
	var ferr error
	if _, err := it.Iterate(func(k, v []byte) bool {
		info.Keys++
		ferr = f(k, v)
		return ferr != nil
	}); err != nil {
		return info, fmt.Errorf("iterate the app state: %w", err)
	}
	return info, ferr
}

// AppHashes returns the root hash of each saved version of the app's tree
// from `from` to `to` (the app hash the app returned for each height; nil
// where the version was pruned) and the latest saved version. to = 0 means
// the latest.
func (in *Inspector) AppHashes(from, to int64) (map[int64][]byte, int64, error) {
	tree, latest, closeDB, err := in.openAppTree()
	if err != nil {
		return nil, 0, err
	}
	defer closeDB()
	if to == 0 || to > latest {
		to = latest
	}
	out := map[int64][]byte{}
	for v := max(from, 1); v <= to; v++ {
		if !tree.VersionExists(v) {
			out[v] = nil
			continue
		}
		it, err := tree.GetImmutable(v)
		if err != nil {
			return nil, latest, fmt.Errorf("app state version %d: %w", v, err)
		}
		out[v] = it.Hash()
	}
	return out, latest, nil
}

// WalkAppIndex calls f with every entry of the app's index (index.db, the
// deterministic store beside the tree), in key order. Values are as
// stored: 8 bytes of height, then the entry. It returns the number of
// entries walked and stops at the first error f returns.
func (in *Inspector) WalkAppIndex(f func(key, value []byte) error) (int, error) {
	db, err := idb.NewGoLevelDBWithOpts("index", in.Home.AppData(), &opt.Options{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("open the app index: %w", err)
	}
	defer db.Close()
	it, err := db.Iterator(nil, nil)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	n := 0
	for ; it.Valid(); it.Next() {
		n++
		if err := f(it.Key(), it.Value()); err != nil {
			return n, err
		}
	}
	return n, it.Error()
}
