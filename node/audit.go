package node

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/divoc/divoc/abci"
	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/internal/strictjson"
)

// BlockReader loads committed blocks (CometBFT's block store).
type BlockReader interface {
	LoadBlock(height int64) *cmttypes.Block
}

// auditBackend is the API's backend: the Service, and the blocks for the
// audit routes.
type auditBackend struct {
	*Service
	blocks BlockReader
}

// apiBackend is what the API calls.
func (n *Node) apiBackend() api.Backend {
	return &auditBackend{Service: n.Service, blocks: n.Comet.BlockStore()}
}

// CertificateHistory implements api.AuditBackend.
func (b *auditBackend) CertificateHistory(_ context.Context, id string) (*api.CertificateHistory, error) {
	snap, err := b.snapshot()
	if err != nil {
		return nil, err
	}
	return CertificateHistory(b.app, snap, b.blocks, id)
}

// CertificateHistory reads one certificate's history at a committed
// snapshot: the facility's signed event, the issuer's signed anchor (a
// record's second part, or a correction), and any revocation or
// supersession, each from its block, with the batch leaf's Merkle path
// and an ICS23 proof of the state entry it wrote; and a proof of the
// certificate's status entry (or of its absence).
func CertificateHistory(a *app.App, snap *app.Snapshot, blocks BlockReader, id string) (*api.CertificateHistory, error) {
	rec, err := a.Certificate(snap, id)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, api.NewProblem(http.StatusNotFound, string(app.CodeUnknownCert), "certificate "+id+" is not anchored on the ledger")
	}
	h := &api.CertificateHistory{ID: id, Status: app.CertActive, Replaces: rec.Replaces, Height: snap.Height, AppHash: strings.ToUpper(hex.EncodeToString(snap.AppHash))}
	hr := &historyReader{app: a, snap: snap, blocks: blocks}

	if rec.Replaces == "" {
		// A record transaction: part 0 the facility's events, part 1 the
		// issuer's anchors, one leaf per event.
		tx, blk, err := hr.tx(rec.Anchor.Height, rec.Anchor.Tx)
		if err != nil {
			return nil, err
		}
		if len(tx.Parts) != 2 {
			return nil, fmt.Errorf("certificate %s: transaction %d/%d has %d parts, a record with anchors has 2", id, rec.Anchor.Height, rec.Anchor.Tx, len(tx.Parts))
		}
		var rs app.RecordStatement
		var as app.AnchorStatement
		if err := decodePayload(tx.Parts[0], &rs); err != nil {
			return nil, err
		}
		if err := decodePayload(tx.Parts[1], &as); err != nil {
			return nil, err
		}
		pos := rec.Anchor.Pos
		if pos >= len(rs.Events) || pos >= len(as.Anchors) || as.Anchors[pos].Certificate != id {
			return nil, fmt.Errorf("certificate %s is not item %d of transaction %d/%d", id, pos, rec.Anchor.Height, rec.Anchor.Tx)
		}
		anchor := as.Anchors[pos]
		leaf, err := hr.leaf(rec.Anchor, app.RecordLeaf{Anchor: &anchor, Event: rs.Events[pos], Index: pos, Result: app.OK})
		if err != nil {
			return nil, err
		}
		ev, err := hr.entry(api.EntryVaccination, blk, tx, 0, rec.Anchor, rs.Events[pos])
		if err != nil {
			return nil, err
		}
		an, err := hr.entry(api.EntryAnchor, blk, tx, 1, rec.Anchor, anchor)
		if err != nil {
			return nil, err
		}
		ev.Leaf, an.Leaf = leaf, leaf
		h.Entries = append(h.Entries, *ev, *an)
	} else {
		// A correction: the event is the original certificate's (its
		// leaf there is the original's), the anchor is in the correction.
		tx, blk, err := hr.tx(rec.EventAt.Height, rec.EventAt.Tx)
		if err != nil {
			return nil, err
		}
		var rs app.RecordStatement
		var as app.AnchorStatement
		if err := decodePayload(tx.Parts[0], &rs); err != nil {
			return nil, err
		}
		if len(tx.Parts) == 2 {
			if err := decodePayload(tx.Parts[1], &as); err != nil {
				return nil, err
			}
		}
		at := rec.EventAt
		if at.Pos >= len(rs.Events) || at.Pos >= len(as.Anchors) {
			return nil, fmt.Errorf("certificate %s: no event %d in transaction %d/%d", id, at.Pos, at.Height, at.Tx)
		}
		ev, err := hr.entry(api.EntryVaccination, blk, tx, 0, at, rs.Events[at.Pos])
		if err != nil {
			return nil, err
		}
		// The event's leaf is the original record's (with the original
		// certificate's anchor).
		orig := as.Anchors[at.Pos]
		if ev.Leaf, err = hr.leaf(at, app.RecordLeaf{Anchor: &orig, Event: rs.Events[at.Pos], Index: at.Pos, Result: app.OK}); err != nil {
			return nil, err
		}
		stx, sblk, err := hr.tx(rec.Anchor.Height, rec.Anchor.Tx)
		if err != nil {
			return nil, err
		}
		var ss app.SupersedeStatement
		if err := decodePayload(stx.Parts[0], &ss); err != nil {
			return nil, err
		}
		pos := rec.Anchor.Pos
		if pos >= len(ss.Corrections) || ss.Corrections[pos].New.Certificate != id {
			return nil, fmt.Errorf("certificate %s is not correction %d of transaction %d/%d", id, pos, rec.Anchor.Height, rec.Anchor.Tx)
		}
		an, err := hr.entry(api.EntryAnchor, sblk, stx, 0, rec.Anchor, ss.Corrections[pos])
		if err != nil {
			return nil, err
		}
		if an.Leaf, err = hr.leaf(rec.Anchor, app.SupersedeLeaf{Correction: ss.Corrections[pos], Index: pos, Result: app.OK}); err != nil {
			return nil, err
		}
		h.Entries = append(h.Entries, *ev, *an)
	}

	if st := snap.Status(id); st != nil {
		h.Status, h.SupersededBy = st.Status, st.SupersededBy
		e, err := hr.statusChange(id, st)
		if err != nil {
			return nil, err
		}
		h.Entries = append(h.Entries, *e)
	}
	if h.StatusProof, err = hr.prove(app.StatusKey(id)); err != nil {
		return nil, err
	}
	return h, nil
}

