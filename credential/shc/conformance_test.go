package shc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/keys"
)

// examplesDir holds the SMART Health Cards specification examples 00-03
// (smart-on-fhir/health-cards, branch gh-pages @ 8b8c2156; MIT / CC-BY-4.0,
// see testdata/LICENSE), copied from the project's shared test data so the
// test runs on any clone: for each example the minified payload (c), the
// compact JWS (d), the .smart-health-card file (e) and the numeric QR
// chunks (f), and the issuer's JWKS and CRL under issuer/.well-known/.
var examplesDir = filepath.Join("testdata", "examples")

// exampleIssuer is the iss of every example; it resolves to the local copy
// of the issuer's .well-known folder, offline.
const exampleIssuer = "https://spec.smarthealth.cards/examples/issuer"

// exampleClock is a time at which every example is valid (example 03 has
// exp 2024-06-21): one day after they were issued (nbf 2023-06-22).
var exampleClock = time.Date(2023, 6, 23, 0, 0, 0, 0, time.UTC)

// exampleRevoked says which examples the CRL revokes: 03's rid
// vwAjHdarZuc is listed as "vwAjHdarZuc.1687450765", a second after its nbf.
var exampleRevoked = map[string]bool{"00": false, "01": false, "02": false, "03": true}

func exampleKeys(t testing.TB) []keys.PublicKeyInfo {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, "issuer", ".well-known", "jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := keys.ParseJWKS(data)
	if err != nil {
		t.Fatalf("issuer jwks.json: %v", err)
	}
	return infos
}

func exampleResolver(t testing.TB) Resolver {
	return StaticResolver(map[string][]keys.PublicKeyInfo{exampleIssuer: exampleKeys(t)})
}

