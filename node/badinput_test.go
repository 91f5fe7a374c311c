package node_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/credential/vcjwt"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/node"
	"github.com/divoc/divoc/vault"
)

// bodyLimit is the request body limit of the node under test: small, so
// that an oversized body is cheap to send.
const bodyLimit = 1 << 20

// Bad input over real HTTP against one running node (THREATS rows 16, 18,
// 19 and 26): each case gets its status, an application/problem+json body
// with a stable code, and where it applies the field, row and per-row
// errors; what was valid beside a bad row is recorded.
func TestBadInputThroughHTTP(t *testing.T) {
	f := newBadInputFixture(t)

	t.Run("routing", f.testRouting)
	t.Run("authorization scheme", f.testAuthScheme)
	t.Run("certify JSON", f.testCertifyJSON)
	t.Run("bulk CSV", f.testBulkCSV)
	t.Run("facility auth", f.testFacilityAuth)
	t.Run("replayed signed upload", f.testReplay)
	t.Run("oversized bodies", f.testOversized)
	t.Run("admin operations", f.testAdmin)
	t.Run("verify", f.testVerify)
}

type badInputFixture struct {
	n     *node.Node
	home  string
	base  string
	http  *http.Client
	fac   string // a facility with a token and a key in the home
	token string // its token
	admin string

	header   []string          // DIVOC's bulk CSV header
	template map[string]string // a good row of fac's generated CSV
	people   int               // fresh recipients made so far
}

