package shc

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/credential"
	"github.com/divoc/divoc/credential/qr"
	"github.com/divoc/divoc/keys"
)

const testIssuer = "https://divoc.example/shc/moh"

var issuedAt = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func sampleVaccination() *credential.Vaccination {
	return &credential.Vaccination{
		ID: "0N35330CQKB9BMQE", Issuer: "urn:divoc:authority:moh", IssuerName: "Ministry of Health and Family Welfare",
		IssuedAt:   issuedAt,
		Holder:     credential.Person{Name: "Asha  Kumari Verma", Gender: "Female", DOB: "1980-02-01", Nationality: "Indian", Identity: "did:in.gov.uidai.aadhaar:123412341234"},
		Dose:       credential.Dose{Program: "C19", Vaccine: "COVISHIELD", Manufacturer: "Serum Institute of India", Batch: "4121Z025", Date: "2026-11-30", Dose: 1, TotalDoses: 2},
		Vaccinator: "Sooraj Singh", Facility: credential.Place{Name: "PHC Rampur", Code: "RAM001", District: "Rampur", State: "Uttar Pradesh"},
	}
}

func testSigner(t testing.TB) *keys.Signer {
	t.Helper()
	s, err := keys.Generate(keys.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func resolverFor(signers ...*keys.Signer) Resolver {
	var infos []keys.PublicKeyInfo
	for _, s := range signers {
		infos = append(infos, keys.PublicKeyInfo{Key: s.Public(), KID: s.KID()})
	}
	return StaticResolver(map[string][]keys.PublicKeyInfo{testIssuer: infos})
}

func issueOpts() IssueOptions {
	return IssueOptions{Issuer: testIssuer, VaccineCodes: CommonVaccineCodes}
}

func issue(t testing.TB, s *keys.Signer, opts IssueOptions) string {
	t.Helper()
	jws, err := Issue(sampleVaccination(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

// signRaw signs an arbitrary header and (uncompressed) payload, deflating
// the payload when deflate is set: for cards Issue would not make.
func signRaw(t testing.TB, s *keys.Signer, header string, payload []byte, deflate bool) string {
	t.Helper()
	body := payload
	if deflate {
		var z bytes.Buffer
		w, _ := flate.NewWriter(&z, flate.BestSpeed)
		w.Write(payload)
		w.Close()
		body = z.Bytes()
	}
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(body)
	sig, err := s.Sign([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func payloadOf(t testing.TB, jws string) []byte {
	t.Helper()
	parts := strings.Split(jws, ".")
	z, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	p, err := Inflate(z, MaxPayloadBytes)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	s := testSigner(t)
	opts := issueOpts()
	opts.RevocationID = RevocationID([]byte("0123456789abcdef0123456789abcdef"), s.KID(), "recipient-42")
	opts.ExtraTypes = []string{TypeCovid19}
	opts.DoseNumber = true
	jws := issue(t, s, opts)

	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[0])
	if want := `{"zip":"DEF","alg":"ES256","kid":"` + s.KID() + `"}`; string(hdr) != want {
		t.Errorf("header %s, want %s", hdr, want)
	}
	payload := payloadOf(t, jws)
	var compact bytes.Buffer
	if err := json.Compact(&compact, payload); err != nil || !bytes.Equal(compact.Bytes(), payload) {
		t.Errorf("payload is not minified JSON: %v", err)
	}
	for _, want := range []string{`"iss":"` + testIssuer + `"`, `"nbf":1796119200`, `"fhirVersion":"4.0.1"`,
		`"type":["https://smarthealth.cards#health-card","https://smarthealth.cards#immunization","https://smarthealth.cards#covid19"]`,
		`"fullUrl":"resource:0","resource":{"resourceType":"Patient","name":[{"family":"Verma","given":["Asha","Kumari"]}],"birthDate":"1980-02-01"}`,
		`"patient":{"reference":"resource:0"}`, `"status":"completed"`,
		`"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"210"},{"system":"http://snomed.info/sct","code":"1119305005"}]`,
		`"occurrenceDateTime":"2026-11-30"`, `"performer":[{"actor":{"display":"PHC Rampur"}}]`, `"lotNumber":"4121Z025"`,
		`"protocolApplied":[{"doseNumberPositiveInt":1,"seriesDosesPositiveInt":2}]`, `"rid":"` + opts.RevocationID + `"`} {
		if !bytes.Contains(payload, []byte(want)) {
			t.Errorf("payload lacks %s:\n%s", want, payload)
		}
	}

	check := func(name, got string) {
		t.Helper()
		if got != jws {
			t.Fatalf("%s: decodes to a different JWS", name)
		}
		res, err := Verify(got, resolverFor(s), VerifyOptions{Now: issuedAt.Add(time.Hour)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Patient.Name != "Asha Kumari Verma" || res.Patient.BirthDate != "1980-02-01" || res.Patient.Family != "Verma" {
			t.Errorf("%s: patient %+v", name, res.Patient)
		}
		if len(res.Immunizations) != 1 {
			t.Fatalf("%s: %d immunizations", name, len(res.Immunizations))
		}
		im := res.Immunizations[0]
		if im.CVX() != "210" || im.Date != "2026-11-30" || im.LotNumber != "4121Z025" || im.Performer != "PHC Rampur" || im.DoseNumber != 1 || im.Status != "completed" {
			t.Errorf("%s: immunization %+v", name, im)
		}
		if res.RID != opts.RevocationID || !res.NotBefore.Equal(issuedAt) || res.Issuer != testIssuer || res.Header.KID != s.KID() {
			t.Errorf("%s: result %+v", name, res)
		}
	}
	check("jws", jws)

	file, err := File(jws)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := ParseFile(file)
	if err != nil || len(fromFile) != 1 {
		t.Fatalf("file: %v", err)
	}
	check("file", fromFile[0])

	text, err := QRText(jws)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "shc:/5676") { // "ey": 'e'-45 = 56, 'y'-45 = 76
		t.Errorf("QR text starts %s", text[:20])
	}
	fromQR, err := ParseQR(text)
	if err != nil {
		t.Fatal(err)
	}
	check("qr text", fromQR)

	pngData, info, err := qr.EncodePNG(text, qr.WithECLevel(qr.ECLow))
	if err != nil {
		t.Fatalf("QR PNG of %d characters: %v", len(text), err)
	}
	scanned, err := qr.DecodePNG(pngData)
	if err != nil {
		t.Fatal(err)
	}
	fromPNG, err := ParseQR(scanned)
	if err != nil {
		t.Fatal(err)
	}
	check("qr png", fromPNG)
	t.Logf("issued card: %d-byte payload, %d-character JWS, %d-character QR text, QR version %d (level L, one byte-mode segment), PNG %d bytes",
		len(payload), len(jws), len(text), info.Version, info.Bytes)
}

// The header's kid is the RFC 7638 thumbprint of the issuer key, as the
// specification requires, and the JWKS the node would publish for it
// (keys.PublicJWKSet) resolves it.
func TestIssuedCardVerifiesWithPublishedJWKS(t *testing.T) {
	s := testSigner(t)
	jws := issue(t, s, issueOpts())
	doc, err := keys.PublicJWKSet(keys.PublicKeyInfo{Key: s.Public()})
	if err != nil {
		t.Fatal(err)
	}
	infos, err := keys.ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(jws, StaticResolver(map[string][]keys.PublicKeyInfo{testIssuer: infos}), VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRevocationOfIssuedCards(t *testing.T) {
	s := testSigner(t)
	opts := issueOpts()
	opts.RevocationID = RevocationID([]byte("secret"), s.KID(), "0N35330CQKB9BMQE")
	if len(opts.RevocationID) != 11 {
		t.Fatalf("rid %q is not 11 characters", opts.RevocationID)
	}
	m := hmac.New(sha256.New, append([]byte("secret"), s.KID()...))
	m.Write([]byte("0N35330CQKB9BMQE"))
	if want := base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:8]); opts.RevocationID != want {
		t.Fatalf("rid %s, want %s", opts.RevocationID, want)
	}
	jws := issue(t, s, opts)
	nbf := issuedAt.Unix()
	cases := []struct {
		rids    []string
		revoked bool
	}{
		{[]string{"other"}, false},
		{[]string{"other", opts.RevocationID}, true},
		{[]string{fmt.Sprintf("%s.%d", opts.RevocationID, nbf+1)}, true},   // issued before the timestamp
		{[]string{fmt.Sprintf("%s.%d", opts.RevocationID, nbf)}, false},    // issued at it: not before
		{[]string{fmt.Sprintf("%s.%d", opts.RevocationID, nbf-60)}, false}, // issued after it
	}
	for _, c := range cases {
		crl := &CRL{KID: s.KID(), Method: "rid", Ctr: 2, RIDs: c.rids}
		doc, err := crl.Document()
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseCRL(doc)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		res, err := Verify(jws, resolverFor(s), VerifyOptions{CRL: func(iss, kid string) (*CRL, error) { return parsed, nil }})
		if c.revoked != (CodeOf(err) == CodeRevoked) || (err != nil && CodeOf(err) != CodeRevoked) {
			t.Errorf("rids %v: %v, want revoked %v", c.rids, err, c.revoked)
		}
		if c.revoked && (res == nil || !res.Revoked || res.Patient.Name == "") {
			t.Errorf("rids %v: revoked card should come with its facts: %+v", c.rids, res)
		}
	}
	// No CRL published for the key: not revoked. A lookup error or a list
	// for another key: status unknown, refused.
	if _, err := Verify(jws, resolverFor(s), VerifyOptions{CRL: func(string, string) (*CRL, error) { return nil, nil }}); err != nil {
		t.Errorf("no CRL: %v", err)
	}
	if _, err := Verify(jws, resolverFor(s), VerifyOptions{CRL: func(string, string) (*CRL, error) { return nil, errors.New("offline") }}); CodeOf(err) != CodeBadCRL {
		t.Errorf("CRL lookup error: %v, want bad_crl", err)
	}
	other := &CRL{KID: "someone-else", Method: "rid", Ctr: 1}
	if _, err := Verify(jws, resolverFor(s), VerifyOptions{CRL: func(string, string) (*CRL, error) { return other, nil }}); CodeOf(err) != CodeBadCRL {
		t.Errorf("CRL of another kid: %v, want bad_crl", err)
	}
}

func TestParseCRLRejects(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{"kid":"k","method":"rid","ctr":1,"rids":["a"],"kid":"k"}`,
		`{"method":"rid","ctr":1,"rids":[]}`,
		`{"kid":"k","method":"other","ctr":1,"rids":[]}`,
		`{"kid":"k","method":"rid","ctr":0,"rids":[]}`,
		`{"kid":"k","method":"rid","rids":[]}`,
		`{"kid":"k","method":"rid","ctr":1,"rids":["has space"]}`,
		`{"kid":"k","method":"rid","ctr":1,"rids":["abc.12x"]}`,
		`{"kid":"k","method":"rid","ctr":1,"rids":["aaaaaaaaaaaaaaaaaaaaaaaaa"]}`,
		`{"kid":"k","method":"rid","ctr":1,"rids":[1]}`,
	} {
		if _, err := ParseCRL([]byte(in)); err == nil || CodeOf(err) == "" {
			t.Errorf("%s: %v, want a coded refusal", in, err)
		}
	}
	c, err := ParseCRL([]byte(`{"kid":"k","method":"rid","ctr":"3","rids":["abc.123","d-_e"]}`))
	if err != nil || c.Ctr != 3 || len(c.RIDs) != 2 {
		t.Errorf("string ctr: %+v %v", c, err)
	}
}

func TestVerifyRejects(t *testing.T) {
	s := testSigner(t)
	other := testSigner(t)
	good := issue(t, s, issueOpts())
	parts := strings.Split(good, ".")
	payload := payloadOf(t, good)
	hdr := func(alg, zip string) string {
		return fmt.Sprintf(`{"zip":%q,"alg":%q,"kid":%q}`, zip, alg, s.KID())
	}
	tampered := bytes.Replace(payload, []byte(`"family":"Verma"`), []byte(`"family":"Varma"`), 1)
	var zTampered bytes.Buffer
	w, _ := flate.NewWriter(&zTampered, flate.BestCompression)
	w.Write(tampered)
	w.Close()
	edSigner, err := keys.Generate(keys.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), randReader{})
	if err != nil {
		t.Fatal(err)
	}
	hmacJWS := func() string {
		input := base64.RawURLEncoding.EncodeToString([]byte(hdr("HS256", "DEF"))) + "." + parts[1]
		m := hmac.New(sha256.New, elliptic.P256().Params().Gx.Bytes()) // any "public" secret
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}()

	cases := []struct {
		name    string
		jws     string
		resolve Resolver
		opts    VerifyOptions
		want    Code
	}{
		{"empty", "", nil, VerifyOptions{}, CodeMalformed},
		{"two parts", parts[0] + "." + parts[1], nil, VerifyOptions{}, CodeMalformed},
		{"truncated signature", good[:len(good)-1], nil, VerifyOptions{}, CodeMalformed},
		{"truncated signature by 2 characters (63 bytes)", good[:len(good)-2], resolverFor(s), VerifyOptions{}, CodeBadSignature},
		{"short signature", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 63)), resolverFor(s), VerifyOptions{}, CodeBadSignature},
		{"zero signature", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), resolverFor(s), VerifyOptions{}, CodeBadSignature},
		{"truncated payload", parts[0] + "." + parts[1][:len(parts[1])/2] + "." + parts[2], resolverFor(s), VerifyOptions{}, CodeBadCompression},
		{"padded base64", good + "=", nil, VerifyOptions{}, CodeMalformed},
		{"newline inside", parts[0] + "\n." + parts[1] + "." + parts[2], nil, VerifyOptions{}, CodeMalformed},
		{"too large", strings.Repeat("A", MaxJWSBytes+1), nil, VerifyOptions{}, CodeTooLarge},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(zTampered.Bytes()) + "." + parts[2], resolverFor(s), VerifyOptions{}, CodeBadSignature},
		{"signature of another card", parts[0] + "." + parts[1] + "." + strings.Split(issue(t, s, IssueOptions{Issuer: testIssuer, RevocationID: "x"}), ".")[2], resolverFor(s), VerifyOptions{}, CodeBadSignature},
		{"wrong key under the kid", good, StaticResolver(map[string][]keys.PublicKeyInfo{testIssuer: {{Key: other.Public(), KID: s.KID()}}}), VerifyOptions{}, CodeBadSignature},
		{"issuer's other key only", good, resolverFor(other), VerifyOptions{}, CodeUnknownKID},
		{"unknown issuer", good, StaticResolver(nil), VerifyOptions{}, CodeUnknownIssuer},
		{"resolver error", good, func(string, string) ([]keys.PublicKeyInfo, error) { return nil, errors.New("down") }, VerifyOptions{}, CodeUnknownIssuer},
		{"no resolver", good, nil, VerifyOptions{}, CodeUnknownIssuer},
		{"kid names an Ed25519 key", good, StaticResolver(map[string][]keys.PublicKeyInfo{testIssuer: {{Key: edSigner.Public(), KID: s.KID()}}}), VerifyOptions{}, CodeAlgNotAllowed},
		{"kid names a P-384 key", good, StaticResolver(map[string][]keys.PublicKeyInfo{testIssuer: {{Key: &p384.PublicKey, KID: s.KID()}}}), VerifyOptions{}, CodeAlgNotAllowed},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(hdr("none", "DEF"))) + "." + parts[1] + ".", resolverFor(s), VerifyOptions{}, CodeAlgNotAllowed},
		{"alg HS256 with a public value as secret", hmacJWS, resolverFor(s), VerifyOptions{}, CodeAlgNotAllowed},
		{"alg ES384", signRaw(t, s, hdr("ES384", "DEF"), payload, true), resolverFor(s), VerifyOptions{}, CodeAlgNotAllowed},
		{"alg EdDSA", signRaw(t, s, hdr("EdDSA", "DEF"), payload, true), resolverFor(s), VerifyOptions{}, CodeAlgNotAllowed},
		{"alg missing", signRaw(t, s, fmt.Sprintf(`{"zip":"DEF","kid":%q}`, s.KID()), payload, true), resolverFor(s), VerifyOptions{}, CodeAlgNotAllowed},
		{"alg not a string", signRaw(t, s, fmt.Sprintf(`{"zip":"DEF","alg":1,"kid":%q}`, s.KID()), payload, true), resolverFor(s), VerifyOptions{}, CodeMalformed},
		{"zip missing (uncompressed)", signRaw(t, s, fmt.Sprintf(`{"alg":"ES256","kid":%q}`, s.KID()), payload, false), resolverFor(s), VerifyOptions{}, CodeBadCompression},
		{"zip GZIP", signRaw(t, s, hdr("ES256", "GZIP"), payload, true), resolverFor(s), VerifyOptions{}, CodeBadCompression},
		{"zip DEF over zlib", signRaw(t, s, hdr("ES256", "DEF"), zlibOf(payload), false), resolverFor(s), VerifyOptions{}, CodeBadCompression},
		{"crit", signRaw(t, s, fmt.Sprintf(`{"zip":"DEF","alg":"ES256","kid":%q,"crit":["exp"]}`, s.KID()), payload, true), resolverFor(s), VerifyOptions{}, CodeUnsupportedCrit},
		{"no kid", signRaw(t, s, `{"zip":"DEF","alg":"ES256"}`, payload, true), resolverFor(s), VerifyOptions{}, CodeUnknownKID},
		{"duplicate header member", signRaw(t, s, fmt.Sprintf(`{"zip":"DEF","alg":"ES256","alg":"ES256","kid":%q}`, s.KID()), payload, true), resolverFor(s), VerifyOptions{}, CodeMalformed},
		{"header not an object", signRaw(t, s, `["ES256"]`, payload, true), resolverFor(s), VerifyOptions{}, CodeMalformed},
		{"duplicate payload member", signRaw(t, s, hdr("ES256", "DEF"), bytes.Replace(payload, []byte(`{"iss":`), []byte(`{"iss":"https://evil.example","iss":`), 1), true), resolverFor(s), VerifyOptions{}, CodeMalformed},
		{"payload not UTF-8", signRaw(t, s, hdr("ES256", "DEF"), append(bytes.Clone(payload[:len(payload)-2]), 0xff, '}'), true), resolverFor(s), VerifyOptions{}, CodeMalformed},
		{"payload trailing data", signRaw(t, s, hdr("ES256", "DEF"), append(bytes.Clone(payload), []byte(" {}")...), true), resolverFor(s), VerifyOptions{}, CodeMalformed},
		{"no health-card type", signRaw(t, s, hdr("ES256", "DEF"), bytes.Replace(payload, []byte(`"https://smarthealth.cards#health-card",`), nil, 1), true), resolverFor(s), VerifyOptions{}, CodeBadCredential},
		{"no iss", signRaw(t, s, hdr("ES256", "DEF"), bytes.Replace(payload, []byte(`"iss":"`+testIssuer+`",`), nil, 1), true), resolverFor(s), VerifyOptions{}, CodeBadCredential},
		{"nbf a string", signRaw(t, s, hdr("ES256", "DEF"), bytes.Replace(payload, []byte(`"nbf":1796119200`), []byte(`"nbf":"1796119200"`), 1), true), resolverFor(s), VerifyOptions{}, CodeBadCredential},
		{"bundle not a Bundle", signRaw(t, s, hdr("ES256", "DEF"), bytes.Replace(payload, []byte(`"resourceType":"Bundle"`), []byte(`"resourceType":"Patient"`), 1), true), resolverFor(s), VerifyOptions{}, CodeBadCredential},
		{"not yet valid", good, resolverFor(s), VerifyOptions{Now: issuedAt.Add(-time.Hour)}, CodeNotYetValid},
		{"not yet valid beyond leeway", good, resolverFor(s), VerifyOptions{Now: issuedAt.Add(-time.Hour), Leeway: time.Minute}, CodeNotYetValid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(c.jws, c.resolve, c.opts)
			if CodeOf(err) != c.want {
				t.Fatalf("got %v, want %s", err, c.want)
			}
		})
	}
	if _, err := Verify(good, resolverFor(s), VerifyOptions{Now: issuedAt.Add(-time.Minute), Leeway: 2 * time.Minute}); err != nil {
		t.Errorf("within leeway: %v", err)
	}
}

type randReader struct{}

func (randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return len(p), nil
}

func zlibOf(b []byte) []byte {
	var z bytes.Buffer
	z.Write([]byte{0x78, 0x9c})
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

func TestExpiry(t *testing.T) {
	s := testSigner(t)
	opts := issueOpts()
	opts.Expires = issuedAt.Add(30 * 24 * time.Hour)
	jws := issue(t, s, opts)
	res, err := Verify(jws, resolverFor(s), VerifyOptions{Now: issuedAt.Add(24 * time.Hour)})
	if err != nil || !res.Expires.Equal(opts.Expires) {
		t.Fatalf("within validity: %v", err)
	}
	res, err = Verify(jws, resolverFor(s), VerifyOptions{Now: issuedAt.Add(31 * 24 * time.Hour)})
	if CodeOf(err) != CodeExpired || res == nil || res.Patient.Name == "" {
		t.Fatalf("after exp: %v (result %v)", err, res != nil)
	}
	opts.Expires = issuedAt.Add(-time.Second)
	if _, err := Issue(sampleVaccination(), s, opts); CodeOf(err) != CodeBadInput {
		t.Errorf("exp before nbf: %v", err)
	}
}

// A payload that inflates far beyond MaxPayloadBytes is refused once the
// limit is reached, without inflating the rest (threat 17).
func TestZipBomb(t *testing.T) {
	s := testSigner(t)
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 40 { // 40 MiB of zeros in about 40 KB
		w.Write(zeros)
	}
	w.Close()
	if z.Len() > MaxJWSBytes*3/4 {
		t.Fatalf("bomb is %d bytes compressed", z.Len())
	}
	jws := signRaw(t, s, fmt.Sprintf(`{"zip":"DEF","alg":"ES256","kid":%q}`, s.KID()), z.Bytes(), false)
	start := time.Now()
	_, err := Verify(jws, resolverFor(s), VerifyOptions{})
	if CodeOf(err) != CodeTooLarge {
		t.Fatalf("zip bomb: %v, want too_large", err)
	}
	if _, err := Inflate(z.Bytes(), 1<<10); CodeOf(err) != CodeTooLarge {
		t.Fatalf("Inflate: %v", err)
	}
	t.Logf("%d-byte JWS claiming 40 MiB refused in %s: %v", len(jws), time.Since(start).Round(time.Microsecond), err)
}

func TestInflate(t *testing.T) {
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write([]byte("hello"))
	w.Close()
	if out, err := Inflate(z.Bytes(), 5); err != nil || string(out) != "hello" {
		t.Errorf("exact limit: %q %v", out, err)
	}
	if _, err := Inflate(z.Bytes(), 4); CodeOf(err) != CodeTooLarge {
		t.Errorf("over limit: %v", err)
	}
	if _, err := Inflate(append(z.Bytes(), 0), 100); CodeOf(err) != CodeBadCompression {
		t.Errorf("trailing byte: %v", err)
	}
	if _, err := Inflate(z.Bytes()[:z.Len()-1], 100); CodeOf(err) != CodeBadCompression {
		t.Errorf("truncated: %v", err)
	}
	if _, err := Inflate([]byte{0xff, 0xff}, 100); CodeOf(err) != CodeBadCompression {
		t.Errorf("garbage: %v", err)
	}
}

func TestParseQRRejects(t *testing.T) {
	// "eyJ" spells 56 76 29.
	cases := []struct {
		name  string
		texts []string
		want  Code
	}{
		{"nothing", nil, CodeBadQR},
		{"empty", []string{""}, CodeBadQR},
		{"prefix only", []string{"shc:/"}, CodeBadQR},
		{"wrong scheme", []string{"shx:/567629"}, CodeBadQR},
		{"missing slash", []string{"shc:567629"}, CodeBadQR},
		{"HC1 prefix", []string{"HC1:567629"}, CodeBadQR},
		{"odd digits", []string{"shc:/56762"}, CodeBadQR},
		{"letters", []string{"shc:/5676a9"}, CodeBadQR},
		{"pair above 77", []string{"shc:/567699"}, CodeBadQR},
		{"pair spelling '/'", []string{"shc:/5676" + fmt.Sprintf("%02d", '/'-45)}, CodeBadQR},
		{"space inside", []string{"shc:/56 7629"}, CodeBadQR},
		{"chunk 3 of 2", []string{"shc:/3/2/5676", "shc:/1/2/29"}, CodeBadChunks},
		{"chunk 0", []string{"shc:/0/2/5676", "shc:/1/2/29"}, CodeBadChunks},
		{"leading zero", []string{"shc:/01/2/5676", "shc:/2/2/29"}, CodeBadChunks},
		{"missing chunk", []string{"shc:/1/3/5676", "shc:/3/3/29"}, CodeBadChunks},
		{"repeated chunk", []string{"shc:/1/2/5676", "shc:/1/2/5676"}, CodeBadChunks},
		{"counts disagree", []string{"shc:/1/2/5676", "shc:/2/3/29"}, CodeBadChunks},
		{"chunk without its siblings", []string{"shc:/2/2/29"}, CodeBadChunks},
		{"whole card with a chunk", []string{"shc:/567629", "shc:/1/2/5676"}, CodeBadChunks},
		{"two slashes only", []string{"shc:/1/5676"}, CodeBadChunks},
		{"too many slashes", []string{"shc:/1/2/3/5676"}, CodeBadChunks},
		{"count over the limit", []string{"shc:/1/11/5676"}, CodeBadChunks},
		{"too many texts", strings.Split(strings.Repeat("shc:/1/2/56,", 11), ",")[:11], CodeBadChunks},
		{"empty chunk digits", []string{"shc:/1/2/", "shc:/2/2/29"}, CodeBadQR},
		{"huge", []string{"shc:/" + strings.Repeat("56", MaxJWSBytes+10)}, CodeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseQR(c.texts...)
			if CodeOf(err) != c.want {
				t.Fatalf("got %v, want %s", err, c.want)
			}
		})
	}
	if got, err := ParseQR("shc:/2/2/29\n", "SHC:/1/2/5676"); err != nil || got != "eyJ" {
		t.Errorf("chunks out of order, trailing newline, upper-case scheme: %q %v", got, err)
	}
}

func TestQRTextLimits(t *testing.T) {
	if _, err := QRText(strings.Repeat("a", MaxSingleQRChars)); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, err := QRText(strings.Repeat("a", MaxSingleQRChars+1)); CodeOf(err) != CodeTooLarge {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := QRText("abc def"); CodeOf(err) != CodeMalformed {
		t.Errorf("space: %v", err)
	}
	// Every JWS character round-trips.
	all := "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
	text, err := QRText(all)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseQR(text); err != nil || got != all {
		t.Errorf("round trip: %q %v", got, err)
	}
	if !strings.HasPrefix(text, "shc:/0001") || !strings.HasSuffix(text, "77") {
		t.Errorf("'-' must be 00, '.' 01 and 'z' 77: %s", text)
	}
}

func TestParseFileRejects(t *testing.T) {
	for _, in := range []string{
		``, `null`, `[]`, `{}`, `{"verifiableCredential":null}`, `{"verifiableCredential":[]}`,
		`{"verifiableCredential":[1]}`, `{"verifiableCredential":["a b"]}`, `{"verifiableCredential":"abc"}`,
		`{"verifiableCredential":["a.b.c"],"verifiableCredential":["d.e.f"]}`,
		`{"verifiableCredential":["a.b.c"]} x`,
	} {
		if _, err := ParseFile([]byte(in)); err == nil || CodeOf(err) == "" {
			t.Errorf("%q: %v, want a coded refusal", in, err)
		}
	}
	if _, err := ParseFile(make([]byte, MaxFileBytes+1)); CodeOf(err) != CodeTooLarge {
		t.Errorf("huge file: %v", err)
	}
	if _, err := File(); CodeOf(err) != CodeBadInput {
		t.Errorf("empty File: %v", err)
	}
}

func TestIssueRejects(t *testing.T) {
	s := testSigner(t)
	ed, err := keys.Generate(keys.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(v *credential.Vaccination, o *IssueOptions)) (*credential.Vaccination, IssueOptions) {
		v, o := sampleVaccination(), issueOpts()
		f(v, &o)
		return v, o
	}
	cases := []struct {
		name   string
		signer *keys.Signer
		f      func(v *credential.Vaccination, o *IssueOptions)
		want   Code
	}{
		{"EdDSA signer", ed, func(*credential.Vaccination, *IssueOptions) {}, CodeAlgNotAllowed},
		{"no signer", nil, func(*credential.Vaccination, *IssueOptions) {}, CodeBadInput},
		{"http issuer", s, func(_ *credential.Vaccination, o *IssueOptions) { o.Issuer = "http://divoc.example" }, CodeBadInput},
		{"trailing slash", s, func(_ *credential.Vaccination, o *IssueOptions) { o.Issuer = testIssuer + "/" }, CodeBadInput},
		{"urn issuer", s, func(_ *credential.Vaccination, o *IssueOptions) { o.Issuer = "urn:divoc:authority:moh" }, CodeBadInput},
		{"rid too long", s, func(_ *credential.Vaccination, o *IssueOptions) { o.RevocationID = strings.Repeat("a", 25) }, CodeBadInput},
		{"rid with a dot", s, func(_ *credential.Vaccination, o *IssueOptions) { o.RevocationID = "abc.123" }, CodeBadInput},
		{"no name", s, func(v *credential.Vaccination, _ *IssueOptions) { v.Holder.Name = "  " }, CodeBadInput},
		{"bad birth date", s, func(v *credential.Vaccination, _ *IssueOptions) { v.Holder.DOB = "01/02/1980" }, CodeBadInput},
		{"bad dose date", s, func(v *credential.Vaccination, _ *IssueOptions) { v.Dose.Date = "2026-13-01" }, CodeBadInput},
		{"no vaccine", s, func(v *credential.Vaccination, _ *IssueOptions) { v.Dose.Vaccine = "" }, CodeBadInput},
		{"no issuance time", s, func(v *credential.Vaccination, _ *IssueOptions) { v.IssuedAt = time.Time{} }, CodeBadInput},
		{"empty coding", s, func(_ *credential.Vaccination, o *IssueOptions) {
			o.VaccineCodes = VaccineCodes{"COVISHIELD": {{System: SystemCVX}}}
		}, CodeBadInput},
	}
	for _, c := range cases {
		v, o := mod(c.f)
		if _, err := Issue(v, c.signer, o); CodeOf(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
	if _, err := Issue(nil, s, issueOpts()); CodeOf(err) != CodeBadInput {
		t.Errorf("nil vaccination: %v", err)
	}
}

// A vaccine the table does not know is coded in the ledger's own system;
// a single-word name is the family name; a dateTime is kept.
func TestIssueFallbacks(t *testing.T) {
	s := testSigner(t)
	v := sampleVaccination()
	v.Dose.Vaccine = "NEWVAX"
	v.Holder.Name = "Bhaya"
	v.Holder.DOB = ""
	v.Dose.Date = "2026-11-30T09:15:00+05:30"
	v.Facility.Name = ""
	jws, err := Issue(v, s, issueOpts())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(jws, resolverFor(s), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	im := res.Immunizations[0]
	if len(im.Codes) != 1 || im.Codes[0] != (Coding{System: SystemLedger, Code: "NEWVAX"}) || im.CVX() != "" {
		t.Errorf("codes %+v", im.Codes)
	}
	if res.Patient.Name != "Bhaya" || res.Patient.Family != "Bhaya" || res.Patient.BirthDate != "" {
		t.Errorf("patient %+v", res.Patient)
	}
	if im.Date != v.Dose.Date || im.Performer != "" || im.DoseNumber != 0 {
		t.Errorf("immunization %+v", im)
	}
	if bytes.Contains(res.Payload, []byte("birthDate")) || bytes.Contains(res.Payload, []byte("performer")) || bytes.Contains(res.Payload, []byte("protocolApplied")) || bytes.Contains(res.Payload, []byte(`"rid"`)) {
		t.Errorf("empty fields written: %s", res.Payload)
	}
}

func FuzzParseQR(f *testing.F) {
	f.Add("shc:/567629", "")
	f.Add("shc:/1/2/5676", "shc:/2/2/29")
	f.Add("shc:/", "shc:/1/1/")
	f.Add("SHC:/0077", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		texts := []string{a}
		if b != "" {
			texts = append(texts, b)
		}
		jws, err := ParseQR(texts...)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if checkJWSChars(jws) != nil {
			t.Fatalf("decoded %q has non-JWS characters", jws)
		}
		if len(texts) == 1 && !strings.Contains(a[5:], "/") {
			again, err := QRText(jws)
			if err == nil && !strings.EqualFold(again, strings.TrimRight(a, "\r\n")) {
				t.Fatalf("QRText(ParseQR(%q)) = %q", a, again)
			}
		}
	})
}

func FuzzInflate(f *testing.F) {
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write(bytes.Repeat([]byte("health card "), 100))
	w.Close()
	f.Add(z.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0x03, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Inflate(data, 4096)
		if err != nil {
			if c := CodeOf(err); c != CodeBadCompression && c != CodeTooLarge {
				t.Fatalf("code %q: %v", c, err)
			}
			return
		}
		if len(out) > 4096 {
			t.Fatalf("inflated %d bytes past the limit", len(out))
		}
	})
}

func FuzzVerify(f *testing.F) {
	s := testSigner(f)
	good := issue(f, s, issueOpts())
	f.Add(good)
	f.Add(good[:len(good)-3])
	for _, ex := range []string{"00", "01", "03"} {
		data, err := os.ReadFile(filepath.Join(examplesDir, "example-"+ex+"-d-jws.txt"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add("e30.e30.")
	f.Add("..")
	infos := append([]keys.PublicKeyInfo{{Key: s.Public(), KID: s.KID()}}, exampleKeys(f)...)
	resolve := func(iss, kid string) ([]keys.PublicKeyInfo, error) { return infos, nil }
	crl := func(iss, kid string) (*CRL, error) {
		return &CRL{KID: kid, Method: "rid", Ctr: 1, RIDs: []string{"vwAjHdarZuc"}}, nil
	}
	f.Fuzz(func(t *testing.T, jws string) {
		res, err := Verify(jws, resolve, VerifyOptions{Now: exampleClock, CRL: crl})
		if err != nil {
			switch CodeOf(err) {
			case "":
				t.Fatalf("error without a code: %v", err)
			case CodeRevoked, CodeExpired, CodeNotYetValid:
				if res == nil || res.Key == nil {
					t.Fatalf("%v without the verified result", err)
				}
			default:
				if res != nil {
					t.Fatalf("result with error %v", err)
				}
			}
			return
		}
		if res.Key == nil || res.Issuer == "" || res.Header.Alg != "ES256" {
			t.Fatalf("verified card with result %+v", res)
		}
	})
}

func TestExtractAndRecognize(t *testing.T) {
	jws := string(bytes.TrimSpace(mustRead(t, "example-00-d-jws.txt")))
	file := mustRead(t, "example-00-e-file.smart-health-card")
	var chunks []string
	for k := range 3 {
		chunks = append(chunks, string(mustRead(t, fmt.Sprintf("example-02-f-qr-code-numeric-value-%d.txt", k))))
	}
	jws02 := string(bytes.TrimSpace(mustRead(t, "example-02-d-jws.txt")))
	qr00 := mustRead(t, "example-00-f-qr-code-numeric-value-0.txt")
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"jws", []byte(jws), jws},
		{"jws with newline", []byte(jws + "\n"), jws},
		{"file", file, jws},
		{"qr", qr00, jws},
		{"qr chunks, one per line", []byte(strings.Join(chunks, "\n")), jws02},
	} {
		got, err := Extract(c.in)
		if err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: %d cards, %v", c.name, len(got), err)
		}
		if !Recognize(c.in) {
			t.Errorf("%s: not recognized", c.name)
		}
	}
	vcjwt := "eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.e30.c2ln" // {"alg":"ES256","kid":"x"}
	for _, in := range []string{"", "hello", vcjwt, `{"@context":[]}`, "HC1:NCF", "PK\x03\x04"} {
		if Recognize([]byte(in)) {
			t.Errorf("%q recognized", in)
		}
	}
	for _, in := range []string{"", "hello world", `{"x":1}`, "a.b"} {
		if _, err := Extract([]byte(in)); CodeOf(err) == "" {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
