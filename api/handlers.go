package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/divoc/divoc/credential/qr"
	"github.com/divoc/divoc/credential/vcjwt"
	"github.com/divoc/divoc/divocfmt"
)

// healthz answers 503 until the first block is committed: before it, the
// registries are not readable and every upload would be refused.
func (s *server) healthz(w http.ResponseWriter, _ *http.Request) error {
	st := s.Backend.Status()
	if st.Height < 1 {
		return NewProblem(http.StatusServiceUnavailable, CodeBusy, "no block committed yet")
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ok": true, "height": st.Height})
}

func (s *server) openapi(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, err := w.Write(openAPI)
	return err
}

func (s *server) status(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, s.Backend.Status())
}

func (s *server) registry(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, s.Backend.Registry())
}

// submission reads who submits: a signature, or a facility token.
func (s *server) submission(r *http.Request, format string) Submission {
	sub := Submission{Format: format, Program: r.URL.Query().Get("programId"), Signature: strings.TrimSpace(r.Header.Get(HeaderSignature))}
	if sub.Signature == "" {
		tok, _ := bearer(r)
		sub.Facility, _ = s.Backend.FacilityForToken(tok)
	}
	return sub
}

// fileProblem turns a parser's fatal error into a problem.
func fileProblem(err error) *Problem {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return asProblem(err)
	}
	var fe *divocfmt.FileError
	if errors.As(err, &fe) {
		p := NewProblem(http.StatusBadRequest, fe.Code, fe.Message)
		p.Row = fe.Line
		if len(fe.Names) > 0 {
			p.Field = strings.Join(fe.Names, ",")
		}
		return p
	}
	return NewProblem(http.StatusBadRequest, CodeBadRequest, err.Error())
}

func (s *server) certify(w http.ResponseWriter, r *http.Request) error {
	if ct := mediaType(r); ct != "" && ct != "application/json" {
		return NewProblem(http.StatusUnsupportedMediaType, CodeUnsupported, "send a DIVOC certify request as application/json")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return asProblem(err)
	}
	certs, rowErrs, err := divocfmt.ParseCertifyJSON(body, divocfmt.JSONOptions{MaxItems: s.MaxRows})
	if err != nil {
		return fileProblem(err)
	}
	sub := s.submission(r, "json")
	sub.Rows, sub.Certs, sub.Errors, sub.Wait = len(certs)+countRows(rowErrs, certs), certs, rowErrs, true
	up, err := s.Backend.Submit(r.Context(), sub)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, up)
}

// csvBody is the CSV of an upload: the body (text/csv) or the part named
// "file" of a multipart form.
func csvBody(r *http.Request) (io.Reader, error) {
	switch mediaType(r) {
	case "text/csv", "application/csv", "text/plain", "":
		return r.Body, nil
	case "multipart/form-data":
		f, _, err := r.FormFile("file")
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, asProblem(err)
		}
		if err != nil {
			return nil, NewProblem(http.StatusBadRequest, CodeBadRequest, "multipart upload needs the CSV in a part named \"file\"").WithField("file", "required")
		}
		return f, nil
	}
	return nil, NewProblem(http.StatusUnsupportedMediaType, CodeUnsupported, "send the CSV as text/csv or multipart/form-data (part \"file\")")
}

func (s *server) bulkCertify(w http.ResponseWriter, r *http.Request) error {
	src, err := csvBody(r)
	if err != nil {
		return err
	}
	certs, rowErrs, err := divocfmt.ParseBulkCSV(src, divocfmt.CSVOptions{MaxRows: s.MaxRows})
	if err != nil {
		return fileProblem(err)
	}
	sub := s.submission(r, "csv")
	sub.Rows, sub.Certs, sub.Errors = len(certs)+countRows(rowErrs, certs), certs, rowErrs
	sub.Wait = r.URL.Query().Get("wait") == "true"
	up, err := s.Backend.Submit(r.Context(), sub)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/uploads/"+up.ID)
	status := http.StatusAccepted
	if sub.Wait {
		status = http.StatusOK
	}
	return writeJSON(w, status, up)
}

// countRows counts the distinct bad rows that are not also good rows.
func countRows(errs []divocfmt.RowError, certs []divocfmt.Certificate) int {
	good := map[int]bool{}
	for _, c := range certs {
		good[c.Row] = true
	}
	bad := map[int]bool{}
	for _, e := range errs {
		if !good[e.Row] {
			bad[e.Row] = true
		}
	}
	return len(bad)
}

func (s *server) upload(w http.ResponseWriter, r *http.Request) error {
	up, err := s.Backend.Upload(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, up)
}

