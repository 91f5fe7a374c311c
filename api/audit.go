package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/divoc/divoc/app"
)

// AuditBackend is what the audit routes need beyond Backend: the blocks
// themselves, where the signed statements are.
type AuditBackend interface {
	CertificateHistory(ctx context.Context, id string) (*CertificateHistory, error)
}

// CertificateHistory is the full ledger history of one certificate, each
// step with the signed statement as it is in its block and a proof of the
// state entry it wrote.
type CertificateHistory struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Replaces is the certificate this one corrected; SupersededBy the
	// one that corrected it.
	Replaces     string `json:"replaces,omitempty"`
	SupersededBy string `json:"superseded_by,omitempty"`
	// Height is the committed height the history was read at, AppHash
	// that height's state root: every proof here leads to it, and the
	// header of block Height+1 carries it (signed by the validators).
	Height  int64  `json:"height"`
	AppHash string `json:"app_hash"`
	// Entries are the vaccination event, the anchor, and any revocation
	// or supersession, in ledger order.
	Entries []HistoryEntry `json:"entries"`
	// StatusProof proves the certificate's status entry: its presence
	// (revoked or superseded) or its absence (active).
	StatusProof StateProof `json:"status_proof"`
}

// Entry types of a certificate's history.
const (
	EntryVaccination  = "vaccination"
	EntryAnchor       = "anchor"
	EntryRevocation   = "revocation"
	EntrySupersession = "supersession"
)

// HistoryEntry is one step of a certificate's history.
type HistoryEntry struct {
	Type   string    `json:"type"`
	Height int64     `json:"height"`
	Time   time.Time `json:"time"`
	// Tx is the transaction's index in its block, TxHash its SHA-256
	// (hex, as CometBFT computes it), Kind its kind.
	Tx     int    `json:"tx"`
	TxHash string `json:"tx_hash"`
	Kind   string `json:"kind"`
	// Pos is the certificate's item in the transaction's batch.
	Pos int `json:"pos"`
	// Signer owns the key KID (as the ledger registers it) that signed
	// Part.
	Signer string `json:"signer"`
	KID    string `json:"kid"`
	// Part is the signed statement exactly as in the block: a JWS in
	// flattened JSON serialization, checkable with any JOSE library
	// against the key in /v1/trust/jwks.
	Part app.Part `json:"part"`
	// Item is this certificate's item of the statement: the event, the
	// anchor, the revocation or the correction.
	Item json.RawMessage `json:"item"`
	// Leaf is the batch leaf of the item and its Merkle path to the
	// batch root (for the vaccination of a corrected certificate, the
	// original record's leaf, which holds the original's anchor).
	Leaf *LeafProof `json:"leaf,omitempty"`
	// State is the state entry the transaction wrote (its batch
	// commitment), with an ICS23 proof against AppHash.
	State StateProof `json:"state"`
}

// LeafProof is an RFC 6962 inclusion proof of a batch leaf (CometBFT's
// merkle.Proof: aunts lowest first).
type LeafProof struct {
	// Bytes is the leaf's canonical JSON, exactly (base64); Hash is
	// SHA-256(0x00 || Bytes). Data is the same JSON, for reading.
	Bytes []byte          `json:"bytes"`
	Data  json.RawMessage `json:"data"`
	Hash  string          `json:"hash"`
	Index int             `json:"index"`
	Total int             `json:"total"`
	Aunts []string        `json:"aunts"`
	Root  string          `json:"root"`
}

// StateProof is a state entry and its ICS23 proof (membership when Exists,
// else non-membership), protobuf-encoded. Value is the stored bytes
// exactly (what the proof commits to); ValueJSON the same, for reading.
type StateProof struct {
	Key       string          `json:"key"`
	Exists    bool            `json:"exists"`
	Value     []byte          `json:"value,omitempty"`
	ValueJSON json.RawMessage `json:"value_json,omitempty"`
	ProofType string          `json:"proof_type"`
	Proof     []byte          `json:"proof"`
}

func (s *server) auditCertificate(w http.ResponseWriter, r *http.Request) error {
	ab, ok := s.Backend.(AuditBackend)
	if !ok {
		return NewProblem(http.StatusNotFound, CodeNotFound, "this node does not serve certificate histories")
	}
	h, err := ab.CertificateHistory(r.Context(), certificateID(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h)
}
