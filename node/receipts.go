package node

// Status receipts, the trust list and the revocation snapshot: documents a
// verifier checks offline (package receipt). Each is built from a
// committed state version H and the signed header of block H+1, whose app
// hash is the IAVL root of H, read from CometBFT's block and state stores.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	nm "github.com/cometbft/cometbft/node"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/store"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/internal/strictjson"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/receipt"
)

// chainReader is what receipts read of the chain: signed headers and
// validator sets.
type chainReader interface {
	// Height is the last block stored.
	Height(ctx context.Context) (int64, error)
	SignedHeader(ctx context.Context, h int64) (*cmttypes.SignedHeader, error)
	Validators(ctx context.Context, h int64) (*cmttypes.ValidatorSet, error)
}

// localChain reads CometBFT's stores in-process.
type localChain struct {
	blocks *store.BlockStore
	states sm.Store
}

func (c *localChain) Height(context.Context) (int64, error) { return c.blocks.Height(), nil }

func (c *localChain) SignedHeader(_ context.Context, h int64) (sh *cmttypes.SignedHeader, err error) {
	defer recoverStore(&err)
	meta := c.blocks.LoadBlockMeta(h)
	if meta == nil {
		return nil, fmt.Errorf("block %d is not in the block store", h)
	}
	commit := c.blocks.LoadBlockCommit(h) // from block h+1, when it exists
	if commit == nil {
		commit = c.blocks.LoadSeenCommit(h)
	}
	if commit == nil {
		return nil, fmt.Errorf("no commit of block %d in the block store", h)
	}
	return &cmttypes.SignedHeader{Header: &meta.Header, Commit: commit}, nil
}

func (c *localChain) Validators(_ context.Context, h int64) (vs *cmttypes.ValidatorSet, err error) {
	defer recoverStore(&err)
	return c.states.LoadValidators(h)
}

// recoverStore turns a store panic (CometBFT's stores panic on a closed
// database) into an error.
func recoverStore(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("CometBFT store: %v", p)
	}
}

// receiptState is a service's access to the chain, and its last
// revocation snapshot.
type receiptState struct {
	chain chainReader

	mu          sync.Mutex
	revocations *receipt.RevocationSnapshot
}

// AttachChain gives the service CometBFT's block and state stores, from
// which it builds status receipts, the trust list and the revocation
// snapshot. Node.Start calls it once CometBFT has started.
func (s *Service) AttachChain(c *nm.Node) error {
	env, err := c.ConfigureRPC()
	if err != nil {
		return fmt.Errorf("CometBFT state store: %w", err)
	}
	st := &receiptState{chain: &localChain{blocks: c.BlockStore(), states: env.StateStore}}
	s.receiptChain.Store(st)
	return nil
}

// AttachChain wires the node's receipts to its CometBFT stores (see
// Service.AttachChain).
func (n *Node) AttachChain() error { return n.Service.AttachChain(n.Comet) }

func (s *Service) receipts() (*receiptState, error) {
	if st := s.receiptChain.Load(); st != nil {
		return st, nil
	}
	return nil, api.NewProblem(http.StatusServiceUnavailable, api.CodeReceiptsUnavailable, "this node cannot read its signed headers yet: CometBFT is not attached")
}

// receiptWait bounds how long a request waits for a signed header that
// covers the state it needs (the next block follows a state change at
// once; an idle chain makes one every create_empty_blocks_interval).
const receiptWait = 10 * time.Second

