package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/node"
	"github.com/divoc/divoc/receipt"
)

// Holder stapling: a credential with its status receipt verifies fully
// offline against the pinned validators and the ledger's trust list; a
// revoked one, a stale one and an altered receipt do not.
func TestVerifyOfflineWithReceipt(t *testing.T) {
	bin := buildBinary(t)
	home := t.TempDir()
	ds, err := node.InitLocal(node.LocalOptions{Home: home, Seed: 5, Facilities: 2, Certificates: 12,
		APIListen: "127.0.0.1:0", P2PListen: "tcp://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(node.Home(home))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.WaitHeight(ctx, 1); err != nil {
		t.Fatal(err)
	}
	base := "http://" + n.APIAddr
	fac := ds.Facilities[0].Code
	var token string
	for tok, f := range n.Service.FacilityTokens() {
		if f == fac {
			token = tok
		}
	}
	csv, _ := os.ReadFile(filepath.Join(home, "gen-data", "certificates-"+fac+".csv"))
	up, err := client.New(base, token).BulkCertify(ctx, csv, "", "", true)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, r := range up.Results {
		if r.Code == string(app.OK) && r.Certificate != "" {
			id = r.Certificate
			break
		}
	}
	admin := client.New(base, n.Service.AdminToken())
	cert, err := admin.Certificate(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fetch := func(path string) []byte {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s %s", path, resp.Status, b)
		}
		return b
	}
	jwt := file("cert.jwt", []byte(cert.Credential))
	validators := file("validators.json", fetch("/v1/trust/validators"))
	trustList := file("trustlist.json", fetch("/v1/trust/list"))
	jwks := file("jwks.json", fetch("/v1/trust/jwks"))
	rcpt := fetch("/v1/certificates/" + id + "/status?proof=true")
	active := file("receipt.json", rcpt)

	run := func(wantOK bool, args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("divoc %s: err %v, want ok=%v\n%s", strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}
	out := run(true, "verify", "--offline", "--trust", validators, "--trust-list", trustList, jwt, "--receipt", active)
	t.Logf("divoc verify --offline --trust validators.json --trust-list trustlist.json cert.jwt --receipt receipt.json:\n%s", out)
	for _, want := range []string{"VALID", "status receipt of height", "anchored at height", "not revoked or superseded as of height"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The genesis file pins the validators as well; a JWKS gives the keys.
	run(true, "verify", "--offline", "--trust", n.Home.Genesis(), "--trust-list", jwks, jwt, "--receipt", active)
	// The old offline path is unchanged.
	run(true, "verify", "--offline", "--trust", jwks, jwt)
	// A receipt needs validators; a trust list too.
	run(false, "verify", "--offline", "--trust", jwks, jwt, "--receipt", active)
	run(false, "verify", "--offline", "--trust-list", trustList, jwt)

	// An altered receipt.
	altered := file("altered.json", bytes.Replace(rcpt, []byte(`"status": "active"`), []byte(`"status": "revoked"`), 1))
	out = run(false, "verify", "--offline", "--trust", validators, "--trust-list", trustList, jwt, "--receipt", altered)
	if !strings.Contains(out, string(receipt.CodeEntryMismatch)) {
		t.Errorf("altered receipt:\n%s", out)
	}
	// Another certificate's receipt.
	var other string
	for _, r := range up.Results {
		if r.Code == string(app.OK) && r.Certificate != "" && r.Certificate != id {
			other = r.Certificate
			break
		}
	}
	wrong := file("other.json", fetch("/v1/certificates/"+other+"/status?proof=true"))
	if out = run(false, "verify", "--offline", "--trust", validators, "--trust-list", trustList, jwt, "--receipt", wrong); !strings.Contains(out, "receipt is of certificate") {
		t.Errorf("another certificate's receipt:\n%s", out)
	}

	// Revoked: the fresh receipt says so; the old one is stale for a
	// verifier that knows the revocation's height.
	rev, err := admin.Revoke(ctx, id, "issued in error")
	if err != nil {
		t.Fatal(err)
	}
	revoked := file("revoked.json", fetch("/v1/certificates/"+id+"/status?proof=true"))
	if out = run(false, "verify", "--offline", "--trust", validators, "--trust-list", trustList, jwt, "--receipt", revoked); !strings.Contains(out, "NOT VALID") || !strings.Contains(out, "revoked at height") {
		t.Errorf("revoked:\n%s", out)
	}
	out = run(false, "verify", "--offline", "--trust", validators, "--trust-list", trustList, jwt, "--receipt", active, "--min-height", strconv.FormatInt(rev.StatusHeight, 10))
	if !strings.Contains(out, string(receipt.CodeStaleHeight)) {
		t.Errorf("stale receipt:\n%s", out)
	}
	out = run(false, "verify", "--offline", "--trust", validators, "--trust-list", trustList, jwt, "--receipt", active, "--max-age", "1ns")
	if !strings.Contains(out, string(receipt.CodeTooOld)) {
		t.Errorf("old receipt:\n%s", out)
	}
}