// exampleCRL serves <iss>/.well-known/crl/<kid>.json from the local copy.
func exampleCRL(iss, kid string) (*CRL, error) {
	if iss != exampleIssuer {
		return nil, fmt.Errorf("no CRL source for issuer %q", iss)
	}
	if strings.ContainsAny(kid, "/\\.") {
		return nil, fmt.Errorf("kid %q is not a file name", kid)
	}
	data, err := os.ReadFile(filepath.Join(examplesDir, "issuer", ".well-known", "crl", kid+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseCRL(data)
}

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSpecExamples decodes every representation of the specification's
// examples (the JWS, the file, the numeric QR chunks), verifies each with
// the issuer's JWKS and CRL, and checks the payload against the minified
// one the example gives. Example 03 must come out revoked.
func TestSpecExamples(t *testing.T) {
	resolve := exampleResolver(t)
	opts := VerifyOptions{Now: exampleClock, CRL: exampleCRL}
	type row struct {
		example  string
		reprs    []string
		verified int
		revoked  string
		outcome  string
	}
	var rows []row
	for _, ex := range []string{"00", "01", "02", "03"} {
		r := row{example: ex, outcome: "FAIL"}
		t.Run("example-"+ex, func(t *testing.T) {
			prefix := "example-" + ex + "-"
			wantPayload := bytes.TrimSpace(readExample(t, prefix+"c-jws-payload-minified.json"))
			jws := string(bytes.TrimSpace(readExample(t, prefix+"d-jws.txt")))

			fromFile, err := ParseFile(readExample(t, prefix+"e-file.smart-health-card"))
			if err != nil {
				t.Fatalf("file: %v", err)
			}
			if len(fromFile) != 1 || fromFile[0] != jws {
				t.Fatalf("file holds %d cards, first equals the JWS: %v", len(fromFile), len(fromFile) > 0 && fromFile[0] == jws)
			}
			chunkFiles, _ := filepath.Glob(filepath.Join(examplesDir, prefix+"f-qr-code-numeric-value-*.txt"))
			sort.Strings(chunkFiles)
			if len(chunkFiles) == 0 {
				t.Fatal("no numeric QR files")
			}
			var chunks []string
			for _, f := range chunkFiles {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				chunks = append(chunks, string(data))
			}
			// Read the chunks in reverse order: scanners may meet them in any.
			reversed := append([]string(nil), chunks...)
			for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
				reversed[i], reversed[j] = reversed[j], reversed[i]
			}
			fromQR, err := ParseQR(reversed...)
			if err != nil {
				t.Fatalf("numeric QR (%d chunks): %v", len(chunks), err)
			}
			if fromQR != jws {
				t.Fatalf("numeric QR decodes to a different JWS")
			}

			reprs := map[string]string{"jws": jws, "file": fromFile[0], fmt.Sprintf("qr×%d", len(chunks)): fromQR}
			names := []string{"jws", "file", fmt.Sprintf("qr×%d", len(chunks))}
			r.reprs = names
			for _, name := range names {
				res, err := Verify(reprs[name], resolve, opts)
				if exampleRevoked[ex] {
					if CodeOf(err) != CodeRevoked || res == nil || !res.Revoked {
						t.Fatalf("%s: want revoked, got %v", name, err)
					}
				} else if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(res.Payload, wantPayload) {
					t.Fatalf("%s: payload differs from %sc-jws-payload-minified.json", name, prefix)
				}
				if res.Issuer != exampleIssuer || res.Key == nil {
					t.Fatalf("%s: issuer %q key %v", name, res.Issuer, res.Key)
				}
				r.verified++
			}
			r.revoked = fmt.Sprintf("%v (want %v)", CodeOf(mustVerifyErr(resolve, jws, opts)) == CodeRevoked, exampleRevoked[ex])
			r.outcome = "pass"
		})
		rows = append(rows, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SMART Health Cards spec examples (%s), clock %s, issuer JWKS and CRL from issuer/.well-known:\n", examplesDir, exampleClock.Format("2006-01-02"))
	fmt.Fprintf(&b, "  %-7s  %-18s  %-8s  %-24s  %s\n", "example", "representations", "verified", "revoked (expected)", "outcome")
	passed := 0
	for _, r := range rows {
		if r.outcome == "pass" {
			passed++
		}
		fmt.Fprintf(&b, "  %-7s  %-18s  %d/%-6d  %-24s  %s\n", r.example, strings.Join(r.reprs, ","), r.verified, len(r.reprs), r.revoked, r.outcome)
	}
	fmt.Fprintf(&b, "  examples %d, passed %d", len(rows), passed)
	t.Log(b.String())
}

func mustVerifyErr(resolve Resolver, jws string, opts VerifyOptions) error {
	_, err := Verify(jws, resolve, opts)
	return err
}

// TestSpecExampleFacts reads the holder and the doses out of example 00.
func TestSpecExampleFacts(t *testing.T) {
	jws := string(bytes.TrimSpace(readExample(t, "example-00-d-jws.txt")))
	res, err := Verify(jws, exampleResolver(t), VerifyOptions{Now: exampleClock, CRL: exampleCRL})
	if err != nil {
		t.Fatal(err)
	}
	if res.Patient.Name != "John B. Anyperson" || res.Patient.BirthDate != "1951-01-20" {
		t.Errorf("patient %+v", res.Patient)
	}
	if len(res.Immunizations) != 3 {
		t.Fatalf("%d immunizations, want 3", len(res.Immunizations))
	}
	im := res.Immunizations[0]
	if im.Status != "completed" || im.CVX() != "207" || im.Date != "2021-01-01" || im.LotNumber != "0000001" || im.Performer != "ABC General Hospital" {
		t.Errorf("first immunization %+v", im)
	}
	if res.RID != "MKyCxh7p6uQ" || res.Revoked || res.Header.KID != "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s" {
		t.Errorf("rid %q revoked %v kid %q", res.RID, res.Revoked, res.Header.KID)
	}
	if got := res.NotBefore.UnixMilli(); got != 1687450764656 {
		t.Errorf("nbf %d ms", got)
	}
}

// TestSpecExample03Times: example 03 carries exp 2024-06-21, so with a
// clock past it (and no CRL) it is expired, and before its nbf not yet
// valid; with the CRL, revocation is reported first.
func TestSpecExample03Times(t *testing.T) {
	jws := string(bytes.TrimSpace(readExample(t, "example-03-d-jws.txt")))
	resolve := exampleResolver(t)
	later := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	if _, err := Verify(jws, resolve, VerifyOptions{Now: later}); CodeOf(err) != CodeExpired {
		t.Errorf("in 2026 without CRL: %v, want expired", err)
	}
	if _, err := Verify(jws, resolve, VerifyOptions{Now: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)}); CodeOf(err) != CodeNotYetValid {
		t.Errorf("before nbf: %v, want not_yet_valid", err)
	}
	if _, err := Verify(jws, resolve, VerifyOptions{Now: later, CRL: exampleCRL}); CodeOf(err) != CodeRevoked {
		t.Errorf("in 2026 with CRL: %v, want revoked", err)
	}
	if _, err := Verify(jws, resolve, VerifyOptions{Now: exampleClock}); err != nil {
		t.Errorf("without CRL at the example clock: %v", err)
	}
}
