// Package abci adapts the state machine in app/ to CometBFT's ABCI 2.0.
// It translates types and nothing else: every rule lives in app/.
package abci

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"

	"github.com/divoc/divoc/app"
)

// Codespace prefixes every non-zero code this application returns.
const Codespace = "divoc"

// AppVersion is the protocol version of the state machine.
const AppVersion = 1

// Version is the software version reported in Info.
var Version = "0.1.0"

// Application is the ABCI application.
type Application struct {
	abcitypes.BaseApplication
	app *app.App

	// MaxPendingPerSigner bounds how many of one key's transactions this
	// node's mempool admits before they are committed (threat 20: a
	// registered facility flooding the mempool cannot crowd out the
	// others). It is local policy, not consensus.
	MaxPendingPerSigner int
	pendingMu           sync.Mutex             // CheckTx runs beside FinalizeBlock (one mutex per connection)
	pending             map[string][]pendingTx // by kid
	lastHeight          int64
}

type pendingTx struct {
	hash   string
	height int64
}

// DefaultMaxPendingPerSigner is the default of MaxPendingPerSigner.
const DefaultMaxPendingPerSigner = 256

// pendingTTL: an admitted transaction not committed within this many
// blocks stops counting (it was dropped from the mempool).
const pendingTTL = 100

// New wraps a state machine.
func New(a *app.App) *Application {
	return &Application{app: a, MaxPendingPerSigner: DefaultMaxPendingPerSigner, pending: map[string][]pendingTx{}}
}

var _ abcitypes.Application = (*Application)(nil)

// Info tells CometBFT where the state is, so that it replays the blocks the
// app has not committed.
func (a *Application) Info(context.Context, *abcitypes.RequestInfo) (*abcitypes.ResponseInfo, error) {
	h, hash := a.app.Info()
	return &abcitypes.ResponseInfo{Data: "divoc", Version: Version, AppVersion: AppVersion, LastBlockHeight: h, LastBlockAppHash: hash}, nil
}

// InitChain loads the consortium genesis from app_state.
func (a *Application) InitChain(_ context.Context, req *abcitypes.RequestInitChain) (*abcitypes.ResponseInitChain, error) {
	vals := make([]app.Validator, 0, len(req.Validators))
	for _, v := range req.Validators {
		pk := v.PubKey.GetEd25519()
		if len(pk) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("init chain: validator key of type %T: only Ed25519 validators are supported", v.PubKey.Sum)
		}
		vals = append(vals, app.NewValidator(ed25519.PublicKey(pk), v.Power, ""))
	}
	hash, err := a.app.InitChain(req.ChainId, req.AppStateBytes, req.Time, vals...)
	if err != nil {
		return nil, fmt.Errorf("init chain: %w", err)
	}
	return &abcitypes.ResponseInitChain{AppHash: hash}, nil
}

// CheckTx admits a transaction to the mempool if it could be valid and its
// signers are within their share of the mempool.
func (a *Application) CheckTx(_ context.Context, req *abcitypes.RequestCheckTx) (*abcitypes.ResponseCheckTx, error) {
	r := a.app.CheckTx(req.Tx)
	if r.Code != app.OK {
		return &abcitypes.ResponseCheckTx{Code: r.Code.ABCI(), Codespace: Codespace, Log: string(r.Code) + ": " + r.Reason}, nil
	}
	if req.Type == abcitypes.CheckTxType_New {
		kids := a.app.Signers(req.Tx)
		a.pendingMu.Lock()
		defer a.pendingMu.Unlock()
		for _, kid := range kids {
			if n := len(a.pending[kid]); a.MaxPendingPerSigner > 0 && n >= a.MaxPendingPerSigner {
				return &abcitypes.ResponseCheckTx{Code: app.CodeRateLimited.ABCI(), Codespace: Codespace,
					Log: fmt.Sprintf("%s: key %s already has %d transactions waiting in this node's mempool; retry after they commit", app.CodeRateLimited, kid, n)}, nil
			}
		}
		hash := app.TxHash(req.Tx)
		for _, kid := range kids {
			a.pending[kid] = append(a.pending[kid], pendingTx{hash: hash, height: a.lastHeight})
		}
	}
	return &abcitypes.ResponseCheckTx{Code: abcitypes.CodeTypeOK}, nil
}

