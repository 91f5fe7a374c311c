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

// Counts are the analytics of a group of events.
type Counts struct {
	Doses        int64 `json:"doses"`
	Certificates int64 `json:"certificates"`
	Refused      int64 `json:"refused"`
	Revocations  int64 `json:"revocations"`
	Feedback     int64 `json:"feedback"`
	AEFI         int64 `json:"aefi"`
	SeriousAEFI  int64 `json:"serious_aefi"`
}

// Add sums o into c.
func (c *Counts) Add(o Counts) {
	c.Doses += o.Doses
	c.Certificates += o.Certificates
	c.Refused += o.Refused
	c.Revocations += o.Revocations
	c.Feedback += o.Feedback
	c.AEFI += o.AEFI
	c.SeriousAEFI += o.SeriousAEFI
}

// Summary is GET /v1/analytics/summary.
type Summary struct {
	By     string       `json:"by"`
	From   string       `json:"from,omitempty"`
	To     string       `json:"to,omitempty"`
	Height int64        `json:"height"`
	Rows   []SummaryRow `json:"rows"`
	Total  Counts       `json:"total"`
}

// SummaryRow is one value of the dimension.
type SummaryRow struct {
	Key string `json:"key"`
	Counts
}

// FeedbackInput is POST /v1/feedback.
type FeedbackInput struct {
	Certificate string `json:"certificate"`
	// Credential proves the caller holds the certificate (its vc+jwt or QR
	// text); a facility may send its token instead.
	Credential string `json:"credential,omitempty"`
	Rating     int    `json:"rating"`
	Courtesy   int    `json:"courtesy"`
	Wait       string `json:"wait"`
	Comment    string `json:"comment,omitempty"` // kept in the vault, never on the ledger
}

// AEFIInput is POST /v1/aefi.
type AEFIInput struct {
	Certificate string   `json:"certificate"`
	Credential  string   `json:"credential,omitempty"`
	Symptoms    []string `json:"symptoms"`
	Onset       string   `json:"onset_date"`
	Severity    string   `json:"severity"`
	Seriousness []string `json:"seriousness,omitempty"`
	Outcome     string   `json:"outcome"`
	Reporter    string   `json:"reporter"`
	Narrative   string   `json:"narrative,omitempty"` // kept in the vault, never on the ledger
}

// ReportResult is a recorded report.
type ReportResult struct {
	Certificate string `json:"certificate"`
	Hash        string `json:"hash"`
	Height      int64  `json:"height"`
	Note        string `json:"note,omitempty"`
}

// SideEffects is GET /v1/sideEffects: the codes reports use.
type SideEffects struct {
	Symptoms    []string `json:"symptoms"`
	Seriousness []string `json:"seriousness"`
	Severities  []string `json:"severities"`
	Outcomes    []string `json:"outcomes"`
	Reporters   []string `json:"reporters"`
	WaitTimes   []string `json:"wait_times"`
}

// Signals is GET /v1/signals.
type Signals struct {
	Height    int64             `json:"height"`
	Policy    app.SafetyPolicy  `json:"policy"`
	Open      []app.Signal      `json:"open"`
	Suspended []app.BatchStatus `json:"suspended"`
	Batches   []app.BatchSafety `json:"batches"`
}