type historyReader struct {
	app    *app.App
	snap   *app.Snapshot
	blocks BlockReader
}

// tx loads transaction i of block height.
func (hr *historyReader) tx(height int64, i int) (*app.Tx, *cmttypes.Block, error) {
	blk := hr.blocks.LoadBlock(height)
	if blk == nil {
		return nil, nil, api.NewProblem(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("block %d is not in this node's block store (pruned, or the node was state-synced)", height))
	}
	if i >= len(blk.Txs) {
		return nil, nil, fmt.Errorf("block %d has %d transactions, not %d", height, len(blk.Txs), i+1)
	}
	tx, e := app.DecodeTx(blk.Txs[i], 0)
	if e != nil {
		return nil, nil, fmt.Errorf("transaction %d/%d: %v", height, i, e)
	}
	return tx, blk, nil
}

// entry describes part `part` of transaction at.Tx of blk.
func (hr *historyReader) entry(typ string, blk *cmttypes.Block, tx *app.Tx, part int, at app.BatchRef, item any) (*api.HistoryEntry, error) {
	p := tx.Parts[part]
	hdr, err := app.ParseHeader(p.Protected)
	if err != nil {
		return nil, err
	}
	ib, err := json.Marshal(item)
	if err != nil {
		return nil, err
	}
	e := &api.HistoryEntry{Type: typ, Height: blk.Height, Time: blk.Time.UTC(), Tx: at.Tx, TxHash: strings.ToUpper(app.TxHash(blk.Txs[at.Tx])), Kind: tx.Kind,
		Pos: at.Pos, KID: hdr.KID, Part: p, Item: ib}
	if k := hr.snap.Key(hdr.KID); k != nil {
		e.Signer = k.Owner
	}
	if e.State, err = hr.prove(app.BatchKey(at.Height, at.Tx)); err != nil {
		return nil, err
	}
	return e, nil
}

