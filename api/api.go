// Package api is the node's REST layer: one table of routes, handlers that
// turn requests into typed calls on a Backend and return values or
// problems, and the OpenAPI document that describes them.
package api

import (
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document of the API.
func OpenAPI() []byte { return openAPI }

// Config wires the API.
type Config struct {
	Backend Backend
	// Metrics is served on /metrics.
	Metrics prometheus.Gatherer
	// MaxBodyBytes bounds request bodies (413 beyond).
	MaxBodyBytes int64
	// MaxRows bounds the rows (CSV) or items (JSON) of one upload.
	MaxRows int
	// AdminToken authorizes issuer operations (revoke, correct).
	AdminToken string
	// Observe records each request's latency by route pattern.
	Observe func(route string, status int, d time.Duration)
}

type server struct {
	Config
}

// Route is one entry of the route table.
type Route struct {
	Method, Pattern string
	// Auth names who may call: public, facility (a signature or a facility
	// token), admin (the node operator's token) or holder (the operator's
	// token or the recording facility's, checked by the handler against
	// the certificate: what carries personal data).
	Auth    string
	Summary string
	handler func(*server, http.ResponseWriter, *http.Request) error
}

// Routes is the whole API. The OpenAPI document must list each of them
// (a test checks).
var Routes = []Route{
	{"GET", "/healthz", "public", "Liveness and the committed height", (*server).healthz},
	{"GET", "/metrics", "public", "Prometheus metrics (CometBFT's and the node's)", nil},
	{"GET", "/openapi.yaml", "public", "This API's OpenAPI 3 document", (*server).openapi},
	{"GET", "/v1/status", "public", "Chain, height, app hash and running totals", (*server).status},
	{"GET", "/v1/registry", "public", "Programs, vaccines and facilities on the ledger", (*server).registry},
	{"POST", "/v1/certify", "facility", "DIVOC certify request (JSON array); waits for commit", (*server).certify},
	{"POST", "/v1/bulkCertify", "facility", "DIVOC bulk certificates CSV; returns an upload id", (*server).bulkCertify},
	{"GET", "/v1/uploads/{id}", "public", "An upload's progress and per-row results", (*server).upload},
	{"GET", "/v1/certificates/{id}", "public", "A certificate: anchor, status and credential (JSON, or the vc+jwt with Accept: application/vc+jwt)", (*server).certificate},
	{"PUT", "/v1/certificates/{id}", "admin", "Correct a certificate: a new one supersedes it", (*server).correct},
	{"GET", "/v1/certificates/{id}/qr.png", "holder", "The credential as a QR code", (*server).certificateQR},
	{"POST", "/v1/certificates/{id}/revoke", "admin", "Revoke a certificate", (*server).revoke},
	{"POST", "/v1/verify", "public", "Verify a credential (vc+jwt text, JSON, or a QR PNG)", (*server).verify},
	{"GET", "/v1/trust/jwks", "public", "Issuer keys registered on the ledger (JWKS)", (*server).jwks},
	{"GET", "/v1/certificates/{id}/status", "public", "A certificate's status; with proof=true a status receipt that verifies offline", (*server).certificateStatus},
	{"GET", "/v1/trust/validators", "public", "The validator set to pin for verifying receipts (genesis or current)", (*server).trustValidators},
	{"GET", "/v1/trust/list", "public", "Issuer keys as a JWKS with each ledger entry's proof against a signed header", (*server).trustList},
	{"GET", "/v1/revocations/snapshot", "public", "Every revoked and superseded certificate id at a height, with a proof of their count", (*server).revocationSnapshot},
	{"GET", "/v1/audit/certificates/{id}", "public", "A certificate's full ledger history: each signed statement with its block, transaction and proofs", (*server).auditCertificate},

	// Rollout: registries and policies, changed by governance.
	{"GET", "/v1/facilities", "public", "Facilities on the ledger", (*server).listFacilities},
	{"POST", "/v1/facilities", "admin", "Create or update a facility (a governance change)", (*server).setFacility},
	{"POST", "/v1/facilities/upload", "admin", "Register facilities from DIVOC's facilities.csv", (*server).facilitiesUpload},
	{"GET", "/v1/vaccinators", "public", "Vaccinators on the ledger (codes, not names)", (*server).listVaccinators},
	{"POST", "/v1/vaccinators", "admin", "Create or update a vaccinator (a governance change)", (*server).setVaccinator},
	{"POST", "/v1/vaccinators/upload", "admin", "Register vaccinators from DIVOC's vaccinators.csv", (*server).vaccinatorsUpload},
	{"GET", "/v1/programs", "public", "Programs with their phases and policies", (*server).listPrograms},
	{"POST", "/v1/programs", "admin", "Create or update a program (a governance change)", (*server).setProgram},
	{"POST", "/v1/programs/{id}/phases/{phase}", "admin", "Open or close an eligibility phase (a governance change)", (*server).setPhase},
	{"GET", "/v1/vaccines", "public", "Vaccines with their schedules", (*server).listVaccines},
	{"POST", "/v1/vaccines", "admin", "Create or update a vaccine (a governance change)", (*server).setVaccine},
	{"GET", "/v1/districts", "public", "Districts with daily caps", (*server).listDistricts},
	{"POST", "/v1/districts", "admin", "Set a district's daily caps (a governance change)", (*server).setDistrict},
	{"GET", "/v1/governance/proposals", "public", "Governance proposals (?status=pending|applied|failed|expired)", (*server).proposals},
	{"POST", "/v1/governance/proposals", "admin", "Propose any governed change (kind and statement)", (*server).propose},
	{"POST", "/v1/governance/proposals/{id}/approve", "admin", "Approve a pending proposal as this node's authority", (*server).approve},
	{"GET", "/v1/recipients/{ref}/schedule", "public", "A recipient's doses and when the next is due", (*server).schedule},

	// SMART Health Cards: the issuer's keys and revocation list, where
	// verifiers look for them (under the cards' iss).
	{"GET", "/.well-known/jwks.json", "public", "SMART Health Cards keys on the ledger (JWKS)", (*server).shcKeys},
	{"GET", "/.well-known/crl/{kid}.json", "public", "SMART Health Cards revocation list of a key", (*server).shcCRL},

	// Feedback, adverse events, safety signals and analytics.
	{"GET", "/v1/sideEffects", "public", "The codes of adverse event reports (symptoms, seriousness, ...)", (*server).sideEffects},
	{"POST", "/v1/feedback", "public", "Feedback on a vaccination, by its holder (with the credential) or facility (token)", (*server).feedback},
	{"POST", "/v1/aefi", "public", "Report an adverse event following immunization (holder or facility)", (*server).aefi},
	{"GET", "/v1/aefi", "public", "Adverse event counts by batch, district or day (no personal data)", (*server).aefiSummary},
	{"GET", "/v1/signals", "public", "Open safety signals, suspended batches and per-batch counters", (*server).signals},
	{"GET", "/v1/analytics/summary", "public", "Counts of doses, certificates, revocations, feedback and AEFI by a dimension", (*server).summary},
	{"GET", "/v1/events/stream", "public", "Committed events as Server-Sent Events, resumable from a height", (*server).stream},

	// The dashboard: a page over the analytics routes and the event stream.
	{"GET", "/dashboard", "public", "A live dashboard of the drive (HTML)", (*server).dashboard},
	{"GET", "/dashboard/{asset}", "public", "The dashboard's script and stylesheet", (*server).dashboardAsset},
}

// New returns the API handler.
func New(cfg Config) http.Handler {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 20
	}
	s := &server{Config: cfg}
	r := chi.NewRouter()
	r.Use(middleware.GetHead) // HEAD is answered as GET without the body
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/dashboard/" && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			http.Redirect(w, req, "/dashboard", http.StatusMovedPermanently)
			return
		}
		NewProblem(http.StatusNotFound, CodeNotFound, "no such route; see /openapi.yaml").Render(w)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if r.Match(chi.NewRouteContext(), m, req.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		NewProblem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed on this route; allowed: "+strings.Join(allowed, ", ")).Render(w)
	})
	for _, rt := range Routes {
		rt := rt
		if rt.Pattern == "/metrics" {
			var h http.Handler = http.NotFoundHandler()
			if cfg.Metrics != nil {
				h = promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{})
			}
			r.Method(rt.Method, rt.Pattern, h)
			continue
		}
		r.Method(rt.Method, rt.Pattern, s.wrap(rt))
	}
	return r
}