// operatorOnly lets only the node operator through.
func (s *server) operatorOnly(r *http.Request, why string) error {
	tok, ok := bearer(r)
	if !ok {
		return NewProblem(http.StatusUnauthorized, CodeUnauthenticated, why).WithField("Authorization", "operator_token")
	}
	if s.AdminToken == "" || !constantTimeEqual(tok, s.AdminToken) {
		return NewProblem(http.StatusForbidden, CodeForbidden, why).WithField("Authorization", "operator_token")
	}
	return nil
}

// holderAccess decides who may read a credential (it carries the holder's
// personal data): the node operator, or the facility that recorded it.
// Anyone may read the ledger's view of a certificate.
func (s *server) holderAccess(r *http.Request, c *Certificate) error {
	tok, ok := bearer(r)
	if !ok {
		return NewProblem(http.StatusUnauthorized, CodeUnauthenticated, "the credential carries personal data: send the operator's token or the token of the facility that recorded it (Authorization: Bearer <token>)")
	}
	if s.AdminToken != "" && constantTimeEqual(tok, s.AdminToken) {
		return nil
	}
	if fac, ok := s.Backend.FacilityForToken(tok); ok && fac == c.Facility {
		return nil
	}
	return NewProblem(http.StatusForbidden, CodeForbidden, "this token may not read certificates of facility "+c.Facility)
}

// certificateID normalizes an id from the path: Crockford base32 is read
// without regard to case.
func certificateID(r *http.Request) string { return strings.ToUpper(chi.URLParam(r, "id")) }

func (s *server) certificate(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Backend.Certificate(certificateID(r))
	if err != nil {
		return err
	}
	if f := r.URL.Query().Get("format"); f != "" && f != "jwt" && f != "json" {
		return s.certificateIn(w, r, c, f)
	}
	if r.URL.Query().Get("format") == "jwt" || strings.Contains(r.Header.Get("Accept"), "application/vc+jwt") {
		if err := s.holderAccess(r, c); err != nil {
			return err
		}
		if c.Credential == "" {
			return NewProblem(http.StatusNotFound, CodeNotFound, "this node does not hold the credential of certificate "+c.ID)
		}
		w.Header().Set("Content-Type", "application/vc+jwt")
		_, err := io.WriteString(w, c.Credential)
		return err
	}
	if _, ok := bearer(r); !ok || s.holderAccess(r, c) != nil {
		c.Credential = ""
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *server) certificateQR(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Backend.Certificate(certificateID(r))
	if err != nil {
		return err
	}
	if err := s.holderAccess(r, c); err != nil {
		return err
	}
	if f := r.URL.Query().Get("format"); f != "" && f != "jwt" && f != "vc-jwt" {
		return s.qrOf(w, c, f)
	}
	if c.Credential == "" {
		return NewProblem(http.StatusNotFound, CodeNotFound, "this node does not hold the credential of certificate "+c.ID)
	}
	text, err := vcjwt.Compact(c.Credential)
	if err != nil {
		return err
	}
	return writeQR(w, text)
}

func (s *server) verify(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return asProblem(err)
	}
	var cred string
	switch mediaType(r) {
	case "image/png":
		if cred, err = qr.DecodePNG(body); err != nil {
			return NewProblem(http.StatusBadRequest, CodeBadRequest, "the image holds no readable QR code: "+err.Error()).WithField("body", "qr")
		}
	case "application/json":
		var req struct {
			Credential string `json:"credential"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Credential == "" {
			return NewProblem(http.StatusBadRequest, CodeBadRequest, "JSON body must be {\"credential\": \"<vc+jwt>\"}").WithField("credential", "required")
		}
		cred = req.Credential
	default:
		cred = string(body)
	}
	cred = strings.TrimSpace(cred)
	if cred == "" {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "no credential in the body").WithField("body", "required")
	}
	v, err := s.Backend.Verify(r.Context(), cred)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *server) revoke(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "a revocation needs a reason").WithField("reason", "required")
	}
	c, err := s.Backend.Revoke(r.Context(), certificateID(r), req.Reason)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *server) correct(w http.ResponseWriter, r *http.Request) error {
	var req Correction
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "a correction needs a reason").WithField("reason", "required")
	}
	c, err := s.Backend.Correct(r.Context(), certificateID(r), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *server) jwks(w http.ResponseWriter, _ *http.Request) error {
	b, err := s.Backend.TrustJWKS()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, err = w.Write(b)
	return err
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return asProblem(err)
		}
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "malformed JSON body: "+err.Error())
	}
	return nil
}

func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}
