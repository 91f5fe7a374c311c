package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/node"
)

// The facility's and the verifier's commands against a running node:
// submit (signed), verify online and offline, from a file and from a QR
// code, revoke, keys.
func TestCommandsAgainstANode(t *testing.T) {
	bin := buildBinary(t)
	home := t.TempDir()
	ds, err := node.InitLocal(node.LocalOptions{Home: home, Seed: 3, Facilities: 2, Certificates: 40, BadRows: 8,
		APIListen: "127.0.0.1:0", P2PListen: "tcp://127.0.0.1:0", CometMetrics: true})
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
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("divoc %s: err %v, want ok=%v\n%s", strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}

	fac := ds.Facilities[0].Code
	csvPath := filepath.Join(home, "gen-data", "certificates-"+fac+".csv")
	report := filepath.Join(t.TempDir(), "refused.csv")
	resultsFile := filepath.Join(t.TempDir(), "results.csv")
	out := run(true, "submit", csvPath, "--facility", fac, "--home", home, "--node", base, "--quiet", "--report", report, "--results", resultsFile)
	if !strings.Contains(out, "committed with certificates") {
		t.Fatalf("submit output:\n%s", out)
	}
	// The same file again: every row a duplicate, nothing committed: exit 1.
	again := exec.Command(bin, "submit", csvPath, "--facility", fac, "--home", home, "--node", base, "--quiet")
	if out, err := again.CombinedOutput(); again.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "no row was committed") || !strings.Contains(string(out), "duplicate_dose") {
		t.Fatalf("submitting the same file again: exit %d (%v)\n%s", again.ProcessState.ExitCode(), err, out)
	}
	if b, err := os.ReadFile(report); err != nil || !strings.HasPrefix(string(b), "line,field,code,message") {
		t.Fatalf("report: %q %v", b, err)
	}
	if b, err := os.ReadFile(resultsFile); err != nil || !strings.HasPrefix(string(b), "line,certificate\n") || strings.Count(string(b), "\n") < 2 {
		t.Fatalf("results: %q %v", b, err)
	}

	// Find a certificate of this facility and fetch its credential and QR.
	// (Refused rows have no anchor.) Credentials are read with the
	// operator's token.
	pub := client.New(base, "")
	admin := client.New(base, n.Service.AdminToken())
	var certID string
	var cert *api.Certificate
	for _, c := range ds.Certificates {
		ids, _ := n.Vault.ByPreEnrollment(fac, c.PreEnrollmentCode)
		for _, id := range ids {
			if cert, err = admin.Certificate(context.Background(), id); err == nil {
				certID = id
				break
			}
		}
		if certID != "" {
			break
		}
	}
	if certID == "" {
		t.Fatal("no certificate committed for the facility")
	}
	dir := t.TempDir()
	jwtFile := filepath.Join(dir, "cert.jwt")
	os.WriteFile(jwtFile, []byte(cert.Credential), 0o644)
	png, err := admin.QR(context.Background(), certID)
	if err != nil {
		t.Fatal(err)
	}
	pngFile := filepath.Join(dir, "cert.png")
	os.WriteFile(pngFile, png, 0o644)
	jwks, err := pub.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	trust := filepath.Join(dir, "trust.json")
	os.WriteFile(trust, jwks, 0o644)

	if out := run(true, "verify", jwtFile, "--node", base); !strings.HasPrefix(out, "VALID") {
		t.Fatalf("online verify:\n%s", out)
	}
	if out := run(true, "verify", pngFile, "--node", base); !strings.HasPrefix(out, "VALID") {
		t.Fatalf("online verify of the QR code:\n%s", out)
	}
	if out := run(true, "verify", "--offline", "--trust", trust, pngFile); !strings.Contains(out, "not checked offline") {
		t.Fatalf("offline verify:\n%s", out)
	}
	// A trust list without this issuer: offline verification fails.
	otherKey := filepath.Join(dir, "other.json")
	run(true, "keys", "generate", otherKey, "--owner", "authority/other", "--role", "issuer")
	otherTrust := filepath.Join(dir, "other-trust.json")
	os.WriteFile(otherTrust, []byte(run(true, "keys", "export", "--jwks", otherKey)), 0o644)
	if out := run(false, "verify", "--offline", "--trust", otherTrust, jwtFile); !strings.Contains(out, "unknown_kid") && !strings.Contains(out, "NOT VALID") {
		t.Fatalf("offline verify against a foreign trust list:\n%s", out)
	}
	if out := run(true, "keys", "show", otherKey); !strings.Contains(out, "role:  issuer") {
		t.Fatalf("keys show:\n%s", out)
	}

	out = run(true, "revoke", certID, "--reason", "test", "--home", home, "--node", base)
	if !strings.Contains(out, "revoked") {
		t.Fatalf("revoke:\n%s", out)
	}
	if out := run(false, "verify", jwtFile, "--node", base); !strings.Contains(out, "revoked at height") {
		t.Fatalf("verify after revocation:\n%s", out)
	}

	// Correct another certificate of the facility: the new one verifies,
	// the old one is superseded, naming it.
	var oldID, oldJWT string
	for _, c := range ds.Certificates {
		ids, _ := n.Vault.ByPreEnrollment(fac, c.PreEnrollmentCode)
		for _, id := range ids {
			if c, err := admin.Certificate(context.Background(), id); err == nil && id != certID && c.Status == app.CertActive {
				oldID, oldJWT = id, c.Credential
			}
		}
		if oldID != "" {
			break
		}
	}
	if oldID == "" {
		t.Fatal("no second certificate to correct")
	}
	if out := run(false, "correct", oldID, "--reason", "typo", "--home", home, "--node", base); !strings.Contains(out, "nothing to correct") {
		t.Fatalf("correct without a detail:\n%s", out)
	}
	out = run(true, "correct", oldID, "--reason", "name misspelt", "--name", "Corrected Name", "--home", home, "--node", base)
	var newID string
	if _, err := fmt.Sscanf(out, "certificate %s supersedes", &newID); err != nil || newID == oldID {
		t.Fatalf("correct:\n%s", out)
	}
	// The old one again: the refusal points at the new one; a revoked one
	// is not corrected.
	if out := run(false, "correct", oldID, "--reason", "data_correction", "--name", "Again", "--home", home, "--node", base); !strings.Contains(out, "correct "+newID+" instead") {
		t.Fatalf("correcting a superseded certificate:\n%s", out)
	}
	if out := run(false, "correct", certID, "--reason", "data_correction", "--name", "Again", "--home", home, "--node", base); !strings.Contains(out, "is revoked") {
		t.Fatalf("correcting a revoked certificate:\n%s", out)
	}
	newCert, err := admin.Certificate(context.Background(), newID)
	if err != nil || !strings.Contains(string(mustPayload(t, newCert.Credential)), "Corrected Name") {
		t.Fatalf("corrected certificate %s: %v", newID, err)
	}
	newJWT := filepath.Join(dir, "new.jwt")
	os.WriteFile(newJWT, []byte(newCert.Credential), 0o644)
	if out := run(true, "verify", newJWT, "--node", base); !strings.HasPrefix(out, "VALID") {
		t.Fatalf("verify the corrected certificate:\n%s", out)
	}
	oldFile := filepath.Join(dir, "old.jwt")
	os.WriteFile(oldFile, []byte(oldJWT), 0o644)
	if out := run(false, "verify", oldFile, "--node", base); !strings.Contains(out, newID) {
		t.Fatalf("verify the superseded certificate (should name %s):\n%s", newID, out)
	}

	// Governance and registries.
	if out := run(true, "gov", "phase", "--program", "C19", "--phase", "phase-3", "--close", "--home", home, "--node", base); !strings.Contains(out, "applied") {
		t.Fatalf("gov phase:\n%s", out)
	}
	stmt := filepath.Join(dir, "phase.json")
	os.WriteFile(stmt, []byte(`{"program":"C19","phase":"phase-3","open":true}`), 0o644)
	if out := run(true, "gov", "propose", "phase.set/v1", stmt, "--home", home, "--node", base); !strings.Contains(out, "applied") {
		t.Fatalf("gov propose:\n%s", out)
	}
	if out := run(true, "gov", "list", "--node", base, "--status", "applied"); strings.Count(out, "phase.set/v1") != 2 {
		t.Fatalf("gov list:\n%s", out)
	}
	vacs := filepath.Join(dir, "vaccinators.csv")
	os.WriteFile(vacs, []byte("code,name,nationalIdentifier,mobileNumber,email,status,facilityIds\nZ9,Zoya Khan,ID77,2111111177,z@v.com,Active,"+fac+"\nZ8,,ID78,2111111178,y@v.com,Active,"+fac+"\n"), 0o644)
	if out := run(true, "registry", "upload", vacs, "--home", home, "--node", base); !strings.Contains(out, "2 rows: 1 vaccinators changed, 1 refused") {
		t.Fatalf("registry upload:\n%s", out)
	}

	// Metrics carry CometBFT's and the node's own.
	var metrics []byte
	req, _ := client.New(base, "").HTTP.Get(base + "/metrics")
	if req != nil {
		metrics = readAll(req.Body)
		req.Body.Close()
	}
	for _, m := range []string{"cometbft_consensus_height", "divoc_events_total", "divoc_http_request_duration_seconds"} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// mustPayload decodes a compact JWS's payload.
func mustPayload(t *testing.T, jws string) []byte {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %.40q", jws)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}