// settle stops counting committed (or long-gone) transactions.
func (a *Application) settle(height int64, txs [][]byte) {
	a.pendingMu.Lock()
	defer a.pendingMu.Unlock()
	a.lastHeight = height
	done := make(map[string]bool, len(txs))
	for _, tx := range txs {
		done[app.TxHash(tx)] = true
	}
	for kid, list := range a.pending {
		kept := list[:0]
		for _, p := range list {
			if !done[p.hash] && height-p.height < pendingTTL {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			delete(a.pending, kid)
		} else {
			a.pending[kid] = kept
		}
	}
}

// PrepareProposal keeps the mempool's order and drops what could never be
// valid or does not fit.
func (a *Application) PrepareProposal(_ context.Context, req *abcitypes.RequestPrepareProposal) (*abcitypes.ResponsePrepareProposal, error) {
	txs := make([][]byte, 0, len(req.Txs))
	var size int64
	for _, tx := range req.Txs {
		if size+int64(len(tx)) > req.MaxTxBytes {
			break
		}
		if a.app.CheckStateless(tx) != nil {
			continue
		}
		size += int64(len(tx))
		txs = append(txs, tx)
	}
	return &abcitypes.ResponsePrepareProposal{Txs: txs}, nil
}

// ProcessProposal refuses a block from a faulty proposer that carries a
// transaction no honest proposer would include (threat 21).
func (a *Application) ProcessProposal(_ context.Context, req *abcitypes.RequestProcessProposal) (*abcitypes.ResponseProcessProposal, error) {
	for _, tx := range req.Txs {
		if a.app.CheckStateless(tx) != nil {
			return &abcitypes.ResponseProcessProposal{Status: abcitypes.ResponseProcessProposal_REJECT}, nil
		}
	}
	return &abcitypes.ResponseProcessProposal{Status: abcitypes.ResponseProcessProposal_ACCEPT}, nil
}

// TxSummary is the Data of each transaction's result: the outcome, the
// batch it wrote, and every refused item with its code. It holds no
// personal data.
type TxSummary struct {
	Accepted int            `json:"accepted"`
	Batch    *app.BatchInfo `json:"batch,omitempty"`
	Code     app.Code       `json:"code"`
	Kind     string         `json:"kind,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Refused  []RefusedItem  `json:"refused,omitempty"`
}

// RefusedItem is one refused item of a batch.
type RefusedItem struct {
	Code   app.Code `json:"code"`
	Index  int      `json:"index"`
	Reason string   `json:"reason"`
}

// Summarize condenses a result for the block results store.
func Summarize(r *app.TxResult) TxSummary {
	s := TxSummary{Batch: r.Batch, Code: r.Code, Kind: r.Kind, Reason: r.Reason}
	for i, it := range r.Items {
		if it.Code == app.OK {
			s.Accepted++
		} else {
			s.Refused = append(s.Refused, RefusedItem{Code: it.Code, Index: i, Reason: it.Reason})
		}
	}
	return s
}

// FinalizeBlock executes the decided block.
func (a *Application) FinalizeBlock(_ context.Context, req *abcitypes.RequestFinalizeBlock) (*abcitypes.ResponseFinalizeBlock, error) {
	results, hash, err := a.app.FinalizeBlock(app.Block{Height: req.Height, Time: req.Time, Txs: req.Txs})
	if err != nil {
		return nil, err
	}
	a.settle(req.Height, req.Txs)
	out := make([]*abcitypes.ExecTxResult, len(results))
	for i, r := range results {
		sum := Summarize(r)
		data, _ := json.Marshal(sum)
		res := &abcitypes.ExecTxResult{Code: r.Code.ABCI(), Data: data}
		if r.Code != app.OK {
			res.Codespace, res.Log = Codespace, string(r.Code)+": "+r.Reason
		}
		attrs := []abcitypes.EventAttribute{
			{Key: "kind", Value: r.Kind, Index: true},
			{Key: "code", Value: string(r.Code), Index: true},
			{Key: "accepted", Value: strconv.Itoa(sum.Accepted)},
			{Key: "refused", Value: strconv.Itoa(len(sum.Refused))},
		}
		if r.Batch != nil {
			attrs = append(attrs, abcitypes.EventAttribute{Key: "batch", Value: r.Batch.Key, Index: true}, abcitypes.EventAttribute{Key: "root", Value: r.Batch.Root})
		}
		res.Events = []abcitypes.Event{{Type: "divoc.tx", Attributes: attrs}}
		out[i] = res
	}
	var updates []abcitypes.ValidatorUpdate
	for _, v := range a.app.ValidatorUpdates() {
		pk, err := v.Key()
		if err != nil {
			return nil, err
		}
		updates = append(updates, abcitypes.UpdateValidator(pk, v.Power, "ed25519"))
	}
	return &abcitypes.ResponseFinalizeBlock{TxResults: out, AppHash: hash, ValidatorUpdates: updates}, nil
}

// Commit persists the block.
func (a *Application) Commit(context.Context, *abcitypes.RequestCommit) (*abcitypes.ResponseCommit, error) {
	if err := a.app.Commit(); err != nil {
		return nil, err
	}
	return &abcitypes.ResponseCommit{}, nil
}

// ProofOpICS23 is the proof op type of state proofs: an ICS23 commitment
// proof against the IAVL root (the app hash of the next block's header).
const ProofOpICS23 = "ics23:iavl"

// Query answers path "/store" with Data = a state key: the value at the
// last committed height (or req.Height if it is still kept) and, if
// req.Prove, an ICS23 proof of membership or absence.
func (a *Application) Query(_ context.Context, req *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	if req.Path != "/store" {
		return &abcitypes.ResponseQuery{Code: 1, Codespace: Codespace, Log: fmt.Sprintf("unknown query path %q; use /store", req.Path)}, nil
	}
	s := a.app.Committed()
	if s == nil {
		return &abcitypes.ResponseQuery{Code: 1, Codespace: Codespace, Log: "no committed state yet"}, nil
	}
	if req.Height != 0 && req.Height != s.Height {
		old, err := a.app.SnapshotAt(req.Height)
		if err != nil {
			return &abcitypes.ResponseQuery{Code: 1, Codespace: Codespace, Log: err.Error()}, nil
		}
		s = old
	}
	key := string(req.Data)
	if !req.Prove {
		v, err := s.Get(key)
		if err != nil {
			return nil, err
		}
		return &abcitypes.ResponseQuery{Key: req.Data, Value: v, Height: s.Height}, nil
	}
	v, proof, err := s.Prove(key)
	if err != nil {
		return &abcitypes.ResponseQuery{Code: 1, Codespace: Codespace, Log: err.Error()}, nil
	}
	pb, err := proof.Marshal()
	if err != nil {
		return nil, err
	}
	return &abcitypes.ResponseQuery{Key: req.Data, Value: v, Height: s.Height,
		ProofOps: &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: ProofOpICS23, Key: req.Data, Data: pb}}}}, nil
}

// --- state sync: snapshots of the state, taken and restored by app/ ---

// ListSnapshots lists the snapshots this node serves to joining nodes.
func (a *Application) ListSnapshots(context.Context, *abcitypes.RequestListSnapshots) (*abcitypes.ResponseListSnapshots, error) {
	list, err := a.app.ListSnapshots()
	if err != nil {
		return &abcitypes.ResponseListSnapshots{}, nil // none to offer; the app logged why
	}
	out := &abcitypes.ResponseListSnapshots{}
	for _, s := range list {
		out.Snapshots = append(out.Snapshots, &abcitypes.Snapshot{Height: s.Height, Format: s.Format, Chunks: s.Chunks, Hash: s.Hash, Metadata: s.Metadata})
	}
	return out, nil
}

// LoadSnapshotChunk serves one chunk (empty if this node does not hold it).
func (a *Application) LoadSnapshotChunk(_ context.Context, req *abcitypes.RequestLoadSnapshotChunk) (*abcitypes.ResponseLoadSnapshotChunk, error) {
	b, err := a.app.LoadSnapshotChunk(req.Height, req.Format, req.Chunk)
	if err != nil {
		return &abcitypes.ResponseLoadSnapshotChunk{}, nil
	}
	return &abcitypes.ResponseLoadSnapshotChunk{Chunk: b}, nil
}

var offerResults = map[app.OfferResult]abcitypes.ResponseOfferSnapshot_Result{
	app.OfferAccept:       abcitypes.ResponseOfferSnapshot_ACCEPT,
	app.OfferAbort:        abcitypes.ResponseOfferSnapshot_ABORT,
	app.OfferReject:       abcitypes.ResponseOfferSnapshot_REJECT,
	app.OfferRejectFormat: abcitypes.ResponseOfferSnapshot_REJECT_FORMAT,
	app.OfferRejectSender: abcitypes.ResponseOfferSnapshot_REJECT_SENDER,
}

// OfferSnapshot answers a snapshot offered by state sync, with the app
// hash CometBFT's light client verified for its height.
func (a *Application) OfferSnapshot(_ context.Context, req *abcitypes.RequestOfferSnapshot) (*abcitypes.ResponseOfferSnapshot, error) {
	if req.Snapshot == nil {
		return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_REJECT}, nil
	}
	s := req.Snapshot
	res, _ := a.app.OfferSnapshot(app.SnapshotInfo{Height: s.Height, Format: s.Format, Chunks: s.Chunks, Hash: s.Hash, Metadata: s.Metadata}, req.AppHash)
	return &abcitypes.ResponseOfferSnapshot{Result: offerResults[res]}, nil
}

var chunkResults = map[app.ChunkResult]abcitypes.ResponseApplySnapshotChunk_Result{
	app.ChunkAccept:         abcitypes.ResponseApplySnapshotChunk_ACCEPT,
	app.ChunkAbort:          abcitypes.ResponseApplySnapshotChunk_ABORT,
	app.ChunkRetry:          abcitypes.ResponseApplySnapshotChunk_RETRY,
	app.ChunkRetrySnapshot:  abcitypes.ResponseApplySnapshotChunk_RETRY_SNAPSHOT,
	app.ChunkRejectSnapshot: abcitypes.ResponseApplySnapshotChunk_REJECT_SNAPSHOT,
}

// ApplySnapshotChunk applies the next chunk of the snapshot being restored.
func (a *Application) ApplySnapshotChunk(_ context.Context, req *abcitypes.RequestApplySnapshotChunk) (*abcitypes.ResponseApplySnapshotChunk, error) {
	out := a.app.ApplySnapshotChunk(req.Index, req.Chunk, req.Sender)
	return &abcitypes.ResponseApplySnapshotChunk{Result: chunkResults[out.Result], RefetchChunks: out.Refetch, RejectSenders: out.RejectSenders}, nil
}
