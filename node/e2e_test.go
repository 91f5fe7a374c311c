package node_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/gendata"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/node"
)

func startLocal(t *testing.T, certs, bad int) (*node.Node, string) {
	t.Helper()
	n, _, home := newLocalNode(t, node.LocalOptions{Seed: 7, Facilities: 3, Certificates: certs, BadRows: bad}, nil)
	return n, home
}

// newLocalNode makes a single-validator home in a temporary directory (on
// free loopback ports unless o says otherwise), lets edit change its
// settings, starts it (stopped when the test ends) and waits for the
// first block.
func newLocalNode(t *testing.T, o node.LocalOptions, edit func(*node.Settings)) (*node.Node, *gendata.Dataset, string) {
	t.Helper()
	o.Home = t.TempDir()
	if o.APIListen == "" {
		o.APIListen = "127.0.0.1:0"
	}
	if o.P2PListen == "" {
		o.P2PListen = "tcp://127.0.0.1:0"
	}
	ds, err := node.InitLocal(o)
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	h := node.Home(o.Home)
	if edit != nil {
		s, err := node.LoadSettings(h)
		if err != nil {
			t.Fatal(err)
		}
		edit(&s)
		if err := node.SaveSettings(h, s); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return startNode(ctx, t, h), ds, o.Home
}

func facilityToken(n *node.Node, facility string) string {
	for tok, f := range n.Service.FacilityTokens() {
		if f == facility {
			return tok
		}
	}
	return ""
}

// Through HTTP: a facility uploads a CSV it signed itself, the rows are
// committed with certificates, a certificate verifies, is revoked and then
// fails, another is corrected and the correction verifies.
func TestEndToEndThroughHTTP(t *testing.T) {
	n, home := startLocal(t, 60, 8)
	ctx := context.Background()
	base := "http://" + n.APIAddr
	pub := client.New(base, "")

	// The facility's side: parse its CSV, derive and sign the events.
	data := filepath.Join(home, "gen-data")
	facs := n.App.Committed()
	reg, err := pub.Registry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fac := reg.Facilities[0].Code
	csvBytes, err := os.ReadFile(filepath.Join(data, "certificates-"+fac+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	certs, rowErrs, err := divocfmt.ParseBulkCSV(strings.NewReader(string(csvBytes)), divocfmt.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vf, _ := os.Open(filepath.Join(data, "vaccinators.csv"))
	vaccinators, _, _ := divocfmt.ParseVaccinatorsCSV(vf)
	vf.Close()
	pk, _ := ingest.LoadPseudonymKey(filepath.Join(home, "keys", "pseudonym.key"))
	fk, err := keys.Load(filepath.Join(home, "keys", "facilities", fac+".json"))
	if err != nil {
		t.Fatal(err)
	}
	batch := ingest.Prepare(fac, "", certs, ingest.NewCatalog(reg.Vaccines, reg.Programs, vaccinators).InZone(reg.TimezoneOffsetMinutes), pk)
	part, err := batch.Sign(n.App.ChainID(), fk, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	up, err := pub.BulkCertify(ctx, csvBytes, "", part.DetachedJWS(), true)
	if err != nil {
		t.Fatalf("signed upload: %v", err)
	}
	if up.Status != "committed" || up.Accepted == 0 || up.Pending != 0 {
		t.Fatalf("upload: %+v", up)
	}
	t.Logf("upload: %d rows, %d accepted, %d rejected, %d row errors, height %d", up.Rows, up.Accepted, up.Rejected, len(up.Errors), up.Height)
	if len(up.Errors) < len(rowErrs) {
		t.Fatalf("upload reports %d row errors, the parser found %d", len(up.Errors), len(rowErrs))
	}
	var certID string
	for _, r := range up.Results {
		if r.Code == string(app.OK) {
			certID = r.Certificate
			break
		}
	}
	_ = facs

	// A tampered signature is refused with a problem.
	bad := part.DetachedJWS()
	bad = bad[:len(bad)-4] + "AAAA"
	if _, err := pub.BulkCertify(ctx, csvBytes, "", bad, true); !isProblem(err, 401, string(app.CodeBadSignature)) {
		t.Fatalf("tampered signature: %v", err)
	}
	// The signature covers everything of a row the certificate carries:
	// the same signature over the file with one row's validity or
	// vaccinator name changed is refused.
	lines := strings.SplitAfter(string(csvBytes), "\n")
	header := strings.Split(strings.TrimSpace(lines[0]), ",")
	col := func(name string) int {
		for i, h := range header {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	for _, c := range []struct{ column, value string }{{"vaccinationEffectiveEnd", "2099-02-23"}, {"vaccinatorName", "Someone Else"}} {
		rec, err := csv.NewReader(strings.NewReader(lines[1])).Read()
		if err != nil {
			t.Fatal(err)
		}
		rec[col(c.column)] = c.value
		var b strings.Builder
		w := csv.NewWriter(&b)
		w.Write(rec)
		w.Flush()
		forged := lines[0] + b.String() + strings.Join(lines[2:], "")
		if _, err := pub.BulkCertify(ctx, []byte(forged), "", part.DetachedJWS(), true); !isProblem(err, 401, string(app.CodeBadSignature)) {
			t.Fatalf("%s changed under the same signature: %v", c.column, err)
		}
	}
	// Replaying the same signed upload is refused by the ledger row by row
	// (the nonce is fresh per signature, so: signature replay).
	if up2, err := pub.BulkCertify(ctx, csvBytes, "", part.DetachedJWS(), true); err == nil && up2.Accepted != 0 {
		t.Fatalf("replayed upload accepted %d rows", up2.Accepted)
	}

	// The ledger's view is public; the credential (personal data) is for
	// the operator and the facility that recorded it.
	if c, err := pub.Certificate(ctx, certID); err != nil || c.Credential != "" || c.Status != app.CertActive {
		t.Fatalf("public view of a certificate: %+v %v", c, err)
	}
	if _, err := pub.QR(ctx, certID); !isProblem(err, 401, api.CodeUnauthenticated) {
		t.Fatalf("QR code without a token: %v", err)
	}
	if c, err := client.New(base, facilityToken(n, fac)).Certificate(ctx, certID); err != nil || c.Credential == "" {
		t.Fatalf("the recording facility cannot read its credential: %v", err)
	}
	for tok, f := range n.Service.FacilityTokens() {
		if f != fac {
			if _, err := client.New(base, tok).QR(ctx, certID); !isProblem(err, 403, api.CodeForbidden) {
				t.Fatalf("another facility read the QR code: %v", err)
			}
			break
		}
	}
	admin := client.New(base, n.Service.AdminToken())
	cert, err := admin.Certificate(ctx, strings.ToLower(certID))
	if err != nil || cert.Credential == "" || cert.Status != app.CertActive {
		t.Fatalf("certificate: %+v %v", cert, err)
	}
	v, err := pub.Verify(ctx, cert.Credential)
	if err != nil || !v.Valid {
		t.Fatalf("verify: %+v %v", v, err)
	}

	// Tampering with the credential breaks the signature (threat 12).
	parts := strings.Split(cert.Credential, ".")
	tampered := parts[0] + "." + flipChar(parts[1]) + "." + parts[2]
	if v, err := pub.Verify(ctx, tampered); err != nil || v.Valid {
		t.Fatalf("tampered credential: %+v %v", v, err)
	}

	// Revocation needs the operator's token.
	if _, err := pub.Revoke(ctx, certID, "issued in error"); !isProblem(err, 401, api.CodeUnauthenticated) {
		t.Fatalf("revoke without token: %v", err)
	}
	// A free-text reason stays in the vault; the ledger gets a code.
	if c, err := admin.Revoke(ctx, certID, "issued in error: wrong Aadhaar 498252623600"); err != nil || c.Status != app.CertRevoked || c.StatusReason != "other" {
		t.Fatalf("revoke: %+v %v", c, err)
	}
	if n.Vault.Note(certID) != "issued in error: wrong Aadhaar 498252623600" {
		t.Fatalf("note not kept in the vault: %q", n.Vault.Note(certID))
	}
	v, _ = pub.Verify(ctx, cert.Credential)
	if v.Valid || v.Status != app.CertRevoked {
		t.Fatalf("revoked credential verifies: %+v", v)
	}

	// Correct another one.
	var other string
	for _, r := range up.Results {
		if r.Code == string(app.OK) && r.Certificate != certID {
			other = r.Certificate
			break
		}
	}
	fixed, err := admin.Correct(ctx, other, api.Correction{Reason: "name misspelt", Name: "Corrected Name"})
	if err != nil || fixed.Replaces != other {
		t.Fatalf("correct: %+v %v", fixed, err)
	}
	if v, _ := pub.Verify(ctx, fixed.Credential); !v.Valid || v.Holder.Name != "Corrected Name" {
		t.Fatalf("corrected credential: %+v", v)
	}
	// A correction may fix details, not move the dose to someone else.
	if _, err := admin.Correct(ctx, fixed.ID, api.Correction{Reason: "x", Identity: "did:in.gov.uidai.aadhaar:999988887777"}); !isProblem(err, 422, "identity_change") {
		t.Fatalf("correction to another identity: %v", err)
	}
	oldCert, _ := admin.Certificate(ctx, other)
	if v, _ := pub.Verify(ctx, oldCert.Credential); v.Valid || v.Status != app.CertSuperseded {
		t.Fatalf("superseded credential: %+v", v)
	}

	// The QR code round-trips through verification.
	png, err := admin.QR(ctx, fixed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := pub.VerifyQR(ctx, png); err != nil || !v.Valid {
		t.Fatalf("verify QR: %+v %v", v, err)
	}
}

func flipChar(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func isProblem(err error, status int, code string) bool {
	p, ok := err.(*api.Problem)
	return ok && p.Status == status && p.Code == code
}

// Init refuses a facility code that would name a file outside the home,
// writes nothing then, and a failed init can be run again.
func TestInitRefusesUnsafeCodesAndLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	fac := filepath.Join(dir, "facilities.csv")
	vac := filepath.Join(dir, "vaccinators.csv")
	header := "facilityCode,facilityName,contact,email,operatingHourStart,operatingHourEnd,category,type,status,addressLine1,addressLine2,district,state,pincode,geoLocationLat,geoLocationLon,websiteURL,adminName,adminMobile\n"
	os.WriteFile(fac, []byte(header+"../../../../pwned,Evil Clinic,9876543210,e@x.com,9,17,GOVT,Fixed location,Active,1 Road,,Pune,Maharashtra,411001,,,,,\n"), 0o644)
	os.WriteFile(vac, []byte("code,name,nationalIdentifier,mobileNumber,email,status,facilityIds\nA1,Amar,Q1,2111111111,a@v.com,Active,../../../../pwned\n"), 0o644)
	home := filepath.Join(dir, "home")
	o := node.DefaultInitOptions(home)
	o.FacilitiesCSV, o.VaccinatorsCSV = fac, vac
	err := node.Init(o)
	if err == nil || !strings.Contains(err.Error(), "pwned") {
		t.Fatalf("init with a path in a facility code: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned.json")); err == nil {
		t.Fatal("init wrote a key outside its home")
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Fatalf("a failed init left %d entries in the home", len(entries))
	}
}