// leaf builds the leaf of an item, checks it against the batch's stored
// leaf hashes, and returns it with its Merkle path.
func (hr *historyReader) leaf(at app.BatchRef, data any) (*api.LeafProof, error) {
	b, err := strictjson.Marshal(data)
	if err != nil {
		return nil, err
	}
	leaves, err := hr.app.BatchLeaves(hr.snap, at.Height, at.Tx)
	if err != nil {
		return nil, err
	}
	hash := app.LeafHash(b)
	if at.Pos >= len(leaves) || string(leaves[at.Pos]) != string(hash) {
		return nil, fmt.Errorf("the leaf of item %s does not match the batch's stored leaf hash", at)
	}
	lp := &api.LeafProof{Bytes: b, Data: b, Hash: hex.EncodeToString(hash), Index: at.Pos, Total: len(leaves), Root: hex.EncodeToString(app.MerkleRoot(leaves))}
	for _, a := range app.MerkleProof(leaves, at.Pos) {
		lp.Aunts = append(lp.Aunts, hex.EncodeToString(a))
	}
	return lp, nil
}

// statusChange finds the revocation or correction that changed a
// certificate's status, in the block that recorded it.
func (hr *historyReader) statusChange(id string, st *app.CertStatus) (*api.HistoryEntry, error) {
	blk := hr.blocks.LoadBlock(st.Height)
	if blk == nil {
		return nil, api.NewProblem(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("block %d is not in this node's block store", st.Height))
	}
	for i, raw := range blk.Txs {
		tx, e := app.DecodeTx(raw, 0)
		if e != nil || len(tx.Parts) != 1 {
			continue
		}
		at := app.BatchRef{Height: st.Height, Tx: i}
		switch {
		case st.Status == app.CertRevoked && tx.Kind == app.KindRevoke:
			var rs app.RevokeStatement
			if decodePayload(tx.Parts[0], &rs) != nil {
				continue
			}
			for j, rv := range rs.Revocations {
				if rv.Certificate != id || !hr.accepted(at, j, app.RevokeLeaf{Index: j, Result: app.OK, Revocation: rv}) {
					continue
				}
				at.Pos = j
				e, err := hr.entry(api.EntryRevocation, blk, tx, 0, at, rv)
				if err != nil {
					return nil, err
				}
				if e.Leaf, err = hr.leaf(at, app.RevokeLeaf{Index: j, Result: app.OK, Revocation: rv}); err != nil {
					return nil, err
				}
				return e, nil
			}
		case st.Status == app.CertSuperseded && tx.Kind == app.KindSupersede:
			var ss app.SupersedeStatement
			if decodePayload(tx.Parts[0], &ss) != nil {
				continue
			}
			for j, c := range ss.Corrections {
				if c.Old != id || !hr.accepted(at, j, app.SupersedeLeaf{Correction: c, Index: j, Result: app.OK}) {
					continue
				}
				at.Pos = j
				e, err := hr.entry(api.EntrySupersession, blk, tx, 0, at, c)
				if err != nil {
					return nil, err
				}
				if e.Leaf, err = hr.leaf(at, app.SupersedeLeaf{Correction: c, Index: j, Result: app.OK}); err != nil {
					return nil, err
				}
				return e, nil
			}
		}
	}
	return nil, fmt.Errorf("certificate %s is %s at height %d, but no accepted transaction of that block says so", id, st.Status, st.Height)
}

// accepted reports whether item pos of a batch was accepted, by its leaf.
func (hr *historyReader) accepted(at app.BatchRef, pos int, leaf any) bool {
	at.Pos = pos
	_, err := hr.leaf(at, leaf)
	return err == nil
}

// prove returns a state entry with its ICS23 proof.
func (hr *historyReader) prove(key string) (api.StateProof, error) {
	v, proof, err := hr.snap.Prove(key)
	if err != nil {
		return api.StateProof{}, err
	}
	pb, err := proof.Marshal()
	if err != nil {
		return api.StateProof{}, err
	}
	sp := api.StateProof{Key: key, Exists: v != nil, Value: v, ProofType: abci.ProofOpICS23, Proof: pb}
	if v != nil && json.Valid(v) {
		sp.ValueJSON = v
	}
	return sp, nil
}

func decodePayload(p app.Part, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(p.Payload)
	if err != nil {
		return fmt.Errorf("part payload: %w", err)
	}
	return json.Unmarshal(b, v)
}