// attested returns the latest state version H >= minHeight that a signed
// header covers (block H+1 is stored), with that header, its commit and
// its validator set.
func (s *Service) attested(ctx context.Context, st *receiptState, minHeight int64) (*app.Snapshot, receipt.Attestation, error) {
	var none receipt.Attestation
	deadline := time.Now().Add(receiptWait)
	for {
		cur := s.app.Committed()
		if cur != nil {
			b, err := st.chain.Height(ctx)
			if err != nil {
				return nil, none, err
			}
			if h := min(cur.Height, b-1); h >= 1 && h >= minHeight {
				return s.attestedAt(ctx, st, cur, h)
			}
		}
		if time.Now().After(deadline) {
			return nil, none, api.NewProblem(http.StatusServiceUnavailable, api.CodeReceiptsUnavailable, fmt.Sprintf("no signed header covers height %d yet; try again shortly", max(minHeight, 1)))
		}
		select {
		case <-ctx.Done():
			return nil, none, ctx.Err()
		case <-s.ledger.NextCommit():
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (s *Service) attestedAt(ctx context.Context, st *receiptState, cur *app.Snapshot, h int64) (*app.Snapshot, receipt.Attestation, error) {
	var none receipt.Attestation
	snap := cur
	if cur.Height != h {
		var err error
		if snap, err = s.app.SnapshotAt(h); err != nil {
			return nil, none, err
		}
	}
	sh, err := st.chain.SignedHeader(ctx, h+1)
	if err != nil {
		return nil, none, err
	}
	vals, err := st.chain.Validators(ctx, h+1)
	if err != nil {
		return nil, none, err
	}
	if !bytes.Equal(sh.AppHash, snap.AppHash) {
		return nil, none, fmt.Errorf("the state at height %d has app hash %X, block %d names %X", h, snap.AppHash, h+1, []byte(sh.AppHash))
	}
	return snap, receipt.Attestation{SignedHeader: sh, Validators: vals}, nil
}

// CertificateStatus implements api.Receipts.
func (s *Service) CertificateStatus(id string) (*api.CertificateStatus, error) {
	snap, rec, err := s.anchored(id)
	if err != nil {
		return nil, err
	}
	out := &api.CertificateStatus{ID: id, Status: app.CertActive, Anchor: rec.Anchor, Height: snap.Height}
	if st := snap.Status(id); st != nil {
		out.Status, out.StatusHeight, out.Reason, out.SupersededBy = st.Status, st.Height, st.Reason, st.SupersededBy
	}
	return out, nil
}

// StatusReceipt implements api.Receipts: the certificate's leaf, its
// Merkle path, the batch commitment and status entry with their ICS23
// proofs at a height H, and the signed header of block H+1. H covers at
// least what this node has committed about the certificate (its anchor,
// its revocation), and minHeight.
func (s *Service) StatusReceipt(ctx context.Context, id string, minHeight int64) (*receipt.Receipt, error) {
	st, err := s.receipts()
	if err != nil {
		return nil, err
	}
	latest, rec, err := s.anchored(id)
	if err != nil {
		return nil, err
	}
	minHeight = max(minHeight, rec.Anchor.Height)
	if cs := latest.Status(id); cs != nil {
		minHeight = max(minHeight, cs.Height)
	}
	snap, att, err := s.attested(ctx, st, minHeight)
	if err != nil {
		return nil, err
	}
	if rec, err = s.app.Certificate(snap, id); err != nil || rec == nil {
		return nil, fmt.Errorf("certificate %s is not in the index at height %d: %v", id, snap.Height, err)
	}
	at := rec.Anchor
	leaves, err := s.app.BatchLeaves(snap, at.Height, at.Tx)
	if err != nil {
		return nil, err
	}
	leaf, err := leafOf(snap, rec)
	if err != nil {
		return nil, err
	}
	if at.Pos >= len(leaves) || !bytes.Equal(app.LeafHash(leaf), leaves[at.Pos]) {
		return nil, fmt.Errorf("the index's record of %s does not hash to leaf %d of batch %s", id, at.Pos, app.BatchKey(at.Height, at.Tx))
	}
	path := receipt.MerklePath{Index: at.Pos, Total: len(leaves)}
	for _, a := range app.MerkleProof(leaves, at.Pos) {
		path.Aunts = append(path.Aunts, a)
	}
	bk := app.BatchKey(at.Height, at.Tx)
	bv, bp, err := snap.Prove(bk)
	if err != nil {
		return nil, err
	}
	sk := app.StatusKey(id)
	sv, sp, err := snap.Prove(sk)
	if err != nil {
		return nil, err
	}
	status := app.CertActive
	if sv != nil {
		var cs app.CertStatus
		if err := json.Unmarshal(sv, &cs); err != nil {
			return nil, fmt.Errorf("%s: %w", sk, err)
		}
		status = cs.Status
	}
	return &receipt.Receipt{
		Type: receipt.TypeStatusReceipt, ChainID: s.app.ChainID(), Certificate: id, Status: status, Height: snap.Height,
		Anchor: receipt.Anchor{Height: at.Height, Tx: at.Tx, Pos: at.Pos}, Leaf: leaf, Path: path,
		Batch: receipt.NewEntry(bk, bv, bp), StatusEntry: receipt.NewEntry(sk, sv, sp), Attestation: att,
	}, nil
}

// leafOf rebuilds a certificate's batch leaf, as the app hashed it, from
// its index record.
func leafOf(snap *app.Snapshot, rec *app.CertRecord) ([]byte, error) {
	switch rec.Kind {
	case app.KindRecord:
		return strictjson.Marshal(app.RecordLeaf{Anchor: &app.Anchor{Certificate: rec.ID, Hash: rec.Hash}, Event: rec.Event, Index: rec.Anchor.Pos, Result: app.OK})
	case app.KindSupersede:
		// The correction's reason is kept in the old certificate's status.
		old := snap.Status(rec.Replaces)
		if old == nil {
			return nil, fmt.Errorf("certificate %s replaces %s, which has no status record", rec.ID, rec.Replaces)
		}
		return strictjson.Marshal(app.SupersedeLeaf{Correction: app.Correction{Commitment: rec.Event.Commitment, New: app.Anchor{Certificate: rec.ID, Hash: rec.Hash}, Old: rec.Replaces, Reason: old.Reason},
			Index: rec.Anchor.Pos, Result: app.OK})
	}
	return nil, fmt.Errorf("certificate %s was anchored by a %s batch", rec.ID, rec.Kind)
}

// TrustValidators implements api.Receipts: the genesis validators (what a
// verifier pins once), or those of the last block.
func (s *Service) TrustValidators(ctx context.Context, set string) (*receipt.Trust, error) {
	st, err := s.receipts()
	if err != nil {
		return nil, err
	}
	chainID := s.app.ChainID()
	if set == "current" {
		b, err := st.chain.Height(ctx)
		if err != nil {
			return nil, err
		}
		if b < 1 {
			return nil, api.NewProblem(http.StatusServiceUnavailable, api.CodeBusy, "no block yet")
		}
		vals, err := st.chain.Validators(ctx, b)
		if err != nil {
			return nil, err
		}
		return receipt.NewTrust(chainID, vals, b, "current"), nil
	}
	doc, err := cmttypes.GenesisDocFromFile(s.home.Genesis())
	if err != nil {
		return nil, err
	}
	first := max(doc.InitialHeight, 1)
	if len(doc.Validators) > 0 {
		vals := make([]*cmttypes.Validator, len(doc.Validators))
		for i, v := range doc.Validators {
			vals[i] = cmttypes.NewValidator(v.PubKey, v.Power)
		}
		return receipt.NewTrust(doc.ChainID, cmttypes.NewValidatorSet(vals), first, "genesis"), nil
	}
	// The app chose the validators at InitChain: those of the first block.
	vals, err := st.chain.Validators(ctx, first)
	if err != nil {
		return nil, err
	}
	return receipt.NewTrust(doc.ChainID, vals, first, "genesis"), nil
}

// TrustList implements api.Receipts: every issuer key and the authority
// that owns it, each with its proof, and the JWKS they make.
func (s *Service) TrustList(ctx context.Context) (*receipt.TrustList, error) {
	st, err := s.receipts()
	if err != nil {
		return nil, err
	}
	snap, att, err := s.attested(ctx, st, 0)
	if err != nil {
		return nil, err
	}
	tl := &receipt.TrustList{Type: receipt.TypeTrustList, ChainID: s.app.ChainID(), Height: snap.Height, Keys: []receipt.Entry{}, Authorities: []receipt.Entry{}, FormatKeys: []receipt.Entry{}, Attestation: att}
	auths := map[string]*receipt.LedgerAuthority{}
	addAuthority := func(id string) error {
		if _, seen := auths[id]; seen {
			return nil
		}
		ak := app.PrefixAuthorities + id
		av, ap, err := snap.Prove(ak)
		if err != nil {
			return err
		}
		auths[id] = nil
		tl.Authorities = append(tl.Authorities, receipt.NewEntry(ak, av, ap))
		if av != nil {
			var a receipt.LedgerAuthority
			if err := json.Unmarshal(av, &a); err != nil {
				return fmt.Errorf("%s: %w", ak, err)
			}
			auths[id] = &a
		}
		return nil
	}
	var ledgerKeys []receipt.LedgerKey
	for _, k := range snap.Keys() {
		if k.Role != app.RoleIssuer {
			continue
		}
		key := receipt.KeyPrefix + k.KID
		v, p, err := snap.Prove(key)
		if err != nil {
			return nil, err
		}
		var lk receipt.LedgerKey
		if err := json.Unmarshal(v, &lk); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		tl.Keys = append(tl.Keys, receipt.NewEntry(key, v, p))
		ledgerKeys = append(ledgerKeys, lk)
		if id, ok := strings.CutPrefix(k.Owner, "authority/"); ok {
			if err := addAuthority(id); err != nil {
				return nil, err
			}
		}
	}
	for _, format := range []string{app.FormatDCC, app.FormatSHC} {
		for _, fk := range snap.FormatKeys(format) {
			key := app.FormatKeyKey(format, fk.KID)
			v, p, err := snap.Prove(key)
			if err != nil {
				return nil, err
			}
			tl.FormatKeys = append(tl.FormatKeys, receipt.NewEntry(key, v, p))
			if err := addAuthority(fk.Authority); err != nil {
				return nil, err
			}
		}
	}
	infos := []keys.PublicKeyInfo{}
	for _, lk := range ledgerKeys {
		info, err := lk.PublicKeyInfo(receipt.KeyStatus(lk, auths[strings.TrimPrefix(lk.Owner, "authority/")]))
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	if tl.JWKS, err = keys.PublicJWKSet(infos...); err != nil {
		return nil, err
	}
	return tl, nil
}

// RevocationSnapshot implements api.Receipts: every certificate revoked or
// superseded at the latest attested height, with the proof of the
// ledger's totals that counts them.
func (s *Service) RevocationSnapshot(ctx context.Context) (*receipt.RevocationSnapshot, error) {
	st, err := s.receipts()
	if err != nil {
		return nil, err
	}
	snap, att, err := s.attested(ctx, st, 0)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if c := st.revocations; c != nil && c.Height == snap.Height {
		return c, nil
	}
	var revoked, superseded []string
	var bad error
	snap.Iterate(app.StatusKey(""), func(key string, v []byte) bool {
		var cs app.CertStatus
		if err := json.Unmarshal(v, &cs); err != nil {
			bad = fmt.Errorf("%s: %w", key, err)
			return true
		}
		id := strings.TrimPrefix(key, app.StatusKey(""))
		switch cs.Status {
		case app.CertRevoked:
			revoked = append(revoked, id)
		case app.CertSuperseded:
			superseded = append(superseded, id)
		}
		return false
	})
	if bad != nil {
		return nil, bad
	}
	tv, tp, err := snap.Prove(receipt.TotalsKey)
	if err != nil {
		return nil, err
	}
	doc := &receipt.RevocationSnapshot{Type: receipt.TypeRevocationSnapshot, ChainID: s.app.ChainID(), Height: snap.Height, Encoding: receipt.EncodingCrockford80,
		Revoked: receipt.NewIDList(revoked), Superseded: receipt.NewIDList(superseded), Totals: receipt.NewEntry(receipt.TotalsKey, tv, tp), Attestation: att}
	st.revocations = doc
	return doc, nil
}

var _ api.Receipts = (*Service)(nil)
