package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/credential/qr"
	"github.com/divoc/divoc/credential/shc"
)

// One certificate, three formats: the vc+jwt, an EU DCC and a SMART Health
// Card, each verifying through the node against keys on the ledger, each
// revoked by the one revocation on the ledger; and their QR codes.
func TestCertificateFormats(t *testing.T) {
	n, home := startLocal(t, 60, 0)
	ctx := context.Background()
	base := "http://" + n.APIAddr
	admin := client.New(base, n.Service.AdminToken())
	pub := client.New(base, "")

	// Upload one facility's rows with its token.
	reg, _ := pub.Registry(ctx)
	fac := reg.Facilities[0].Code
	var ids []string
	for _, f := range reg.Facilities {
		fac = f.Code
		body, err := os.ReadFile(filepath.Join(home, "gen-data", "certificates-"+fac+".csv"))
		if err != nil {
			continue
		}
		up, err := client.New(base, facilityToken(n, fac)).BulkCertify(ctx, body, "", "", true)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range up.Results {
			if r.Code == string(app.OK) {
				ids = append(ids, r.Certificate)
			}
		}
		if len(ids) > 0 {
			break
		}
	}
	// A certificate of a vaccine with EU codes (Covishield or Covaxin).
	var id string
	for _, c := range ids {
		cert, err := admin.Certificate(ctx, c)
		if err == nil && (cert.Event.Vaccine == "COVISHIELD" || cert.Event.Vaccine == "COVAXIN") {
			id = c
			break
		}
	}
	if id == "" {
		t.Fatalf("no Covishield or Covaxin certificate among the %d committed from the seeded rows: the generator changed; pick another seed", len(ids))
	}

	get := func(format string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/v1/certificates/"+id+"?format="+format, nil)
		req.Header.Set("Authorization", "Bearer "+n.Service.AdminToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("format %s: %d %s", format, resp.StatusCode, b)
		}
		return string(b)
	}
	hc1 := get("dcc")
	card := get("shc")
	if !strings.HasPrefix(hc1, "HC1:") || !strings.Contains(card, "verifiableCredential") {
		t.Fatalf("formats: %.40q %.60q", hc1, card)
	}
	verify := func(what, text string, wantValid bool, wantFormat string) *api.Verification {
		t.Helper()
		v, err := pub.Verify(ctx, text)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if v.Valid != wantValid || v.Format != wantFormat || v.Certificate != id {
			b, _ := json.MarshalIndent(v, "", " ")
			t.Fatalf("%s: valid %v format %s certificate %s, want %v %s %s\n%s", what, v.Valid, v.Format, v.Certificate, wantValid, wantFormat, id, b)
		}
		return v
	}
	// Each answers with the vaccination's facts: the format's own, completed
	// from the ledger's record where the format is thin (a health card
	// names its vaccine by CVX code).
	native, err := admin.Certificate(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]*api.Verification{
		"EU DCC":                 verify("EU DCC", hc1, true, "eu-dcc"),
		"SMART Health Card file": verify("SMART Health Card file", card, true, "smart-health-card"),
	} {
		h := v.Holder
		if h == nil || h.Vaccine == "" || strings.Trim(h.Vaccine, "0123456789") == "" || h.Dose != native.Event.Dose || h.TotalDoses < h.Dose || h.Facility == "" || h.Date != native.Event.Date {
			t.Errorf("%s: holder facts %+v (event %+v)", what, h, native.Event)
		}
	}

	// The QR codes read back and verify.
	for _, f := range []string{"dcc", "shc"} {
		req, _ := http.NewRequest("GET", base+"/v1/certificates/"+id+"/qr.png?format="+f, nil)
		req.Header.Set("Authorization", "Bearer "+n.Service.AdminToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		png, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("qr %s: %d %s", f, resp.StatusCode, png)
		}
		text, err := qr.DecodePNG(png)
		if err != nil {
			t.Fatalf("qr %s does not read back: %v", f, err)
		}
		want := map[string]string{"dcc": "eu-dcc", "shc": "smart-health-card"}[f]
		verify("QR "+f, text, true, want)
	}

	// The SMART Health Cards keys are published, and a revocation on the
	// ledger revokes every format.
	var jwks struct {
		Keys []struct{ Kid string } `json:"keys"`
	}
	resp, _ := http.Get(base + "/.well-known/jwks.json")
	json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	if len(jwks.Keys) != 1 {
		t.Fatalf("SMART Health Cards JWKS: %+v", jwks)
	}
	if _, err := admin.Revoke(ctx, id, "issued_in_error"); err != nil {
		t.Fatal(err)
	}
	if v := verify("revoked EU DCC", hc1, false, "eu-dcc"); v.Status != app.CertRevoked {
		t.Fatalf("revoked DCC status %q", v.Status)
	}
	if v := verify("revoked card", card, false, "smart-health-card"); v.Status != app.CertRevoked {
		t.Fatalf("revoked card status %q", v.Status)
	}
	resp, _ = http.Get(base + "/.well-known/crl/" + jwks.Keys[0].Kid + ".json")
	crl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parsed, err := shc.ParseCRL(crl)
	if err != nil || len(parsed.RIDs) != 1 {
		t.Fatalf("CRL after one revocation: %s %v", crl, err)
	}
	// A DCC from another signer is not trusted.
	if v, _ := pub.Verify(ctx, "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOOK.IR9B+9D-0FN0RN8"); v.Valid {
		t.Fatal("garbage DCC verified")
	}
}
