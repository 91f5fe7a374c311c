package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/divoc/divoc/divocfmt"
)

// Problem is an RFC 9457 problem detail. It is also an error, and renders
// itself with its status: handlers return problems, they do not write them.
type Problem struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Title  string `json:"title"`
	// Code is stable and machine-readable (the ledger's codes, or the
	// parser's row codes, or the API's own).
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
	// Field and Row name where the problem is; Rule names what failed.
	Field string `json:"field,omitempty"`
	Row   int    `json:"row,omitempty"`
	Rule  string `json:"rule,omitempty"`
	// Errors lists every bad row of an upload.
	Errors []divocfmt.RowError `json:"errors,omitempty"`
	// RetryAfter is the Retry-After header of a 429 or 503, in seconds
	// (1 when unset).
	RetryAfter int `json:"-"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail) }

// NewProblem makes a problem.
func NewProblem(status int, code, detail string) *Problem {
	return &Problem{Status: status, Type: "https://divoc.dev/problems/" + code, Title: http.StatusText(status), Code: code, Detail: detail}
}

// WithField names the field and rule.
func (p *Problem) WithField(field, rule string) *Problem {
	p.Field, p.Rule = field, rule
	return p
}

// Render writes the problem as application/problem+json.
func (p *Problem) Render(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(max(p.RetryAfter, 1)))
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// API problem codes (besides the ledger's and the parsers').
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthenticated  = "unauthenticated"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "body_too_large"
	CodeUnsupported      = "unsupported_media_type"
	CodeBusy             = "busy"
	CodeTimeout          = "commit_timeout"
	CodeInternal         = "internal"
	CodeNoValidRows      = "no_valid_rows"
)