// startWithSettings is startLocal with a change to the node's settings
// before it starts.
func startWithSettings(t *testing.T, certs int, change func(*node.Settings)) (*node.Node, string) {
	t.Helper()
	home := t.TempDir()
	if _, err := node.InitLocal(node.LocalOptions{Home: home, Seed: 7, Facilities: 3, Certificates: certs,
		APIListen: "127.0.0.1:0", P2PListen: "tcp://127.0.0.1:0"}); err != nil {
		t.Fatalf("init: %v", err)
	}
	s, err := node.LoadSettings(node.Home(home))
	if err != nil {
		t.Fatal(err)
	}
	change(&s)
	if err := node.SaveSettings(node.Home(home), s); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(node.Home(home))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { n.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.WaitHeight(ctx, 1); err != nil {
		t.Fatalf("no first block: %v", err)
	}
	return n, home
}

func newBadInputFixture(t *testing.T) *badInputFixture {
	n, home := startWithSettings(t, 30, func(s *node.Settings) { s.MaxBodyBytes = bodyLimit })
	f := &badInputFixture{n: n, home: home, base: "http://" + n.APIAddr, http: &http.Client{Timeout: 2 * time.Minute},
		admin: n.Service.AdminToken(), header: divocfmt.BulkCSVHeader()}
	if f.admin == "" {
		t.Fatal("the node has no admin token")
	}
	// A facility of the ledger whose generated CSV has a row to copy.
	reg := wantJSON[api.Registry](t, f.send(t, "GET", "/v1/registry", nil), http.StatusOK)
	for _, fac := range reg.Facilities {
		b, err := os.ReadFile(filepath.Join(home, "gen-data", "certificates-"+fac.Code+".csv"))
		if err != nil {
			continue
		}
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil || len(recs) < 2 || facilityToken(n, fac.Code) == "" {
			continue
		}
		f.fac, f.token = fac.Code, facilityToken(n, fac.Code)
		f.template = map[string]string{}
		for i, col := range recs[0] {
			f.template[col] = recs[1][i]
		}
		break
	}
	if f.fac == "" {
		t.Fatal("no facility with generated rows and a token")
	}
	return f
}

// row is a good row for a person no other row names: the template's
// vaccination, yesterday, for a fresh recipient. change overrides cells.
func (f *badInputFixture) row(change map[string]string) map[string]string {
	f.people++
	r := map[string]string{}
	for k, v := range f.template {
		r[k] = v
	}
	r["preEnrollmentCode"] = fmt.Sprintf("BI%08d", f.people)
	r["recipientName"] = fmt.Sprintf("Badinput Person %d", f.people)
	r["recipientIdentity"] = fmt.Sprintf("did:in.gov.uidai.aadhaar:9%011d", f.people)
	r["recipientAge"] = ""
	r["recipientDOB"] = "1980-01-15"
	r["vaccinationDate"] = time.Now().UTC().AddDate(0, 0, -1).Format(time.RFC3339)
	r["vaccinationDose"] = "1"
	for k, v := range change {
		r[k] = v
	}
	return r
}

// csvOf writes rows under header (a cell a header lacks is left out; one
// it has and the row lacks is empty).
func csvOf(t *testing.T, header []string, rows ...map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(header)
	for _, r := range rows {
		rec := make([]string, len(header))
		for i, col := range header {
			rec[i] = r[col]
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// certifyPaths is where each bulk-CSV column sits in a DIVOC
// CertificationRequest (as in DIVOC's certify.json).
var certifyPaths = map[string]string{
	"preEnrollmentCode": "preEnrollmentCode", "recipientName": "recipient.name", "recipientMobileNumber": "recipient.contact",
	"recipientDOB": "recipient.dob", "recipientAge": "recipient.age", "recipientGender": "recipient.gender",
	"recipientNationality": "recipient.nationality", "recipientIdentity": "recipient.identity",
	"recipientAddressLine1": "recipient.address.addressLine1", "recipientAddressLine2": "recipient.address.addressLine2",
	"recipientDistrict": "recipient.address.district", "recipientState": "recipient.address.state",
	"recipientPincode": "recipient.address.pincode", "vaccinationBatch": "vaccination.batch",
	"vaccinationDate": "vaccination.date", "vaccinationDose": "vaccination.dose",
	"vaccinationTotalDoses": "vaccination.totalDoses", "vaccinationEffectiveStart": "vaccination.effectiveStart",
	"vaccinationEffectiveEnd": "vaccination.effectiveUntil", "vaccinationManufacturer": "vaccination.manufacturer",
	"vaccinationName": "vaccination.name", "vaccinatorName": "vaccinator.name", "facilityName": "facility.name",
	"facilityAddressLine1": "facility.address.addressLine1", "facilityAddressLine2": "facility.address.addressLine2",
	"facilityDistrict": "facility.address.district", "facilityState": "facility.address.state",
	"facilityPincode": "facility.address.pincode",
}

// certifyRequest turns rows into a DIVOC certify request.
func certifyRequest(t *testing.T, rows ...map[string]string) []byte {
	t.Helper()
	var out []map[string]any
	for _, r := range rows {
		obj := map[string]any{"comorbidities": []string{}}
		for col, v := range r {
			path, ok := certifyPaths[col]
			if !ok || v == "" {
				continue
			}
			keys := strings.Split(path, ".")
			m := obj
			for _, k := range keys[:len(keys)-1] {
				next, ok := m[k].(map[string]any)
				if !ok {
					next = map[string]any{}
					m[k] = next
				}
				m = next
			}
			var val any = v
			switch col {
			case "recipientMobileNumber":
				val = []string{"tel:" + v}
			case "vaccinationDose", "vaccinationTotalDoses", "recipientAge":
				var n int
				fmt.Sscan(v, &n)
				val = n
			}
			m[keys[len(keys)-1]] = val
		}
		out = append(out, obj)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reply is an HTTP answer; problem is decoded when the body is one.
type reply struct {
	status  int
	ctype   string
	header  http.Header
	body    []byte
	problem *api.Problem
}

func (r reply) String() string {
	return fmt.Sprintf("%d %s %s", r.status, r.ctype, truncate(strings.TrimSpace(string(r.body)), 600))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// send makes one request. hdr holds headers such as Content-Type and
// Authorization.
func (f *badInputFixture) send(t *testing.T, method, path string, body io.Reader, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, f.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	r := reply{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), header: resp.Header, body: b}
	if r.ctype == "application/problem+json" {
		var p api.Problem
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%s %s: a problem that is not JSON: %v: %s", method, path, err, b)
		}
		r.problem = &p
	}
	return r
}

// wantProblem checks status, media type and code; it returns the problem.
func wantProblem(t *testing.T, r reply, status int, code string) *api.Problem {
	t.Helper()
	if r.status != status || r.ctype != "application/problem+json" || r.problem == nil || r.problem.Code != code {
		t.Fatalf("want %d application/problem+json with code %s, got %s", status, code, r)
	}
	p := r.problem
	if p.Status != status || p.Type != "https://divoc.dev/problems/"+code || p.Title != http.StatusText(status) || p.Detail == "" {
		t.Errorf("problem members: %+v", p)
	}
	return p
}

func wantJSON[T any](t *testing.T, r reply, status int) *T {
	t.Helper()
	if r.status != status || r.ctype != "application/json" {
		t.Fatalf("want %d application/json, got %s", status, r)
	}
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, r.body)
	}
	return &v
}

func bearerHdr(tok string) []string {
	return []string{"Authorization", "Bearer " + tok}
}

func (f *badInputFixture) postCSV(t *testing.T, query string, body []byte, auth ...string) reply {
	t.Helper()
	return f.send(t, "POST", "/v1/bulkCertify"+query, bytes.NewReader(body), append([]string{"Content-Type", "text/csv"}, auth...)...)
}

func (f *badInputFixture) status(t *testing.T) app.Totals {
	t.Helper()
	return wantJSON[api.Status](t, f.send(t, "GET", "/v1/status", nil), http.StatusOK).Totals
}

// waitUpload polls an upload until it is no longer processing.
func (f *badInputFixture) waitUpload(t *testing.T, id string) *vault.Upload {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		up := wantJSON[vault.Upload](t, f.send(t, "GET", "/v1/uploads/"+id, nil), http.StatusOK)
		if up.Status != vault.UploadProcessing {
			return up
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload %s still processing after a minute: %+v", id, up)
		}
		<-tick.C
	}
}

// okRows maps each row recorded with a certificate to its certificate.
func okRows(up *vault.Upload) map[int]string {
	out := map[int]string{}
	for _, r := range up.Results {
		if r.Code == string(app.OK) && r.Certificate != "" {
			out[r.Row] = r.Certificate
		}
	}
	return out
}

func hasRowError(errs []divocfmt.RowError, row int, field, code string) bool {
	return slices.ContainsFunc(errs, func(e divocfmt.RowError) bool {
		return e.Row == row && e.Field == field && e.Code == code && e.Message != ""
	})
}

// credential fetches a certificate's vc+jwt and decodes its payload.
func (f *badInputFixture) credential(t *testing.T, id string) (string, map[string]any) {
	t.Helper()
	if r := f.send(t, "GET", "/v1/certificates/"+id+"?format=jwt", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("credential of %s without a token: %s", id, r)
	}
	r := f.send(t, "GET", "/v1/certificates/"+id+"?format=jwt", nil, bearerHdr(f.admin)...)
	if r.status != http.StatusOK || r.ctype != "application/vc+jwt" {
		t.Fatalf("credential of %s: %s", id, r)
	}
	jwt := string(r.body)
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %s", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(payload, &doc); err != nil {
		t.Fatal(err)
	}
	return jwt, doc
}

func (f *badInputFixture) testRouting(t *testing.T) {
	for _, c := range []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown route", "GET", "/v1/nothing-here", 404, api.CodeNotFound},
		{"unknown certificate", "GET", "/v1/certificates/NOPE", 404, string(app.CodeUnknownCert)},
		{"unknown certificate QR", "GET", "/v1/certificates/NOPE/qr.png", 404, string(app.CodeUnknownCert)},
		{"unknown upload", "GET", "/v1/uploads/nope", 404, api.CodeNotFound},
		{"wrong method", "DELETE", "/v1/status", 405, api.CodeMethodNotAllowed},
		{"reversed date range", "GET", "/v1/analytics/summary?from=2021-03-02&to=2021-03-01", 400, api.CodeBadRequest},
		{"unknown proposal status", "GET", "/v1/governance/proposals?status=bogus", 400, api.CodeBadRequest},
		{"gender without a token", "GET", "/v1/analytics/summary?by=gender", 401, api.CodeUnauthenticated},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, f.send(t, c.method, c.path, nil), c.status, c.code)
		})
	}
}

