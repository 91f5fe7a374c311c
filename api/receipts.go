package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/receipt"
)

// Receipts is what the status-receipt, trust and revocation routes need:
// documents a verifier checks offline against the validators' keys (see
// package receipt). A Backend that does not implement it answers those
// routes with 503 receipts_unavailable.
type Receipts interface {
	// CertificateStatus is a certificate's status at the last committed height.
	CertificateStatus(id string) (*CertificateStatus, error)
	// StatusReceipt proves a certificate's anchor and status at a height
	// covered by a signed header, at least minHeight (waiting briefly for
	// the header if needed).
	StatusReceipt(ctx context.Context, id string, minHeight int64) (*receipt.Receipt, error)
	// TrustValidators is the validator set to pin: "genesis" or "current".
	TrustValidators(ctx context.Context, set string) (*receipt.Trust, error)
	// TrustList is the issuer keys with their proofs.
	TrustList(ctx context.Context) (*receipt.TrustList, error)
	// RevocationSnapshot lists every revoked and superseded certificate.
	RevocationSnapshot(ctx context.Context) (*receipt.RevocationSnapshot, error)
}

// CodeReceiptsUnavailable: the node cannot build proofs (no access to its
// block store, or no signed header yet).
const CodeReceiptsUnavailable = "receipts_unavailable"

// CertificateStatus is GET /v1/certificates/{id}/status without proof.
type CertificateStatus struct {
	ID           string       `json:"id"`
	Status       string       `json:"status"`
	StatusHeight int64        `json:"status_height,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	SupersededBy string       `json:"superseded_by,omitempty"`
	Anchor       app.BatchRef `json:"anchor"`
	// Height is the committed height the status is as of.
	Height int64 `json:"height"`
}

func (s *server) receipts() (Receipts, error) {
	r, ok := s.Backend.(Receipts)
	if !ok {
		return nil, NewProblem(http.StatusServiceUnavailable, CodeReceiptsUnavailable, "this node does not serve receipts")
	}
	return r, nil
}

func (s *server) certificateStatus(w http.ResponseWriter, r *http.Request) error {
	rb, err := s.receipts()
	if err != nil {
		return err
	}
	id := certificateID(r)
	q := r.URL.Query()
	switch q.Get("proof") {
	case "", "false":
		st, err := rb.CertificateStatus(id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, st)
	case "true":
	default:
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "proof must be true or false").WithField("proof", "boolean")
	}
	var minHeight int64
	if v := q.Get("min_height"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return NewProblem(http.StatusBadRequest, CodeBadRequest, "min_height must be a height (a non-negative integer)").WithField("min_height", "integer")
		}
		minHeight = n
	}
	rc, err := rb.StatusReceipt(r.Context(), id, minHeight)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rc)
}

func (s *server) trustValidators(w http.ResponseWriter, r *http.Request) error {
	rb, err := s.receipts()
	if err != nil {
		return err
	}
	set := r.URL.Query().Get("set")
	switch set {
	case "":
		set = "genesis"
	case "genesis", "current":
	default:
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "set must be genesis or current").WithField("set", "enum")
	}
	t, err := rb.TrustValidators(r.Context(), set)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (s *server) trustList(w http.ResponseWriter, r *http.Request) error {
	rb, err := s.receipts()
	if err != nil {
		return err
	}
	t, err := rb.TrustList(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (s *server) revocationSnapshot(w http.ResponseWriter, r *http.Request) error {
	rb, err := s.receipts()
	if err != nil {
		return err
	}
	snap, err := rb.RevocationSnapshot(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, snap)
}