// wrap applies the body limit, authentication, error rendering and timing.
func (s *server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		r.Body = http.MaxBytesReader(sw, r.Body, s.MaxBodyBytes)
		err := s.authorize(rt, r)
		if err == nil {
			err = rt.handler(s, sw, r)
		}
		if err != nil {
			asProblem(err).Render(sw)
		}
		if s.Observe != nil {
			s.Observe(rt.Pattern, sw.status, time.Since(start))
		}
	})
}

func (s *server) authorize(rt Route, r *http.Request) error {
	switch rt.Auth {
	case "admin":
		tok, ok := bearer(r)
		if !ok {
			return NewProblem(http.StatusUnauthorized, CodeUnauthenticated, "this operation needs the node operator's token: Authorization: Bearer <token>")
		}
		if s.AdminToken == "" || !constantTimeEqual(tok, s.AdminToken) {
			return NewProblem(http.StatusForbidden, CodeForbidden, "the token is not the node operator's")
		}
	case "facility":
		if r.Header.Get(HeaderSignature) != "" {
			return nil // checked against the ledger's keys by the backend
		}
		tok, ok := bearer(r)
		if !ok {
			return NewProblem(http.StatusUnauthorized, CodeUnauthenticated, "sign the upload (header "+HeaderSignature+": a detached JWS by the facility's registered key) or send the facility's token (Authorization: Bearer <token>)")
		}
		if _, ok := s.Backend.FacilityForToken(tok); !ok {
			return NewProblem(http.StatusForbidden, CodeForbidden, "unknown facility token")
		}
	}
	return nil
}

// HeaderSignature carries a facility's detached JWS.
const HeaderSignature = "Divoc-Signature"

func bearer(r *http.Request) (string, bool) {
	// The scheme name is case-insensitive (RFC 9110 11.1).
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return v == 0
}

func asProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return NewProblem(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is larger than the limit of "+itoa(mbe.Limit)+" bytes")
	}
	return NewProblem(http.StatusInternalServerError, CodeInternal, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (to flush
// event streams).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
