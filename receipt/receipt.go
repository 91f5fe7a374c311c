// Package receipt builds and verifies offline-verifiable documents about the
// DIVOC ledger's state: a certificate's status receipt, the issuer trust
// list and the revocation snapshot.
//
// Each document carries ICS23 proofs of IAVL entries at a height H and the
// signed header of block H+1, whose app hash is the IAVL root of height H,
// with the commit (the validators' precommit signatures) and the validator
// set. A verifier needs nothing but the validators' public keys, pinned
// from genesis (a Trust): Verify checks that more than two-thirds of the
// voting power signed the header, that the proofs lead from the entries to
// its app hash, and the Policy (maximum age, minimum height).
//
// A status receipt proves, for one certificate:
//   - its anchor: the leaf of its batch (the certificate id and the SHA-256
//     of the credential, with the non-personal event facts), the leaf's
//     RFC 6962 Merkle path to the batch root, and the batch commitment
//     (which holds that root) with its ICS23 membership proof;
//   - its status: an ICS23 non-membership proof of status/<id> (active), or
//     the membership proof of the revocation or supersession record.
//
// The package depends on CometBFT's types and ICS23 only: no node, no API,
// no state machine. See docs/RECEIPTS.md for the formats.
package receipt

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// Document types.
const (
	TypeStatusReceipt      = "divoc.status-receipt/v1"
	TypeTrustList          = "divoc.trust-list/v1"
	TypeRevocationSnapshot = "divoc.revocation-snapshot/v1"
)

// Certificate statuses.
const (
	StatusActive     = "active"
	StatusRevoked    = "revoked"
	StatusSuperseded = "superseded"
)

// Batch kinds that anchor certificates (the ledger's transaction kinds).
const (
	KindRecord    = "vaccination.record/v1"
	KindSupersede = "certificate.supersede/v1"
)

// The ledger's state layout: the IAVL keys the documents prove.
const (
	StatusPrefix    = "status/"
	KeyPrefix       = "key/"
	AuthorityPrefix = "reg/authority/"
	FormatKeyPrefix = "reg/fmtkey/"
	TotalsKey       = "meta/totals"
)

// BatchKey is the IAVL key of the batch commitment of transaction tx at
// height h.
func BatchKey(h int64, tx int) string { return fmt.Sprintf("batch/%020d/%06d", h, tx) }

// StatusKey is the IAVL key of a certificate's revocation or supersession.
func StatusKey(id string) string { return StatusPrefix + id }

// Receipt is a certificate's status receipt: everything needed to check,
// offline, that the ledger anchored the certificate and what its status
// was at height Height.
type Receipt struct {
	Type        string `json:"type"`
	ChainID     string `json:"chain_id"`
	Certificate string `json:"certificate"`
	// Status is active, revoked or superseded, as of Height.
	Status string `json:"status"`
	// Height is H, the state version the proofs are at; the attestation
	// is the signed header of block H+1.
	Height int64 `json:"height"`
	// Anchor locates the certificate: block, transaction, position.
	Anchor Anchor `json:"anchor"`
	// Leaf is the data of the certificate's leaf in its batch (a
	// vaccination.record/v1 leaf {anchor, event, index, result}, or a
	// certificate.supersede/v1 leaf {correction, index, result}). Its
	// canonical JSON (keys sorted, compact) hashes to the Merkle leaf.
	Leaf json.RawMessage `json:"leaf"`
	// Path is the leaf's Merkle path to the batch root.
	Path MerklePath `json:"path"`
	// Batch is the batch commitment batch/<height>/<tx> with its proof.
	Batch Entry `json:"batch"`
	// StatusEntry is status/<id>: null with a non-membership proof when
	// the certificate is active, else the revocation or supersession
	// record with its membership proof.
	StatusEntry Entry `json:"status_entry"`
	// Attestation is the signed header of block Height+1 and its
	// validator set.
	Attestation Attestation `json:"attestation"`
}

// Anchor locates a certificate's leaf: the block, the transaction in it,
// and the position inside that transaction's batch.
type Anchor struct {
	Height int64 `json:"height"`
	Pos    int   `json:"pos"`
	Tx     int   `json:"tx"`
}

// MerklePath is an RFC 6962 audit path (CometBFT's crypto/merkle order:
// aunts from the leaf up).
type MerklePath struct {
	Index int        `json:"index"`
	Total int        `json:"total"`
	Aunts []HexBytes `json:"aunts"`
}

