package api

import (
	"context"
	"time"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/credential"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/vault"
)

// Backend is everything the HTTP layer needs from the node. Errors it
// returns are *Problem when they concern the request.
type Backend interface {
	// FacilityForToken resolves a facility's API token (custodial mode:
	// the node holds the facility's key and signs for it).
	FacilityForToken(token string) (string, bool)
	// Submit records an upload's certificates. With Wait it returns once
	// every batch is committed; otherwise once the upload is accepted.
	Submit(ctx context.Context, s Submission) (*vault.Upload, error)
	Upload(id string) (*vault.Upload, error)

	Certificate(id string) (*Certificate, error)
	Verify(ctx context.Context, credential string) (*Verification, error)
	Revoke(ctx context.Context, id, reason string) (*Certificate, error)
	Correct(ctx context.Context, id string, c Correction) (*Certificate, error)

	TrustJWKS() ([]byte, error)
	Status() *Status
	Registry() *Registry
}

// Submission is a parsed upload.
type Submission struct {
	// Facility is set in custodial mode; with a signature it is the
	// signing key's facility.
	Facility string
	// Signature is the facility's detached JWS over the record statement
	// of the upload's valid rows ("" in custodial mode).
	Signature string
	Program   string
	Format    string // csv | json
	Rows      int
	Certs     []divocfmt.Certificate
	Errors    []divocfmt.RowError
	Wait      bool
}

// Certificate is what the API shows of a certificate: where the ledger
// anchors it, its status, and (from this node's vault) the credential.
type Certificate struct {
	ID           string       `json:"id"`
	Status       string       `json:"status"`
	StatusHeight int64        `json:"status_height,omitempty"`
	StatusReason string       `json:"status_reason,omitempty"`
	SupersededBy string       `json:"superseded_by,omitempty"`
	Replaces     string       `json:"replaces,omitempty"`
	Issuer       string       `json:"issuer"`
	Facility     string       `json:"facility"`
	Anchor       app.BatchRef `json:"anchor"`
	EventAt      app.BatchRef `json:"event_at"`
	BatchRoot    string       `json:"batch_root"`
	Hash         string       `json:"hash"`
	Event        app.Event    `json:"event"`
	Credential   string       `json:"credential,omitempty"`
	URL          string       `json:"url"`
}

// Verification is the answer to "is this credential good?".
type Verification struct {
	Valid       bool          `json:"valid"`
	Format      string        `json:"format"`
	Certificate string        `json:"certificate,omitempty"`
	Checks      []Check       `json:"checks"`
	Holder      *HolderFacts  `json:"holder,omitempty"`
	Anchor      *app.BatchRef `json:"anchor,omitempty"`
	Status      string        `json:"status,omitempty"`
	CheckedAt   time.Time     `json:"checked_at"`
	Height      int64         `json:"height"`
}

// Check is one verification step.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Code   string `json:"code,omitempty"`
	Detail string `json:"detail"`
}

// HolderFacts are the decoded facts a verifier compares with an ID document.
type HolderFacts struct {
	Name         string `json:"name"`
	Identity     string `json:"identity,omitempty"`
	Vaccine      string `json:"vaccine"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Date         string `json:"date"`
	Dose         int    `json:"dose"`
	TotalDoses   int    `json:"total_doses,omitempty"`
	Facility     string `json:"facility,omitempty"`
	Issuer       string `json:"issuer"`
}

// HolderFactsOf picks from a credential what a verifier compares.
func HolderFactsOf(v *credential.Vaccination) *HolderFacts {
	return &HolderFacts{Name: v.Holder.Name, Identity: v.Holder.Identity, Vaccine: v.Dose.Vaccine, Manufacturer: v.Dose.Manufacturer,
		Date: v.Dose.Date, Dose: v.Dose.Dose, TotalDoses: v.Dose.TotalDoses, Facility: v.Facility.Name, Issuer: v.IssuerName}
}

// Correction is the body of PUT /v1/certificates/{id}: the fields to fix
// (empty ones are kept) and why.
type Correction struct {
	Reason   string `json:"reason"`
	Name     string `json:"name,omitempty"`
	DOB      string `json:"dob,omitempty"`
	Gender   string `json:"gender,omitempty"`
	Identity string `json:"identity,omitempty"`
	Mobile   string `json:"mobile,omitempty"`
}

// Status is the node's view of the ledger.
type Status struct {
	ChainID string     `json:"chain_id"`
	Height  int64      `json:"height"`
	AppHash string     `json:"app_hash"`
	Time    time.Time  `json:"time"`
	Totals  app.Totals `json:"totals"`
	Issuer  string     `json:"issuer"`
	Version string     `json:"version"`
}

// Registry is the public part of the registries.
type Registry struct {
	// TimezoneOffsetMinutes is the consortium's time zone: dates are days there.
	TimezoneOffsetMinutes int            `json:"timezone_offset_minutes"`
	Programs              []app.Program  `json:"programs"`
	Vaccines              []app.Vaccine  `json:"vaccines"`
	Facilities            []app.Facility `json:"facilities"`
	Height                int64          `json:"height"`
}
