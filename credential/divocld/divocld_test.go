package divocld

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/divoc/divoc/credential/qr"
)

// The DIVOC certificate signed with Ed25519Signature2018, with its public
// key (egovernments/DIVOC @ tag 2.1.3-generic, MIT; see testdata/LICENSE
// and testdata/README.md), copied from the project's shared test data.
// Its expected result is "verified".
var fixtureFile = filepath.Join("testdata", "ed25519-signed-certificate.json")

type fixture struct {
	Description        string            `json:"description"`
	PublicKeyBase58    string            `json:"publicKeyBase58"`
	VerificationMethod string            `json:"verificationMethod"`
	DocumentLoader     map[string]string `json:"documentLoader"`
	Expected           string            `json:"expected"`
	Certificate        json.RawMessage   `json:"certificate"`
}

func loadFixture(t testing.TB) (fixture, KeyResolver) {
	t.Helper()
	data, err := os.ReadFile(fixtureFile)
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	pub, err := Ed25519KeyFromBase58(f.PublicKeyBase58)
	if err != nil {
		t.Fatal(err)
	}
	return f, StaticKeys(map[string]crypto.PublicKey{f.VerificationMethod: pub})
}

// mutate returns the fixture's certificate changed by f.
func mutate(t testing.TB, cert []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(cert, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(m map[string]any, path ...any) map[string]any {
	var v any = m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

// The fixture names the context file for each @context URL it uses; the
// bundled loader must serve exactly those files under those URLs.
func TestFixtureContextsAreBundled(t *testing.T) {
	f, _ := loadFixture(t)
	for url, file := range f.DocumentLoader {
		want, err := os.ReadFile(filepath.Join(file))
		if errors.Is(err, os.ErrNotExist) {
			want, err = contextFiles.ReadFile(file)
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		got, err := contextFiles.ReadFile(bundledFiles[url])
		if err != nil {
			t.Fatalf("%s is not bundled: %v", url, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: bundled %s differs from the fixture's %s", url, bundledFiles[url], file)
		}
	}
	if len(BundledContexts()) != 6 {
		t.Errorf("bundled contexts: %v", BundledContexts())
	}
}

// TestDivocCertificate runs the shared certificate (expected: verified)
// and variants of it through Verify, and prints the table of outcomes.
func TestDivocCertificate(t *testing.T) {
	f, resolve := loadFixture(t)
	if f.Expected != "verified" {
		t.Fatalf("fixture expects %q", f.Expected)
	}
	cert := []byte(f.Certificate)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Public()
	rsaKey := testRSAKey(t)
	type variant struct {
		name    string
		cert    []byte
		resolve KeyResolver
		opts    Options
		want    Code // "" = verified
	}
	m := func(fn func(m map[string]any)) []byte { return mutate(t, cert, fn) }
	var indented bytes.Buffer
	json.Indent(&indented, cert, "", "\t")
	variants := []variant{
		{name: "shared certificate (expected: verified)", cert: cert},
		{name: "re-indented JSON, same content", cert: indented.Bytes()},
		{name: "members reordered", cert: m(func(m map[string]any) {})},
		{name: "within its dates", cert: cert, opts: Options{Now: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}},
		{name: "name changed (one letter)", cert: m(func(m map[string]any) { obj(m, "credentialSubject")["name"] = "Bhaya Mitre" }), want: CodeBadSignature},
		{name: "age changed", cert: m(func(m map[string]any) { obj(m, "credentialSubject")["age"] = "27" }), want: CodeBadSignature},
		{name: "batch changed", cert: m(func(m map[string]any) { obj(m, "evidence", 0)["batch"] = "MB3428BY" }), want: CodeBadSignature},
		{name: "dose filled in", cert: m(func(m map[string]any) { obj(m, "evidence", 0)["dose"] = "2" }), want: CodeBadSignature},
		{name: "issuanceDate changed", cert: m(func(m map[string]any) { m["issuanceDate"] = "2021-08-28T10:57:57.237Z" }), want: CodeBadSignature},
		{name: "proof.created changed", cert: m(func(m map[string]any) { obj(m, "proof")["created"] = "2021-08-27T10:57:58Z" }), want: CodeBadSignature},
		{name: "signature bit flipped", cert: flipSignature(t, cert), want: CodeBadSignature},
		{name: "another key", cert: cert, resolve: StaticKeys(map[string]crypto.PublicKey{"did:india": other}), want: CodeBadSignature},
		{name: "field added: extra", cert: m(func(m map[string]any) { m["extra"] = "x" }), want: CodeDroppedTerm},
		{name: "field added: credentialSubject.extra", cert: m(func(m map[string]any) { obj(m, "credentialSubject")["extra"] = "x" }), want: CodeDroppedTerm},
		{name: "field added: evidence[0].booster", cert: m(func(m map[string]any) { obj(m, "evidence", 0)["booster"] = true }), want: CodeDroppedTerm},
		{name: "field added: address.landmark", cert: m(func(m map[string]any) { obj(m, "credentialSubject", "address")["landmark"] = "x" }), want: CodeDroppedTerm},
		{name: "field added: @foo", cert: m(func(m map[string]any) { m["@foo"] = "x" }), want: CodeDroppedTerm},
		{name: "field added: @index", cert: m(func(m map[string]any) { obj(m, "credentialSubject")["@index"] = "x" }), want: CodeDroppedTerm},
		{name: "field added: null", cert: m(func(m map[string]any) { obj(m, "credentialSubject")["uhid"] = nil }), want: CodeDroppedTerm},
		{name: "field added: empty array", cert: m(func(m map[string]any) { obj(m, "credentialSubject")["uhid"] = []any{} }), want: CodeDroppedTerm},
		{name: "type added: Booster", cert: m(func(m map[string]any) { m["type"] = append(m["type"].([]any), "Booster") }), want: CodeDroppedTerm},
		{name: "relative evidence id", cert: m(func(m map[string]any) { obj(m, "evidence", 0)["id"] = "vaccine/123" }), want: CodeDroppedTerm},
		{name: "issuer not an IRI", cert: m(func(m map[string]any) { m["issuer"] = "Ministry of Health" }), want: CodeDroppedTerm},
		{name: "field added to proof: extra", cert: m(func(m map[string]any) { obj(m, "proof")["extra"] = "x" }), want: CodeDroppedTerm},
		{name: "field added to proof: nonce (a security term)", cert: m(func(m map[string]any) { obj(m, "proof")["nonce"] = "x" }), want: CodeBadSignature},
		{name: "inline context defines the added field", cert: m(func(m map[string]any) {
			m["@context"] = append(m["@context"].([]any), map[string]any{"extra": "https://evil.example/extra"})
			m["extra"] = "x"
		}), want: CodeBadSignature},
		{name: "context URL not bundled", cert: m(func(m map[string]any) {
			m["@context"].([]any)[1] = "https://evil.example/vaccination/v1"
		}), want: CodeUnknownContext},
		{name: "inline context redefines a protected term", cert: m(func(m map[string]any) {
			m["@context"] = append(m["@context"].([]any), map[string]any{"VerifiableCredential": "https://evil.example/VC"})
		}), want: CodeBadJSONLD},
		// The type-scoped context of VerifiableCredential defines issuer
		// again, over the inline one: the RDF, so the signature, is unchanged.
		{name: "inline context shadowed by a type-scoped one", cert: m(func(m map[string]any) {
			m["@context"] = append(m["@context"].([]any), map[string]any{"issuer": "https://evil.example/issuer"})
		})},
		{name: "proof relabelled RsaSignature2018", cert: m(func(m map[string]any) { obj(m, "proof")["type"] = ProofRsaSignature2018 }), want: CodeAlgNotAllowed},
		{name: "proof relabelled RsaSignature2018, RSA key", cert: m(func(m map[string]any) { obj(m, "proof")["type"] = ProofRsaSignature2018 }),
			resolve: StaticKeys(map[string]crypto.PublicKey{"did:india": &rsaKey.PublicKey}), want: CodeAlgNotAllowed},
		{name: "RSA key for an Ed25519 proof", cert: cert, resolve: StaticKeys(map[string]crypto.PublicKey{"did:india": &rsaKey.PublicKey}), want: CodeAlgNotAllowed},
		{name: "proof type Ed25519Signature2020", cert: m(func(m map[string]any) { obj(m, "proof")["type"] = "Ed25519Signature2020" }), want: CodeUnsupportedProof},
		{name: "proofPurpose authentication", cert: m(func(m map[string]any) { obj(m, "proof")["proofPurpose"] = "authentication" }), want: CodeUnsupportedProof},
		{name: "proof set (array)", cert: m(func(m map[string]any) { m["proof"] = []any{m["proof"]} }), want: CodeUnsupportedProof},
		{name: "proofValue beside jws", cert: m(func(m map[string]any) { obj(m, "proof")["proofValue"] = "z" }), want: CodeUnsupportedProof},
		{name: "no proof", cert: m(func(m map[string]any) { delete(m, "proof") }), want: CodeMalformed},
		{name: "JWS header alg none", cert: m(func(m map[string]any) { setJWSHeader(obj(m, "proof"), `{"alg":"none","b64":false,"crit":["b64"]}`) }), want: CodeAlgNotAllowed},
		{name: "JWS header b64 true", cert: m(func(m map[string]any) { setJWSHeader(obj(m, "proof"), `{"alg":"EdDSA"}`) }), want: CodeAlgNotAllowed},
		{name: "JWS header extra kid", cert: m(func(m map[string]any) {
			setJWSHeader(obj(m, "proof"), `{"alg":"EdDSA","b64":false,"crit":["b64"],"kid":"x"}`)
		}), want: CodeAlgNotAllowed},
		{name: "JWS header members reordered", cert: m(func(m map[string]any) { setJWSHeader(obj(m, "proof"), `{"crit":["b64"],"b64":false,"alg":"EdDSA"}`) }), want: CodeBadSignature},
		{name: "JWS with attached payload", cert: m(func(m map[string]any) {
			p := obj(m, "proof")
			parts := strings.Split(p["jws"].(string), ".")
			p["jws"] = parts[0] + ".e30." + parts[2]
		}), want: CodeMalformed},
		{name: "unknown verificationMethod", cert: m(func(m map[string]any) { obj(m, "proof")["verificationMethod"] = "did:elsewhere" }), want: CodeUnknownKey},
		{name: "no resolver", cert: cert, resolve: func(string) (crypto.PublicKey, error) { return nil, errors.New("offline") }, want: CodeUnknownKey},
		{name: "duplicate member", cert: bytes.Replace(cert, []byte(`"name": "Bhaya Mitra",`), []byte(`"name": "Bhaya Mitra", "name": "Someone Else",`), 1), want: CodeMalformed},
		{name: "not an object", cert: []byte(`[1]`), want: CodeMalformed},
		{name: "not UTF-8", cert: append(bytes.Clone(cert[:len(cert)-1]), 0xff, '}'), want: CodeMalformed},
		{name: "too large", cert: append(bytes.Clone(cert), bytes.Repeat([]byte(" "), MaxCertificateBytes)...), want: CodeTooLarge},
		{name: "verified before it was signed", cert: cert, opts: Options{Now: time.Date(2021, 8, 27, 10, 0, 0, 0, time.UTC)}, want: CodeNotYetValid},
	}
	type row struct{ name, want, got, outcome string }
	var rows []row
	for _, v := range variants {
		r := row{name: v.name, want: string(v.want), outcome: "FAIL"}
		if v.want == "" {
			r.want = "verified"
		}
		t.Run(v.name, func(t *testing.T) {
			res := v.resolve
			if res == nil {
				res = resolve
			}
			out, err := Verify(v.cert, res, v.opts)
			r.got = "verified"
			if err != nil {
				r.got = string(CodeOf(err))
			}
			if CodeOf(err) != v.want {
				t.Fatalf("got %v, want %s", err, r.want)
			}
			if err == nil && (out.ProofType != ProofEd25519Signature2018 || out.VerificationMethod != "did:india") {
				t.Fatalf("result %+v", out)
			}
			if err != nil {
				t.Logf("%v", err)
			}
			r.outcome = "pass"
		})
		rows = append(rows, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "DIVOC Ed25519Signature2018 certificate (%s) and variants:\n", fixtureFile)
	fmt.Fprintf(&b, "  %-48s  %-18s  %-18s  %s\n", "case", "expected", "got", "outcome")
	passed := 0
	for _, r := range rows {
		if r.outcome == "pass" {
			passed++
		}
		fmt.Fprintf(&b, "  %-48s  %-18s  %-18s  %s\n", r.name, r.want, r.got, r.outcome)
	}
	fmt.Fprintf(&b, "  cases %d, passed %d", len(rows), passed)
	t.Log(b.String())
}

func flipSignature(t testing.TB, cert []byte) []byte {
	return mutate(t, cert, func(m map[string]any) {
		p := obj(m, "proof")
		parts := strings.Split(p["jws"].(string), ".")
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sig[10] ^= 1
		p["jws"] = parts[0] + ".." + base64.RawURLEncoding.EncodeToString(sig)
	})
}

func setJWSHeader(p map[string]any, header string) {
	parts := strings.Split(p["jws"].(string), ".")
	p["jws"] = base64.RawURLEncoding.EncodeToString([]byte(header)) + ".." + parts[2]
}

// TestDivocCertificateFacts reads the holder and the vaccination.
func TestDivocCertificateFacts(t *testing.T) {
	f, resolve := loadFixture(t)
	res, err := Verify(f.Certificate, resolve, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Vaccination
	if v.Holder.Name != "Bhaya Mitra" || v.Holder.Gender != "Male" || v.Holder.Age != 26 || v.Holder.Nationality != "Indian" ||
		v.Holder.Identity != "did:in.gov.uidai.aadhaar:2342343334" || v.Holder.RefID != "12346" {
		t.Errorf("holder %+v", v.Holder)
	}
	if v.Dose.Vaccine != "CoVax" || v.Dose.Manufacturer != "COVPharma" || v.Dose.Batch != "MB3428BX" || v.Dose.Date != "2020-12-02T19:21:18.646Z" ||
		v.Dose.Dose != 0 || v.Dose.EffectiveUntil != "2025-12-02" {
		t.Errorf("dose %+v", v.Dose)
	}
	if v.Vaccinator != "Sooraj Singh" || v.Facility.Name != "ABC Medical Center" || v.Facility.District != "Bengaluru South" || v.Facility.State != "Karnataka" {
		t.Errorf("vaccinator %q facility %+v", v.Vaccinator, v.Facility)
	}
	if v.Issuer != "https://divoc.dev/" || !v.IssuedAt.Equal(time.Date(2021, 8, 27, 10, 57, 57, 237e6, time.UTC)) || v.ID != "undefined" {
		t.Errorf("issuer %q at %s id %q", v.Issuer, v.IssuedAt, v.ID)
	}
	if !res.Created.Equal(time.Date(2021, 8, 27, 10, 57, 57, 0, time.UTC)) {
		t.Errorf("created %s", res.Created)
	}
}

// A deployment that published the same vaccination context under its own
// URL adds it with NewContexts; without it, the URL is refused.
func TestExtraContexts(t *testing.T) {
	f, resolve := loadFixture(t)
	const cowin = "https://cowin.gov.in/credentials/vaccination/v1"
	cert := mutate(t, f.Certificate, func(m map[string]any) { m["@context"].([]any)[1] = cowin })
	if _, err := Verify(cert, resolve, Options{}); CodeOf(err) != CodeUnknownContext || !strings.Contains(err.Error(), cowin) {
		t.Fatalf("default loader: %v, want unknown_context naming %s", err, cowin)
	}
	ctx, err := contextFiles.ReadFile("contexts/vaccination-v1.jsonld")
	if err != nil {
		t.Fatal(err)
	}
	ctxs, err := NewContexts(map[string][]byte{cowin: ctx})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(cert, resolve, Options{Contexts: ctxs}); err != nil {
		t.Fatalf("with the extra context: %v", err)
	}
	if _, err := NewContexts(map[string][]byte{cowin: []byte(`{"no":"context"}`)}); err == nil {
		t.Error("a document without @context was accepted as a context")
	}
	// The default set is not changed by NewContexts.
	if _, ok := defaultContexts.docs[cowin]; ok {
		t.Error("NewContexts changed the bundled contexts")
	}
}

func TestLoaderIsOffline(t *testing.T) {
	l := &loader{docs: bundled}
	for _, u := range []string{"https://www.w3.org/2018/credentials/v1/", "http://www.w3.org/2018/credentials/v1", "https://example.com/ctx", "file:///etc/passwd"} {
		if _, err := l.LoadDocument(u); err == nil {
			t.Errorf("%s was served", u)
		}
	}
	if l.refused != "https://www.w3.org/2018/credentials/v1/" {
		t.Errorf("first refused URL %q", l.refused)
	}
	for _, u := range BundledContexts() {
		if rd, err := l.LoadDocument(u); err != nil || rd.Document == nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	})
	return rsaKey
}

// signLD signs a certificate (its proof removed) the way jsonld-signatures
// does, with the header and signer of proofType; used to make the
// RsaSignature2018 certificate there is no third-party fixture for.
func signLD(t testing.TB, cert []byte, proofType, vm string, sign func([]byte) []byte) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(cert, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "proof")
	proof := map[string]any{"type": proofType, "created": "2026-12-01T10:00:00Z", "verificationMethod": vm, "proofPurpose": ProofPurpose}
	options := map[string]any{"@context": ContextSecurityV2}
	for k, v := range proof {
		options[k] = v
	}
	data, err := verifyData(doc, options, defaultContexts)
	if err != nil {
		t.Fatal(err)
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"alg":%q,"b64":false,"crit":["b64"]}`, jwsAlgs[proofType])))
	sig := sign(append([]byte(header+"."), data...))
	proof["jws"] = header + ".." + base64.RawURLEncoding.EncodeToString(sig)
	doc["proof"] = proof
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func signPSS(key *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		d := sha256.Sum256(input)
		sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			panic(err)
		}
		return sig
	}
}

// TestRsaSignature2018 signs the DIVOC certificate with an RSA key following
// the RsaSignature2018 recipe (PS256 detached JWS over the same signed
// data) and verifies it, with the key given as PEM.
func TestRsaSignature2018(t *testing.T) {
	f, edResolve := loadFixture(t)
	key := testRSAKey(t)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := RSAKeyFromPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	pkcs1, err := RSAKeyFromPEM(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)}))
	if err != nil || !pkcs1.Equal(pub) {
		t.Fatalf("PKCS #1 PEM: %v", err)
	}
	const vm = "did:india#rsa-key-1"
	resolve := StaticKeys(map[string]crypto.PublicKey{vm: pub})
	cert := signLD(t, f.Certificate, ProofRsaSignature2018, vm, signPSS(key))

	res, err := Verify(cert, resolve, Options{Now: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatalf("RsaSignature2018 certificate: %v", err)
	}
	if res.ProofType != ProofRsaSignature2018 || res.Vaccination.Holder.Name != "Bhaya Mitra" {
		t.Errorf("result %+v", res)
	}
	var doc map[string]any
	json.Unmarshal(cert, &doc)
	jws := obj(doc, "proof")["jws"].(string)
	if h, _ := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[0]); string(h) != `{"alg":"PS256","b64":false,"crit":["b64"]}` {
		t.Errorf("header %s", h)
	}

	cases := []struct {
		name    string
		cert    []byte
		resolve KeyResolver
		want    Code
	}{
		{"name changed", mutate(t, cert, func(m map[string]any) { obj(m, "credentialSubject")["name"] = "Bhaya Mitre" }), resolve, CodeBadSignature},
		{"field added", mutate(t, cert, func(m map[string]any) { m["extra"] = "x" }), resolve, CodeDroppedTerm},
		{"another RSA key", cert, StaticKeys(map[string]crypto.PublicKey{vm: &otherRSAKey(t).PublicKey}), CodeBadSignature},
		{"relabelled Ed25519Signature2018", mutate(t, cert, func(m map[string]any) { obj(m, "proof")["type"] = ProofEd25519Signature2018 }), resolve, CodeAlgNotAllowed},
		{"PKCS #1 v1.5 signature instead of PSS", signLD(t, f.Certificate, ProofRsaSignature2018, vm, func(in []byte) []byte {
			d := sha256.Sum256(in)
			sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
			return sig
		}), resolve, CodeBadSignature},
		{"Ed25519 key under the RSA method", cert, StaticKeys(map[string]crypto.PublicKey{vm: ed25519.NewKeyFromSeed(make([]byte, 32)).Public()}), CodeAlgNotAllowed},
	}
	for _, c := range cases {
		if _, err := Verify(c.cert, c.resolve, Options{}); CodeOf(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
	// The Ed25519 fixture's proof, relabelled RsaSignature2018, still fails
	// when the header is forged to PS256 too: the signature is Ed25519's.
	relabelled := mutate(t, f.Certificate, func(m map[string]any) {
		p := obj(m, "proof")
		p["type"] = ProofRsaSignature2018
		p["verificationMethod"] = vm
		setJWSHeader(p, `{"alg":"PS256","b64":false,"crit":["b64"]}`)
	})
	if _, err := Verify(relabelled, resolve, Options{}); CodeOf(err) != CodeBadSignature {
		t.Errorf("Ed25519 proof relabelled with a PS256 header: %v, want bad_signature", err)
	}
	if _, err := Verify(f.Certificate, edResolve, Options{}); err != nil {
		t.Fatal(err)
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, _ = x509.MarshalPKIXPublicKey(&small.PublicKey)
	if _, err := RSAKeyFromPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err == nil {
		t.Error("1024-bit key accepted from PEM")
	}
	if _, err := Verify(signLD(t, f.Certificate, ProofRsaSignature2018, vm, signPSS(small)), StaticKeys(map[string]crypto.PublicKey{vm: &small.PublicKey}), Options{}); CodeOf(err) != CodeAlgNotAllowed {
		t.Errorf("1024-bit key: %v, want alg_not_allowed", err)
	}
}

var (
	otherRSAOnce sync.Once
	otherRSA     *rsa.PrivateKey
)

func otherRSAKey(t testing.TB) *rsa.PrivateKey {
	otherRSAOnce.Do(func() {
		var err error
		if otherRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	})
	return otherRSA
}

// signLD with an Ed25519 key makes a certificate Verify accepts: the
// helper follows the recipe the third-party fixture pins down, so the
// RsaSignature2018 certificate above differs from DIVOC's only in the
// JWS algorithm.
func TestEd25519SignedHere(t *testing.T) {
	f, _ := loadFixture(t)
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	cert := signLD(t, f.Certificate, ProofEd25519Signature2018, "did:example:issuer#key-1", func(in []byte) []byte { return ed25519.Sign(priv, in) })
	if _, err := Verify(cert, StaticKeys(map[string]crypto.PublicKey{"did:example:issuer#key-1": priv.Public()}), Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestKeyHelpers(t *testing.T) {
	for _, s := range []string{"", "0OIl", "DaipNW4xaH2bh1XGNNdqjnSY", "DaipNW4xaH2bh1XGNNdqjnSYyru3hLnUgTBSfSvmZ2hiDaip"} {
		if _, err := Ed25519KeyFromBase58(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	for _, p := range []string{"", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"} {
		if _, err := RSAKeyFromPEM([]byte(p)); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	edDER, _ := x509.MarshalPKIXPublicKey(ed25519.NewKeyFromSeed(make([]byte, 32)).Public())
	if _, err := RSAKeyFromPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edDER})); err == nil {
		t.Error("Ed25519 PEM accepted as RSA")
	}
}

// TestQRRoundTrip builds DIVOC's QR archive of the shared certificate,
// renders it as a PNG the way DIVOC did (the archive's bytes as characters,
// in byte mode), scans it back with qr.DecodePNG and verifies it.
func TestQRRoundTrip(t *testing.T) {
	f, resolve := loadFixture(t)
	var compact bytes.Buffer
	if err := json.Compact(&compact, f.Certificate); err != nil {
		t.Fatal(err)
	}
	archive, err := Zip(compact.Bytes(), time.Date(2021, 8, 27, 10, 57, 57, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadZip(archive)
	if err != nil || !bytes.Equal(got, compact.Bytes()) {
		t.Fatalf("ReadZip: %v", err)
	}
	text := QRText(archive)
	pngData, info, err := qr.EncodePNG(text, qr.WithECLevel(qr.ECLow))
	if err != nil {
		t.Fatalf("QR of a %d-byte archive: %v", len(archive), err)
	}
	scanned, err := qr.DecodePNG(pngData)
	if err != nil {
		t.Fatal(err)
	}
	res, err := VerifyQR(scanned, resolve, Options{})
	if err != nil {
		t.Fatalf("scanned QR: %v", err)
	}
	if res.Vaccination.Holder.Name != "Bhaya Mitra" {
		t.Errorf("holder %+v", res.Vaccination.Holder)
	}
	// A scanner that returns the raw bytes gives the archive itself.
	if _, err := VerifyQR(string(archive), resolve, Options{}); err != nil {
		t.Fatalf("raw archive bytes: %v", err)
	}
	t.Logf("%d-byte certificate in a %d-byte archive, %d bytes of QR text: QR version %d at level L, PNG %d bytes",
		compact.Len(), len(archive), len(text), info.Version, info.Bytes)

	// qr.DecodePNG decodes byte mode as UTF-8: a code holding the raw
	// archive bytes (not DIVOC's form) does not survive the scan.
	if rawPNG, _, err := qr.EncodePNG(string(archive), qr.WithECLevel(qr.ECLow)); err == nil {
		scannedRaw, err := qr.DecodePNG(rawPNG)
		_, verr := VerifyQR(scannedRaw, resolve, Options{})
		t.Logf("raw-bytes QR through qr.DecodePNG: decode %v, verify %v", err, verr)
	}
}

func zipWith(t testing.TB, files map[string][]byte, method uint16) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	return buf.Bytes()
}

// TestZipBomb: an archive whose certificate.json declares, or inflates to,
// more than MaxUncompressedBytes is refused without inflating it all.
func TestZipBomb(t *testing.T) {
	zeros := make([]byte, 8<<20)
	declared := zipWith(t, map[string][]byte{CertificateFile: zeros}, zip.Deflate)
	if len(declared) > MaxArchiveBytes {
		t.Fatalf("bomb archive is %d bytes", len(declared))
	}
	if _, err := ReadZip(declared); CodeOf(err) != CodeTooLarge {
		t.Errorf("8 MiB declared: %v, want too_large", err)
	}
	// The same data with a header that lies about its size.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	inner := zipWith(t, map[string][]byte{"x": zeros}, zip.Deflate)
	zr, err := zip.NewReader(bytes.NewReader(inner), int64(len(inner)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.File[0].OpenRaw()
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	z.ReadFrom(rc)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: CertificateFile, Method: zip.Deflate, CompressedSize64: uint64(z.Len()), UncompressedSize64: 100})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(z.Bytes())
	zw.Close()
	// archive/zip stops reading an entry at its declared size, so the lie
	// is caught after 100 bytes.
	start := time.Now()
	_, err = ReadZip(buf.Bytes())
	if CodeOf(err) != CodeBadZip {
		t.Errorf("lying header: %v, want bad_zip", err)
	}
	t.Logf("%d-byte archive inflating to 8 MiB behind a 100-byte header refused in %s: %v", buf.Len(), time.Since(start).Round(time.Microsecond), err)
}

func TestReadZipRejects(t *testing.T) {
	f, _ := loadFixture(t)
	good, err := Zip(f.Certificate, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	encrypted := bytes.Clone(good)
	encrypted[6] |= 1 // local header flags
	if i := bytes.Index(encrypted, []byte("PK\x01\x02")); i > 0 {
		encrypted[i+8] |= 1 // central directory flags
	}
	bzip2 := zipWith(t, map[string][]byte{CertificateFile: []byte("{}")}, zip.Store)
	if i := bytes.Index(bzip2, []byte("PK\x01\x02")); i > 0 {
		bzip2[i+10] = 12
		bzip2[8] = 12
	}
	cases := []struct {
		name string
		data []byte
		want Code
	}{
		{"empty", nil, CodeBadZip},
		{"JSON, not zip", f.Certificate, CodeBadZip},
		{"truncated", good[:len(good)/2], CodeBadZip},
		{"two files", zipWith(t, map[string][]byte{CertificateFile: []byte("{}"), "other.json": []byte("{}")}, zip.Deflate), CodeBadZip},
		{"other name", zipWith(t, map[string][]byte{"cert.json": []byte("{}")}, zip.Deflate), CodeBadZip},
		{"path name", zipWith(t, map[string][]byte{"../certificate.json": []byte("{}")}, zip.Deflate), CodeBadZip},
		{"encrypted", encrypted, CodeBadZip},
		{"bzip2 method", bzip2, CodeBadZip},
		{"corrupt data", corruptData(good), CodeBadZip},
		{"too large", append(bytes.Clone(good), make([]byte, MaxArchiveBytes)...), CodeTooLarge},
	}
	for _, c := range cases {
		if _, err := ReadZip(c.data); CodeOf(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
	if _, err := ReadQR(strings.Repeat("x", 2*MaxArchiveBytes+1)); CodeOf(err) != CodeTooLarge {
		t.Errorf("huge QR text: %v", err)
	}
	stored := zipWith(t, map[string][]byte{CertificateFile: f.Certificate}, zip.Store)
	if got, err := ReadZip(stored); err != nil || !bytes.Equal(got, f.Certificate) {
		t.Errorf("stored entry: %v", err)
	}
}

// corruptData flips a byte inside the compressed data of the only entry.
func corruptData(archive []byte) []byte {
	out := bytes.Clone(archive)
	nameLen := int(out[26]) | int(out[27])<<8
	extraLen := int(out[28]) | int(out[29])<<8
	out[30+nameLen+extraLen+5] ^= 0xff
	return out
}

func TestQRBytes(t *testing.T) {
	raw := []byte{'P', 'K', 3, 4, 0x80, 0xff, 0x00, 'a'}
	if got := qrBytes(QRText(raw)); !bytes.Equal(got, raw) {
		t.Errorf("DIVOC form: %x", got)
	}
	if got := qrBytes(string(raw)); !bytes.Equal(got, raw) {
		t.Errorf("raw form: %x", got)
	}
	if got := qrBytes("PK\x03\x04 ascii"); string(got) != "PK\x03\x04 ascii" {
		t.Errorf("ASCII: %q", got)
	}
	if got := qrBytes("PK\x03\x04 €"); string(got) != "PK\x03\x04 €" {
		t.Errorf("text beyond Latin-1 stays bytes: %q", got)
	}
}

// TestVerificationTime measures one verification (two URDNA2015
// canonicalizations and an Ed25519 check). DESIGN expects 2.5 to 3.5 ms
// on the reference machine; see also BenchmarkVerify.
func TestVerificationTime(t *testing.T) {
	f, resolve := loadFixture(t)
	const n = 20
	start := time.Now()
	for range n {
		if _, err := Verify(f.Certificate, resolve, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%.2f ms per verification (mean of %d)", float64(time.Since(start).Microseconds())/1000/n, n)
}

// Verifications share the parsed bundled contexts; run several at once
// (go test -race checks that JSON-LD processing does not write to them).
func TestConcurrentVerify(t *testing.T) {
	f, resolve := loadFixture(t)
	tampered := mutate(t, f.Certificate, func(m map[string]any) { obj(m, "credentialSubject")["name"] = "X" })
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := Verify(f.Certificate, resolve, Options{}); err != nil {
					errs <- err
				}
				if _, err := Verify(tampered, resolve, Options{}); CodeOf(err) != CodeBadSignature {
					errs <- fmt.Errorf("goroutine %d: tampered: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkVerify(b *testing.B) {
	f, resolve := loadFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(f.Certificate, resolve, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRefusesAddedField(b *testing.B) {
	f, resolve := loadFixture(b)
	cert := mutate(b, f.Certificate, func(m map[string]any) { obj(m, "credentialSubject")["extra"] = "x" })
	for b.Loop() {
		if _, err := Verify(cert, resolve, Options{}); CodeOf(err) != CodeDroppedTerm {
			b.Fatal(err)
		}
	}
}

func FuzzReadZip(f *testing.F) {
	fx, _ := loadFixture(f)
	good, err := Zip(fx.Certificate, time.Time{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(zipWith(f, map[string][]byte{CertificateFile: make([]byte, 1<<17)}, zip.Deflate))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cert, err := ReadZip(data)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if len(cert) > MaxUncompressedBytes {
			t.Fatalf("%d bytes past the limit", len(cert))
		}
		if _, err := ReadQR(QRText(data)); err != nil {
			t.Fatalf("the DIVOC text form of a readable archive: %v", err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	fx, resolve := loadFixture(f)
	f.Add([]byte(fx.Certificate))
	f.Add(mutate(f, fx.Certificate, func(m map[string]any) { m["extra"] = "x" }))
	f.Add(mutate(f, fx.Certificate, func(m map[string]any) { obj(m, "proof")["type"] = ProofRsaSignature2018 }))
	f.Add([]byte(`{"@context":["https://www.w3.org/2018/credentials/v1"],"proof":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, cert []byte) {
		res, err := Verify(cert, resolve, Options{})
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if res.VerificationMethod != "did:india" || res.Key == nil {
			t.Fatalf("verified with result %+v", res)
		}
	})
}

func TestReadCertificateAndRecognize(t *testing.T) {
	f, resolve := loadFixture(t)
	archive, err := Zip(f.Certificate, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"json": f.Certificate, "archive": archive, "qr text": []byte(QRText(archive))} {
		if !Recognize(in) {
			t.Errorf("%s: not recognized", name)
		}
		cert, err := ReadCertificate(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := Verify(cert, resolve, Options{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, in := range []string{"", "{}", `{"proof":{"type":"JsonWebSignature2020"}}`, "shc:/5676", "eyJhbGciOiJFZERTQSJ9.e30.c2ln", "[1]"} {
		if Recognize([]byte(in)) {
			t.Errorf("%q recognized", in)
		}
	}
}