// HexBytes marshals as lowercase hex.
type HexBytes []byte

// MarshalJSON implements json.Marshaler.
func (h HexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

// UnmarshalJSON implements json.Unmarshaler.
func (h *HexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = d
	return nil
}

// Entry is one IAVL entry at the document's height with its ICS23 proof.
// A null Value means the key is absent, and Proof is a non-membership
// proof; otherwise Proof is a membership proof of exactly Value.
type Entry struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
	Proof ICS23           `json:"proof"`
}

// NewEntry makes an entry from a state read: the value (nil when absent)
// and its proof. Values are JSON documents in this ledger's state.
func NewEntry(key string, value []byte, proof *ics23.CommitmentProof) Entry {
	e := Entry{Key: key, Proof: ICS23{proof}}
	if value != nil {
		e.Value = append(json.RawMessage(nil), value...)
	}
	return e
}

// absent reports whether the entry claims the key is absent.
func (e *Entry) absent() bool {
	v := bytes.TrimSpace(e.Value)
	return len(v) == 0 || bytes.Equal(v, []byte("null"))
}

// verify checks the entry's proof against root and returns the proven
// value (nil when proven absent). The Value shown must be the proven one
// (as JSON: whitespace and key order aside).
func (e *Entry) verify(root []byte, wantKey string, code Code) ([]byte, error) {
	if e.Key != wantKey {
		return nil, fail(code, "the proof is of key %q, expected %q", e.Key, wantKey)
	}
	p := e.Proof.CommitmentProof
	if p == nil {
		return nil, fail(code, "no proof of %s", wantKey)
	}
	if e.absent() {
		np := p.GetNonexist()
		if np == nil {
			return nil, fail(code, "%s is shown as absent but its proof is not a non-membership proof", wantKey)
		}
		if !bytes.Equal(np.Key, []byte(wantKey)) {
			return nil, fail(code, "the non-membership proof is of key %q, not %q", np.Key, wantKey)
		}
		if !ics23.VerifyNonMembership(ics23.IavlSpec, root, p, []byte(wantKey)) {
			return nil, fail(code, "the non-membership proof of %s does not lead to the app hash %X", wantKey, root)
		}
		return nil, nil
	}
	ex := p.GetExist()
	if ex == nil {
		return nil, fail(code, "%s is shown with a value but its proof is not a membership proof", wantKey)
	}
	if !ics23.VerifyMembership(ics23.IavlSpec, root, p, []byte(wantKey), ex.Value) {
		return nil, fail(code, "the membership proof of %s does not lead to the app hash %X", wantKey, root)
	}
	if !sameJSON(e.Value, ex.Value) {
		return nil, fail(CodeEntryMismatch, "the value shown for %s is not the proven one", wantKey)
	}
	return ex.Value, nil
}

// ICS23 is an ICS23 commitment proof, as base64 of its protobuf encoding.
type ICS23 struct {
	*ics23.CommitmentProof
}

// MarshalJSON implements json.Marshaler.
func (p ICS23) MarshalJSON() ([]byte, error) {
	if p.CommitmentProof == nil {
		return []byte("null"), nil
	}
	b, err := p.CommitmentProof.Marshal()
	if err != nil {
		return nil, err
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *ICS23) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		p.CommitmentProof = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("proof is not base64: %w", err)
	}
	cp := new(ics23.CommitmentProof)
	if err := cp.Unmarshal(raw); err != nil {
		return fmt.Errorf("proof is not an ICS23 CommitmentProof: %w", err)
	}
	p.CommitmentProof = cp
	return nil
}

// Parse decodes a status receipt.
func Parse(data []byte) (*Receipt, error) {
	var r Receipt
	if err := strictDecode(data, &r); err != nil {
		return nil, &Error{Code: CodeMalformed, Reason: "not a status receipt: " + err.Error()}
	}
	if r.Type != TypeStatusReceipt {
		return nil, fail(CodeMalformed, "type %q is not %s", r.Type, TypeStatusReceipt)
	}
	return &r, nil
}

// strictDecode decodes one JSON document, refusing duplicate keys and
// trailing data.
func strictDecode(data []byte, v any) error {
	if err := checkNoDuplicateKeys(data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