// The Bearer scheme is case-insensitive; another scheme is no token.
func (f *badInputFixture) testAuthScheme(t *testing.T) {
	for scheme, want := range map[string]int{"Bearer": 200, "bearer": 200, "BEARER": 200, "Basic": 401} {
		r := f.send(t, "GET", "/v1/analytics/summary?by=gender", nil, "Authorization", scheme+" "+f.admin)
		if r.status != want {
			t.Errorf("Authorization: %s <token>: %s, want %d", scheme, r, want)
		}
	}
}

func (f *badInputFixture) testCertifyJSON(t *testing.T) {
	post := func(t *testing.T, body []byte, hdr ...string) reply {
		return f.send(t, "POST", "/v1/certify", bytes.NewReader(body), append([]string{"Content-Type", "application/json"}, hdr...)...)
	}
	auth := bearerHdr(f.token)

	t.Run("malformed JSON", func(t *testing.T) {
		wantProblem(t, post(t, []byte(`[{"recipient": {"name": "A"`), auth...), 400, divocfmt.CodeInvalidJSON)
	})
	t.Run("not an array", func(t *testing.T) {
		wantProblem(t, post(t, []byte(`{"recipient": {}}`), auth...), 400, divocfmt.CodeNotAnArray)
	})
	t.Run("duplicate key", func(t *testing.T) {
		body := bytes.Replace(certifyRequest(t, f.row(nil)), []byte(`"name":`), []byte(`"name":"Someone Else","name":`), 1)
		p := wantProblem(t, post(t, body, auth...), 400, divocfmt.CodeDuplicateKey)
		if p.Field != "name" {
			t.Errorf("field %q, want name", p.Field)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		r := f.send(t, "POST", "/v1/certify", strings.NewReader("a,b\n"), append([]string{"Content-Type", "text/csv"}, auth...)...)
		wantProblem(t, r, 415, api.CodeUnsupported)
	})
	t.Run("bad date beside a good element", func(t *testing.T) {
		good := f.row(nil)
		bad := f.row(map[string]string{"vaccinationDate": "31/12/2021"})
		before := f.status(t)
		up := wantJSON[vault.Upload](t, post(t, certifyRequest(t, good, bad), auth...), http.StatusOK)
		if up.Status != vault.UploadCommitted || up.Kind != "json" || up.Rows != 2 || up.Accepted != 1 || up.Rejected != 1 || up.Pending != 0 {
			t.Errorf("upload: %+v", up)
		}
		if !hasRowError(up.Errors, 1, "[1].vaccination.date", divocfmt.CodeInvalidDate) || len(up.Errors) != 1 {
			t.Errorf("row errors: %+v", up.Errors)
		}
		ok := okRows(up)
		if len(ok) != 1 || ok[0] == "" {
			t.Fatalf("results: %+v", up.Results)
		}
		c := wantJSON[api.Certificate](t, f.send(t, "GET", "/v1/certificates/"+ok[0], nil), http.StatusOK)
		if c.Status != app.CertActive || c.Facility != f.fac {
			t.Errorf("certificate: %+v", c)
		}
		if after := f.status(t); after.Certificates != before.Certificates+1 {
			t.Errorf("certificates %d -> %d, want one more", before.Certificates, after.Certificates)
		}
	})
	t.Run("no valid element", func(t *testing.T) {
		bad := f.row(map[string]string{"recipientName": "", "vaccinationDose": "0"})
		p := wantProblem(t, post(t, certifyRequest(t, bad), auth...), 422, api.CodeNoValidRows)
		if !hasRowError(p.Errors, 0, "[0].recipient.name", divocfmt.CodeMissingValue) ||
			!hasRowError(p.Errors, 0, "[0].vaccination.dose", divocfmt.CodeDoseOutOfRange) {
			t.Errorf("errors: %+v", p.Errors)
		}
	})
}

func (f *badInputFixture) testBulkCSV(t *testing.T) {
	auth := bearerHdr(f.token)
	without := func(col string) []string {
		return slices.DeleteFunc(slices.Clone(f.header), func(c string) bool { return c == col })
	}

	t.Run("missing column", func(t *testing.T) {
		p := wantProblem(t, f.postCSV(t, "?wait=true", csvOf(t, without("vaccinationDate"), f.row(nil)), auth...), 400, divocfmt.CodeMissingColumns)
		if p.Field != "vaccinationDate" || p.Row != 1 || !strings.Contains(p.Detail, "vaccinationDate") {
			t.Errorf("problem: %+v", p)
		}
	})
	t.Run("unknown column", func(t *testing.T) {
		r := f.row(map[string]string{"shoeSize": "42"})
		p := wantProblem(t, f.postCSV(t, "?wait=true", csvOf(t, append(slices.Clone(f.header), "shoeSize"), r), auth...), 400, divocfmt.CodeUnknownColumns)
		if p.Field != "shoeSize" || p.Row != 1 {
			t.Errorf("problem: %+v", p)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		wantProblem(t, f.postCSV(t, "", nil, auth...), 400, divocfmt.CodeEmptyFile)
	})
	t.Run("multipart without file part", func(t *testing.T) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("notes", "no file here")
		mw.Close()
		r := f.send(t, "POST", "/v1/bulkCertify", &b, append([]string{"Content-Type", mw.FormDataContentType()}, auth...)...)
		if p := wantProblem(t, r, 400, api.CodeBadRequest); p.Field != "file" {
			t.Errorf("field %q, want file", p.Field)
		}
	})
	t.Run("bad date among good rows", func(t *testing.T) {
		before := f.status(t)
		// Lines: 1 header, 2 good, 3 bad, 4 good.
		body := csvOf(t, f.header, f.row(nil), f.row(map[string]string{"vaccinationDate": "31/12/2021"}), f.row(nil))
		r := f.postCSV(t, "?wait=true", body, auth...)
		up := wantJSON[vault.Upload](t, r, http.StatusOK)
		if loc := r.header.Get("Location"); loc != "/v1/uploads/"+up.ID {
			t.Errorf("Location %q", loc)
		}
		if up.Status != vault.UploadCommitted || up.Kind != "csv" || up.Rows != 3 || up.Accepted != 2 || up.Rejected != 1 || up.Pending != 0 {
			t.Errorf("upload: %+v", up)
		}
		if len(up.Errors) != 1 || !hasRowError(up.Errors, 3, "vaccinationDate", divocfmt.CodeInvalidDate) {
			t.Errorf("row errors: %+v", up.Errors)
		}
		if ok := okRows(up); len(ok) != 2 || ok[2] == "" || ok[4] == "" {
			t.Errorf("results: %+v", up.Results)
		}
		after := f.status(t)
		if after.Certificates != before.Certificates+2 || after.EventsAccepted != before.EventsAccepted+2 {
			t.Errorf("totals %+v -> %+v, want two more certificates", before, after)
		}
		// The same answer later, from the vault.
		again := wantJSON[vault.Upload](t, f.send(t, "GET", "/v1/uploads/"+up.ID, nil), http.StatusOK)
		if again.Accepted != 2 || len(again.Errors) != 1 {
			t.Errorf("stored upload: %+v", again)
		}
	})
	t.Run("no valid row", func(t *testing.T) {
		body := csvOf(t, f.header, f.row(map[string]string{"vaccinationDate": "yesterday"}), f.row(map[string]string{"recipientName": ""}))
		p := wantProblem(t, f.postCSV(t, "?wait=true", body, auth...), 422, api.CodeNoValidRows)
		if !hasRowError(p.Errors, 2, "vaccinationDate", divocfmt.CodeInvalidDate) || !hasRowError(p.Errors, 3, "recipientName", divocfmt.CodeMissingValue) {
			t.Errorf("errors: %+v", p.Errors)
		}
	})
	t.Run("formula in a name is data", func(t *testing.T) {
		const formula = `=HYPERLINK("http://x","y")`
		body := csvOf(t, f.header, f.row(map[string]string{"recipientName": formula}))
		if !bytes.Contains(body, []byte(`"=HYPERLINK(""http://x"",""y"")"`)) {
			t.Fatalf("the CSV does not carry the formula as DIVOC's files would: %s", body)
		}
		// Without wait: 202 and an upload to poll.
		r := f.postCSV(t, "", body, auth...)
		up := wantJSON[vault.Upload](t, r, http.StatusAccepted)
		if r.header.Get("Location") != "/v1/uploads/"+up.ID {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		up = f.waitUpload(t, up.ID)
		if up.Status != vault.UploadCommitted || up.Accepted != 1 || len(up.Errors) != 0 {
			t.Fatalf("upload: %+v", up)
		}
		id := okRows(up)[2]
		jwt, doc := f.credential(t, id)
		subject, _ := doc["credentialSubject"].(map[string]any)
		if got, _ := subject["name"].(string); got != formula {
			t.Errorf("credential name %q, want %q verbatim", got, formula)
		}
		v := wantJSON[api.Verification](t, f.send(t, "POST", "/v1/verify", strings.NewReader(jwt), "Content-Type", "application/vc+jwt"), http.StatusOK)
		if !v.Valid || v.Holder == nil || v.Holder.Name != formula {
			t.Errorf("verification: %+v", v)
		}
	})
}

// sign parses a CSV as the facility's client would, and signs the
// events the node will derive from its valid rows with signer.
func (f *badInputFixture) sign(t *testing.T, body []byte, signer *keys.Signer) string {
	t.Helper()
	certs, _, err := divocfmt.ParseBulkCSV(bytes.NewReader(body), divocfmt.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := wantJSON[api.Registry](t, f.send(t, "GET", "/v1/registry", nil), http.StatusOK)
	vf, err := os.Open(filepath.Join(f.home, "gen-data", "vaccinators.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer vf.Close()
	vaccinators, _, err := divocfmt.ParseVaccinatorsCSV(vf)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ingest.LoadPseudonymKey(filepath.Join(f.home, "keys", "pseudonym.key"))
	if err != nil {
		t.Fatal(err)
	}
	batch := ingest.Prepare(f.fac, "", certs, ingest.NewCatalog(reg.Vaccines, reg.Programs, vaccinators).InZone(reg.TimezoneOffsetMinutes), pk)
	if len(batch.Errors) > 0 {
		t.Fatalf("rows the ledger cannot resolve: %+v", batch.Errors)
	}
	part, err := batch.Sign(f.n.App.ChainID(), signer, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return part.DetachedJWS()
}

func (f *badInputFixture) facilityKey(t *testing.T) *keys.Signer {
	t.Helper()
	k, err := keys.Load(filepath.Join(f.home, "keys", "facilities", f.fac+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (f *badInputFixture) testFacilityAuth(t *testing.T) {
	body := csvOf(t, f.header, f.row(nil), f.row(nil))
	stranger, err := keys.Generate("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	other := csvOf(t, f.header, f.row(nil), f.row(nil))
	before := f.status(t)
	for _, c := range []struct {
		name   string
		auth   []string
		status int
		code   string
		field  string
	}{
		{"no signature or token", nil, 401, api.CodeUnauthenticated, ""},
		{"empty bearer token", []string{"Authorization", "Bearer "}, 401, api.CodeUnauthenticated, ""},
		{"wrong facility token", bearerHdr("not-a-facility-token"), 403, api.CodeForbidden, ""},
		{"admin token is no facility token", bearerHdr(f.admin), 403, api.CodeForbidden, ""},
		{"signature that is not a JWS", []string{api.HeaderSignature, "garbage"}, 401, string(app.CodeBadSignature), api.HeaderSignature},
		{"key not registered", []string{api.HeaderSignature, f.sign(t, body, stranger)}, 401, string(app.CodeUnauthorized), api.HeaderSignature},
		{"signature over other rows", []string{api.HeaderSignature, f.sign(t, other, f.facilityKey(t))}, 401, string(app.CodeBadSignature), api.HeaderSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := wantProblem(t, f.postCSV(t, "?wait=true", body, c.auth...), c.status, c.code)
			if p.Field != c.field {
				t.Errorf("field %q, want %q", p.Field, c.field)
			}
		})
	}
	t.Run("certify without auth", func(t *testing.T) {
		r := f.send(t, "POST", "/v1/certify", bytes.NewReader(certifyRequest(t, f.row(nil))), "Content-Type", "application/json")
		wantProblem(t, r, 401, api.CodeUnauthenticated)
	})
	if after := f.status(t); after != before {
		t.Errorf("refused uploads changed the totals: %+v -> %+v", before, after)
	}
}

func (f *badInputFixture) testReplay(t *testing.T) {
	body := csvOf(t, f.header, f.row(nil), f.row(nil), f.row(nil))
	sig := f.sign(t, body, f.facilityKey(t))
	first := wantJSON[vault.Upload](t, f.postCSV(t, "?wait=true", body, api.HeaderSignature, sig), http.StatusOK)
	if first.Status != vault.UploadCommitted || first.Accepted != 3 {
		t.Fatalf("first upload: %+v", first)
	}
	before := f.status(t)
	r := f.postCSV(t, "?wait=true", body, api.HeaderSignature, sig)
	wantProblem(t, r, http.StatusConflict, string(app.CodeReplay))
	after := f.status(t)
	if after.Certificates != before.Certificates || after.EventsAccepted != before.EventsAccepted {
		t.Errorf("the replay was counted: %+v -> %+v", before, after)
	}
}

// endless is a body of n bytes: prefix, then line repeated. The HTTP
// client reads it from its own goroutine; sent() tells how far it got.
type endless struct {
	prefix, line []byte
	n, pos       int64
	read         atomic.Int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.pos >= e.n {
		return 0, io.EOF
	}
	i := 0
	for i < len(p) && e.pos < e.n {
		if e.pos < int64(len(e.prefix)) {
			p[i] = e.prefix[e.pos]
		} else {
			p[i] = e.line[(e.pos-int64(len(e.prefix)))%int64(len(e.line))]
		}
		i++
		e.pos++
	}
	e.read.Store(e.pos)
	return i, nil
}

func (e *endless) sent() int64 { return e.read.Load() }

func (f *badInputFixture) testOversized(t *testing.T) {
	const total = 64 << 20
	auth := bearerHdr(f.token)
	rowCSV := csvOf(t, f.header, f.row(nil))
	header, line, _ := bytes.Cut(rowCSV, []byte("\n"))
	before := f.status(t)

	t.Run("certify JSON", func(t *testing.T) {
		one := certifyRequest(t, f.row(nil))
		body := &endless{prefix: []byte("["), line: append(one[1:len(one)-1], ','), n: total}
		r := f.send(t, "POST", "/v1/certify", body, append([]string{"Content-Type", "application/json"}, auth...)...)
		wantProblem(t, r, 413, api.CodeTooLarge)
		if n := body.sent(); n >= total {
			t.Errorf("the node read all %d bytes before refusing", n)
		} else {
			t.Logf("the client sent %d of %d bytes", n, int64(total))
		}
	})
	t.Run("bulk CSV", func(t *testing.T) {
		body := &endless{prefix: append(header, '\n'), line: line, n: total}
		r := f.send(t, "POST", "/v1/bulkCertify?wait=true", body, append([]string{"Content-Type", "text/csv"}, auth...)...)
		if n := body.sent(); n >= total {
			t.Errorf("the node read all %d bytes before refusing", n)
		} else {
			t.Logf("the client sent %d of %d bytes", n, int64(total))
		}
		wantProblem(t, r, 413, api.CodeTooLarge)
	})
	t.Run("bulk CSV as multipart", func(t *testing.T) {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			part, err := mw.CreateFormFile("file", "certificates.csv")
			if err == nil {
				_, err = io.Copy(part, &endless{prefix: append(header, '\n'), line: line, n: total})
			}
			if err == nil {
				err = mw.Close()
			}
			pw.CloseWithError(err)
		}()
		r := f.send(t, "POST", "/v1/bulkCertify?wait=true", pr, append([]string{"Content-Type", mw.FormDataContentType()}, auth...)...)
		pr.Close()
		wantProblem(t, r, 413, api.CodeTooLarge)
	})
	t.Run("verify", func(t *testing.T) {
		body := &endless{line: []byte("eyJhbGciOiJFZERTQSJ9"), n: total}
		r := f.send(t, "POST", "/v1/verify", body, "Content-Type", "application/vc+jwt")
		wantProblem(t, r, 413, api.CodeTooLarge)
	})
	t.Run("revoke", func(t *testing.T) {
		body := &endless{prefix: []byte(`{"reason":"`), line: []byte("x"), n: total}
		r := f.send(t, "POST", "/v1/certificates/0000000000000000/revoke", body, append([]string{"Content-Type", "application/json"}, bearerHdr(f.admin)...)...)
		wantProblem(t, r, 413, api.CodeTooLarge)
	})
	if after := f.status(t); after != before {
		t.Errorf("oversized uploads changed the totals: %+v -> %+v", before, after)
	}
}

func (f *badInputFixture) testAdmin(t *testing.T) {
	// Two certificates to work on.
	up := wantJSON[vault.Upload](t, f.postCSV(t, "?wait=true", csvOf(t, f.header, f.row(nil), f.row(nil)), bearerHdr(f.token)...), http.StatusOK)
	ok := okRows(up)
	if len(ok) != 2 {
		t.Fatalf("upload: %+v", up)
	}
	revokeID, correctID := ok[2], ok[3]
	revoke := func(t *testing.T, id, body string, auth ...string) reply {
		return f.send(t, "POST", "/v1/certificates/"+id+"/revoke", strings.NewReader(body), append([]string{"Content-Type", "application/json"}, auth...)...)
	}
	correct := func(t *testing.T, id, body string, auth ...string) reply {
		return f.send(t, "PUT", "/v1/certificates/"+id, strings.NewReader(body), append([]string{"Content-Type", "application/json"}, auth...)...)
	}
	admin := bearerHdr(f.admin)
	reason := `{"reason":"issued in error"}`

	for _, c := range []struct {
		name   string
		r      func(t *testing.T) reply
		status int
		code   string
		field  string
	}{
		{"revoke without token", func(t *testing.T) reply { return revoke(t, revokeID, reason) }, 401, api.CodeUnauthenticated, ""},
		{"revoke with a wrong token", func(t *testing.T) reply { return revoke(t, revokeID, reason, bearerHdr("wrong")...) }, 403, api.CodeForbidden, ""},
		{"revoke with a facility token", func(t *testing.T) reply { return revoke(t, revokeID, reason, bearerHdr(f.token)...) }, 403, api.CodeForbidden, ""},
		{"correct without token", func(t *testing.T) reply { return correct(t, correctID, `{"reason":"x","name":"Y"}`) }, 401, api.CodeUnauthenticated, ""},
		{"correct with a wrong token", func(t *testing.T) reply {
			return correct(t, correctID, `{"reason":"x","name":"Y"}`, bearerHdr("wrong")...)
		}, 403, api.CodeForbidden, ""},
		{"revoke without reason", func(t *testing.T) reply { return revoke(t, revokeID, `{}`, admin...) }, 400, api.CodeBadRequest, "reason"},
		{"revoke with malformed JSON", func(t *testing.T) reply { return revoke(t, revokeID, `{"reason":`, admin...) }, 400, api.CodeBadRequest, ""},
		{"revoke with an unknown member", func(t *testing.T) reply { return revoke(t, revokeID, `{"reason":"x","force":true}`, admin...) }, 400, api.CodeBadRequest, ""},
		{"revoke an unknown certificate", func(t *testing.T) reply { return revoke(t, "0000000000000000", reason, admin...) }, 404, string(app.CodeUnknownCert), ""},
		{"correct an unknown certificate", func(t *testing.T) reply { return correct(t, "0000000000000000", `{"reason":"x","name":"Y"}`, admin...) }, 404, string(app.CodeUnknownCert), ""},
		{"correction that changes nothing", func(t *testing.T) reply { return correct(t, correctID, `{"reason":"no change"}`, admin...) }, 400, api.CodeBadRequest, ""},
		{"correction to the same name", func(t *testing.T) reply {
			c := wantJSON[api.Certificate](t, f.send(t, "GET", "/v1/certificates/"+correctID, nil), http.StatusOK)
			_, doc := f.credential(t, c.ID)
			name := doc["credentialSubject"].(map[string]any)["name"].(string)
			b, _ := json.Marshal(api.Correction{Reason: "same", Name: name})
			return correct(t, correctID, string(b), admin...)
		}, 400, api.CodeBadRequest, ""},
		{"correction with a bad dob", func(t *testing.T) reply { return correct(t, correctID, `{"reason":"x","dob":"15/01/1980"}`, admin...) }, 400, divocfmt.CodeInvalidDate, "dob"},
		{"correction with a dob after the vaccination", func(t *testing.T) reply { return correct(t, correctID, `{"reason":"x","dob":"2099-01-01"}`, admin...) }, 400, divocfmt.CodeDOBAfterVaccination, "dob"},
		{"correction with a terminal escape in the name", func(t *testing.T) reply {
			return correct(t, correctID, `{"reason":"x","name":"Evil\u001b[2J"}`, admin...)
		}, 400, divocfmt.CodeControlChar, "name"},
		{"correction with a bad mobile", func(t *testing.T) reply { return correct(t, correctID, `{"reason":"x","mobile":"123"}`, admin...) }, 400, divocfmt.CodeInvalidMobile, "mobile"},
		{"correction without reason", func(t *testing.T) reply { return correct(t, correctID, `{"name":"Y"}`, admin...) }, 400, api.CodeBadRequest, "reason"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := wantProblem(t, c.r(t), c.status, c.code)
			if p.Field != c.field {
				t.Errorf("field %q, want %q", p.Field, c.field)
			}
		})
	}

	t.Run("revoke twice", func(t *testing.T) {
		before := f.status(t)
		c := wantJSON[api.Certificate](t, revoke(t, revokeID, reason, admin...), http.StatusOK)
		if c.Status != app.CertRevoked {
			t.Fatalf("revoked: %+v", c)
		}
		wantProblem(t, revoke(t, revokeID, `{"reason":"again"}`, admin...), 409, string(app.CodeAlreadyRevoked))
		if after := f.status(t); after.Revocations != before.Revocations+1 {
			t.Errorf("revocations %d -> %d, want one more", before.Revocations, after.Revocations)
		}
	})
	t.Run("the certificates are as they were", func(t *testing.T) {
		c := wantJSON[api.Certificate](t, f.send(t, "GET", "/v1/certificates/"+correctID, nil), http.StatusOK)
		if c.Status != app.CertActive || c.SupersededBy != "" {
			t.Errorf("refused corrections changed the certificate: %+v", c)
		}
	})
}

func (f *badInputFixture) testVerify(t *testing.T) {
	verify := func(t *testing.T, ctype string, body []byte) reply {
		return f.send(t, "POST", "/v1/verify", bytes.NewReader(body), "Content-Type", ctype)
	}
	blank := image.NewGray(image.Rect(0, 0, 120, 120))
	for i := range blank.Pix {
		blank.Pix[i] = 0xff
	}
	var noQR bytes.Buffer
	if err := png.Encode(&noQR, blank); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, ctype string
		body        []byte
		field, rule string
	}{
		{"empty body", "application/vc+jwt", nil, "body", "required"},
		{"blank text", "text/plain", []byte(" \n\t "), "body", "required"},
		{"JSON without credential", "application/json", []byte(`{"jwt":"x"}`), "credential", "required"},
		{"JSON that is not JSON", "application/json", []byte(`{"credential":`), "credential", "required"},
		{"PNG without a QR code", "image/png", noQR.Bytes(), "body", "qr"},
		{"bytes that are no PNG", "image/png", []byte("not a png"), "body", "qr"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := wantProblem(t, verify(t, c.ctype, c.body), 400, api.CodeBadRequest)
			if p.Field != c.field || p.Rule != c.rule {
				t.Errorf("field %q rule %q, want %q %q", p.Field, p.Rule, c.field, c.rule)
			}
		})
	}

	// A real credential to start from.
	up := wantJSON[vault.Upload](t, f.postCSV(t, "?wait=true", csvOf(t, f.header, f.row(nil)), bearerHdr(f.token)...), http.StatusOK)
	real, _ := f.credential(t, okRows(up)[2])
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(real, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := keys.Generate("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	forged, err := vcjwt.Issue(payload, stranger)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(real, ".")

	for _, c := range []struct {
		name, ctype string
		body        []byte
		check, code string
	}{
		{"garbage text", "text/plain", []byte("this is not a credential"), "signature", string(vcjwt.CodeMalformed)},
		{"garbage as vc+jwt", "application/vc+jwt", []byte("a.b.c"), "signature", string(vcjwt.CodeMalformed)},
		{"key not on the ledger", "application/vc+jwt", []byte(forged), "signature", string(vcjwt.CodeUnknownKID)},
		{"key not on the ledger, as JSON", "application/json", []byte(`{"credential":"` + forged + `"}`), "signature", string(vcjwt.CodeUnknownKID)},
		{"tampered payload", "application/vc+jwt", []byte(parts[0] + "." + flipChar(parts[1]) + "." + parts[2]), "signature", string(vcjwt.CodeBadSignature)},
		{"alg none", "application/vc+jwt", []byte(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"vc+jwt"}`)) + "." + parts[1] + "."), "signature", string(vcjwt.CodeAlgNotAllowed)},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := wantJSON[api.Verification](t, verify(t, c.ctype, c.body), http.StatusOK)
			if v.Valid {
				t.Fatalf("valid: %+v", v)
			}
			i := slices.IndexFunc(v.Checks, func(ch api.Check) bool { return ch.Name == c.check })
			if i < 0 || v.Checks[i].OK || v.Checks[i].Code == "" || (c.code != "" && v.Checks[i].Code != c.code) {
				t.Errorf("want a failed %s check with code %q, got %+v", c.check, c.code, v.Checks)
			}
			t.Logf("%s check: %s: %s", c.check, v.Checks[i].Code, v.Checks[i].Detail)
			if v.Holder != nil || v.Certificate != "" {
				t.Errorf("an unverified credential's contents were reported: %+v", v)
			}
		})
	}
	t.Run("the real one verifies", func(t *testing.T) {
		v := wantJSON[api.Verification](t, verify(t, "application/json", []byte(`{"credential":"`+real+`"}`)), http.StatusOK)
		if !v.Valid {
			t.Errorf("verification: %+v", v)
		}
	})
}
