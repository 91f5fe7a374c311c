package vcjwt

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/divoc/divoc/keys"
)

var b64 = base64.RawURLEncoding

func seededSigner(t testing.TB, b byte) *keys.Signer {
	t.Helper()
	s, err := keys.GenerateEd25519FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func generated(t testing.TB, alg string) *keys.Signer {
	t.Helper()
	s, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func resolverFor(signers ...*keys.Signer) KeyResolver {
	var infos []keys.PublicKeyInfo
	for _, s := range signers {
		infos = append(infos, keys.PublicKeyInfo{Key: s.Public()})
	}
	return KeysResolver(infos...)
}

func credentialJSON(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vaccination-credential.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// signRaw builds a compact JWS with any header and payload text, signed by
// s. It lets tests craft tokens jws.Sign would refuse to make.
func signRaw(t testing.TB, s *keys.Signer, header, payload string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	sig, err := s.Sign([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func header(s *keys.Signer) string {
	return `{"alg":"` + s.Alg() + `","kid":"` + s.KID() + `","typ":"vc+jwt","cty":"vc"}`
}

// minimalVC is a valid credential body; extra members are spliced in.
func minimalVC(extra string) string {
	return `{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"],` +
		`"issuer":"https://divoc.example/authorities/moh","credentialSubject":{"id":"did:example:1"}` + extra + `}`
}

func wantCode(t *testing.T, err error, want Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %s", want)
	}
	if got := CodeOf(err); got != want {
		t.Fatalf("code %q (%v), want %q", got, err, want)
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	for _, alg := range []string{keys.AlgEdDSA, keys.AlgES256, keys.AlgES384, keys.AlgES512} {
		t.Run(alg, func(t *testing.T) {
			s := generated(t, alg)
			cred := credentialJSON(t)
			token, err := Issue(cred, s)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Verify(token, resolverFor(s), VerifyOptions{Now: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			want := Header{Alg: alg, KID: s.KID(), Typ: "vc+jwt", Cty: "vc"}
			if res.Header != want {
				t.Errorf("header %+v, want %+v", res.Header, want)
			}
			if res.Presentation {
				t.Error("credential reported as a presentation")
			}
			if !bytes.Equal(res.Payload, cred) {
				t.Error("payload is not the credential byte for byte")
			}
			subject, _ := res.Credential["credentialSubject"].(map[string]any)
			if subject["name"] != "Asha Verma" {
				t.Errorf("credentialSubject.name = %v", subject["name"])
			}
			if res.Key == nil || !res.Key.(interface{ Equal(crypto.PublicKey) bool }).Equal(s.Public()) {
				t.Error("Result.Key is not the issuer's key")
			}
		})
	}
}

// TestIssuedHeaderIsExact checks the protected header Issue writes.
func TestIssuedHeaderIsExact(t *testing.T) {
	s := seededSigner(t, 0x11)
	token, err := Issue([]byte(minimalVC("")), s)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b64.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"alg": "EdDSA", "kid": s.KID(), "typ": "vc+jwt", "cty": "vc"}
	if len(h) != len(want) {
		t.Errorf("header %v, want exactly %v", h, want)
	}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("header %s = %v, want %v", k, h[k], v)
		}
	}
}

func TestIssueRejects(t *testing.T) {
	s := seededSigner(t, 0x11)
	tests := []struct {
		name, doc string
	}{
		{"not JSON", `{"@context":`},
		{"array", `[1,2]`},
		{"no context", `{"type":["VerifiableCredential"],"issuer":"x","credentialSubject":{}}`},
		{"v1 context first", strings.Replace(minimalVC(""), `["https://www.w3.org/ns/credentials/v2"]`, `["https://www.w3.org/2018/credentials/v1","https://www.w3.org/ns/credentials/v2"]`, 1)},
		{"not a credential type", strings.Replace(minimalVC(""), `["VerifiableCredential"]`, `["VaccinationCertificate"]`, 1)},
		{"presentation type", strings.Replace(minimalVC(""), `["VerifiableCredential"]`, `["VerifiablePresentation"]`, 1)},
		{"vc claim", minimalVC(`,"vc":{}`)},
		{"bad validFrom", minimalVC(`,"validFrom":"20 Nov 2026"`)},
		{"validUntil without zone", minimalVC(`,"validUntil":"2027-11-20T10:15:00"`)},
		{"exp as string", minimalVC(`,"exp":"2027-11-20T10:15:00Z"`)},
		{"no credentialSubject", `{"@context":["https://www.w3.org/ns/credentials/v2"],"type":"VerifiableCredential","issuer":"x"}`},
		{"no issuer", `{"@context":["https://www.w3.org/ns/credentials/v2"],"type":"VerifiableCredential","credentialSubject":{}}`},
		{"iss does not match issuer", minimalVC(`,"iss":"https://elsewhere.example"`)},
		{"duplicate member", minimalVC(`,"validFrom":"2026-01-01T00:00:00Z","validFrom":"2030-01-01T00:00:00Z"`)},
		{"two JSON values", minimalVC("") + `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Issue([]byte(tt.doc), s)
			wantCode(t, err, CodeBadCredential)
		})
	}
	if _, err := Issue([]byte(minimalVC("")), nil); err == nil {
		t.Error("nil signer accepted")
	}
}

func TestIssuePresentationRejectsUnsecuredCredential(t *testing.T) {
	s := seededSigner(t, 0x11)
	vp := `{"@context":["https://www.w3.org/ns/credentials/v2"],"type":"VerifiablePresentation","verifiableCredential":[` + minimalVC("") + `]}`
	_, err := IssuePresentation([]byte(vp), s)
	wantCode(t, err, CodeBadCredential)
	_, err = Issue([]byte(vp), s)
	wantCode(t, err, CodeBadCredential)
}

// TestTamperedCredential is THREATS row 12: one changed character fails
// with bad_signature.
func TestTamperedCredential(t *testing.T) {
	s := seededSigner(t, 0x11)
	token, err := Issue(credentialJSON(t), s)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	payload, _ := b64.DecodeString(parts[1])

	renamed := bytes.Replace(payload, []byte("Asha Verma"), []byte("Asha Varma"), 1)
	if bytes.Equal(renamed, payload) {
		t.Fatal("test credential has no name to change")
	}
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	tests := map[string]string{
		"one letter of the name":        parts[0] + "." + b64.EncodeToString(renamed) + "." + parts[2],
		"one base64url char of payload": parts[0] + "." + flip(parts[1], len(parts[1])/2) + "." + parts[2],
		"one char of the signature":     parts[0] + "." + parts[1] + "." + flip(parts[2], 10),
	}
	for name, tampered := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Verify(tampered, resolverFor(s), VerifyOptions{})
			wantCode(t, err, CodeBadSignature)
		})
	}
	if _, err := Verify(token, resolverFor(s), VerifyOptions{}); err != nil {
		t.Fatalf("untampered token: %v", err)
	}
}

// TestAlgorithmConfusion is THREATS row 15.
func TestAlgorithmConfusion(t *testing.T) {
	ed := seededSigner(t, 0x11)
	ec := generated(t, keys.AlgES256)
	p384 := generated(t, keys.AlgES384)
	payload := minimalVC("")
	edPub := []byte(ed.Public().(ed25519.PublicKey))

	hmacWith := func(secret []byte) string {
		hdr := jws.NewHeaders()
		_ = hdr.Set(jws.KeyIDKey, ed.KID())
		_ = hdr.Set(jws.TypeKey, "vc+jwt")
		tok, err := jws.Sign([]byte(payload), jws.WithKey(jwa.HS256(), secret, jws.WithProtectedHeaders(hdr)))
		if err != nil {
			t.Fatal(err)
		}
		return string(tok)
	}
	jwkJSON, err := json.Marshal(ed.PublicJWK())
	if err != nil {
		t.Fatal(err)
	}
	unsigned := b64.EncodeToString([]byte(`{"alg":"none","kid":"`+ed.KID()+`","typ":"vc+jwt"}`)) + "." + b64.EncodeToString([]byte(payload)) + "."

	tests := []struct {
		name    string
		token   string
		resolve KeyResolver
	}{
		{"alg none, empty signature", unsigned, resolverFor(ed)},
		{"alg none, signature copied from a real token", unsigned + strings.Split(signRaw(t, ed, header(ed), payload), ".")[2], resolverFor(ed)},
		{"HS256 keyed with the raw public key", hmacWith(edPub), resolverFor(ed)},
		{"HS256 keyed with the public JWK", hmacWith(jwkJSON), resolverFor(ed)},
		{"RS256", signRaw(t, ed, `{"alg":"RS256","kid":"`+ed.KID()+`","typ":"vc+jwt"}`, payload), resolverFor(ed)},
		{"alg in lower case", signRaw(t, ed, `{"alg":"eddsa","kid":"`+ed.KID()+`","typ":"vc+jwt"}`, payload), resolverFor(ed)},
		{"no alg", signRaw(t, ed, `{"kid":"`+ed.KID()+`","typ":"vc+jwt"}`, payload), resolverFor(ed)},
		// The token's kid names the P-256 key, but the token is EdDSA.
		{"kid points at a P-256 key, alg EdDSA", signRaw(t, ed, `{"alg":"EdDSA","kid":"`+ec.KID()+`","typ":"vc+jwt"}`, payload), resolverFor(ed, ec)},
		// The token's kid names the Ed25519 key, but the token is ES256.
		{"kid points at an Ed25519 key, alg ES256", signRaw(t, ec, `{"alg":"ES256","kid":"`+ed.KID()+`","typ":"vc+jwt"}`, payload), resolverFor(ed, ec)},
		{"ES256 header on a P-384 key", signRaw(t, p384, `{"alg":"ES256","kid":"`+p384.KID()+`","typ":"vc+jwt"}`, payload), resolverFor(p384)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.token, tt.resolve, VerifyOptions{})
			wantCode(t, err, CodeAlgNotAllowed)
		})
	}
}

// TestMalformed is THREATS row 18 for tokens: each gives a specific code
// and no panic.
func TestMalformed(t *testing.T) {
	s := seededSigner(t, 0x11)
	good := signRaw(t, s, header(s), minimalVC(""))
	parts := strings.Split(good, ".")
	h, p, sig := parts[0], parts[1], parts[2]
	enc := func(s string) string { return b64.EncodeToString([]byte(s)) }

	tests := []struct {
		name  string
		token string
		code  Code
	}{
		{"empty", "", CodeMalformed},
		{"two parts", h + "." + p, CodeMalformed},
		{"four parts", good + ".x", CodeMalformed},
		{"JWE-like five parts", h + ".." + p + ".x." + sig, CodeMalformed},
		{"padding in header", h + "=." + p + "." + sig, CodeMalformed},
		{"standard base64 in payload", h + "." + strings.NewReplacer("-", "+", "_", "/").Replace(p) + "+/." + sig, CodeMalformed},
		{"newline inside header", h[:5] + "\n" + h[5:] + "." + p + "." + sig, CodeMalformed},
		{"space in signature", h + "." + p + "." + sig[:4] + " " + sig[4:], CodeMalformed},
		{"non-canonical last char", h + "." + p + "." + sig[:len(sig)-1] + "x", CodeMalformed},
		{"header not JSON", enc("not json") + "." + p + "." + sig, CodeMalformed},
		{"header is an array", enc(`["alg","EdDSA"]`) + "." + p + "." + sig, CodeMalformed},
		{"duplicate alg in header", enc(`{"alg":"EdDSA","alg":"none","kid":"`+s.KID()+`","typ":"vc+jwt"}`) + "." + p + "." + sig, CodeMalformed},
		{"duplicate typ in header", enc(`{"alg":"EdDSA","kid":"`+s.KID()+`","typ":"vc+jwt","typ":"vp+jwt"}`) + "." + p + "." + sig, CodeMalformed},
		{"header not UTF-8", enc("{\"alg\":\"EdDSA\xff\"}") + "." + p + "." + sig, CodeMalformed},
		{"kid is a number", enc(`{"alg":"EdDSA","kid":7,"typ":"vc+jwt"}`) + "." + p + "." + sig, CodeMalformed},
		{"b64 false", signRaw(t, s, `{"alg":"EdDSA","kid":"`+s.KID()+`","typ":"vc+jwt","b64":false}`, minimalVC("")), CodeMalformed},
		// Signed correctly, so only the payload checks can refuse them.
		{"duplicate member in signed payload", signRaw(t, s, header(s), minimalVC(`,"issuer":"https://other.example"`)), CodeMalformed},
		{"signed payload not JSON", signRaw(t, s, header(s), "hello"), CodeMalformed},
		{"signed payload is an array", signRaw(t, s, header(s), `[`+minimalVC("")+`]`), CodeMalformed},
		{"signed payload nested too deep", signRaw(t, s, header(s), minimalVC(`,"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100))), CodeMalformed},
		{"too large", strings.Repeat("a", MaxTokenBytes+1), CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.token, resolverFor(s), VerifyOptions{})
			wantCode(t, err, tt.code)
		})
	}
}

func TestMediaType(t *testing.T) {
	s := seededSigner(t, 0x11)
	vc := minimalVC("")
	hdr := func(extra string) string { return `{"alg":"EdDSA","kid":"` + s.KID() + `"` + extra + `}` }
	tests := []struct {
		name   string
		header string
		code   Code // "" means accepted
	}{
		{"vc+jwt", hdr(`,"typ":"vc+jwt"`), ""},
		{"full media type", hdr(`,"typ":"application/vc+jwt","cty":"application/vc"`), ""},
		{"upper case", hdr(`,"typ":"VC+JWT","cty":"VC"`), ""},
		{"no typ", hdr(``), CodeBadMediaType},
		{"typ JWT", hdr(`,"typ":"JWT"`), CodeBadMediaType},
		{"typ vc+ld+json", hdr(`,"typ":"vc+ld+json"`), CodeBadMediaType},
		{"typ vc+sd-jwt", hdr(`,"typ":"vc+sd-jwt"`), CodeBadMediaType},
		{"cty of a presentation", hdr(`,"typ":"vc+jwt","cty":"vp"`), CodeBadMediaType},
		{"bad cty", hdr(`,"typ":"vc+jwt","cty":"bad+cty"`), CodeBadMediaType},
		{"typ vp+jwt on a credential", hdr(`,"typ":"vp+jwt"`), CodeBadCredential},
		{"crit", hdr(`,"typ":"vc+jwt","crit":["exp"],"exp":1`), CodeUnsupportedCrit},
		{"no kid", `{"alg":"EdDSA","typ":"vc+jwt"}`, CodeUnknownKID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(signRaw(t, s, tt.header, vc), resolverFor(s), VerifyOptions{})
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

func TestKeyResolution(t *testing.T) {
	s := seededSigner(t, 0x11)
	other := seededSigner(t, 0x22)
	token := signRaw(t, s, header(s), minimalVC(""))

	sameKID := func(keys ...crypto.PublicKey) KeyResolver {
		return func(string) ([]crypto.PublicKey, error) { return keys, nil }
	}
	tests := []struct {
		name    string
		resolve KeyResolver
		code    Code
	}{
		{"nil resolver", nil, CodeUnknownKID},
		{"unknown kid", resolverFor(other), CodeUnknownKID},
		{"resolver error", func(string) ([]crypto.PublicKey, error) { return nil, errors.New("trust list unavailable") }, CodeUnknownKID},
		{"wrong key under the kid", sameKID(other.Public()), CodeBadSignature},
		{"unsupported key type only", sameKID([]byte("secret")), CodeAlgNotAllowed},
		{"short Ed25519 key", sameKID(ed25519.PublicKey{1, 2, 3}), CodeAlgNotAllowed},
		{"nil key", sameKID(nil), CodeAlgNotAllowed},
		{"second candidate verifies", sameKID(other.Public(), s.Public()), ""},
		{"jwk.Key candidate", sameKID(s.PublicJWK()), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Verify(token, tt.resolve, VerifyOptions{})
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !s.Public().(ed25519.PublicKey).Equal(res.Key) {
					t.Error("Result.Key is not the key that verified")
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

func TestValidityPeriod(t *testing.T) {
	s := seededSigner(t, 0x11)
	day := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) }
	dates := `,"validFrom":"2026-11-10T00:00:00Z","validUntil":"2026-11-20T00:00:00Z"`
	jwtClaims := `,"nbf":` + itoa(day(10).Unix()) + `,"exp":` + itoa(day(20).Unix())
	tests := []struct {
		name  string
		extra string
		now   time.Time
		code  Code
	}{
		{"no clock", dates, time.Time{}, ""},
		{"inside", dates, day(15), ""},
		{"before validFrom", dates, day(5), CodeNotYetValid},
		{"after validUntil", dates, day(25), CodeExpired},
		{"offset time zone", `,"validFrom":"2026-11-15T20:00:00+05:30"`, day(15), CodeNotYetValid},
		{"JWT claims inside", jwtClaims, day(15), ""},
		{"before nbf", jwtClaims, day(5), CodeNotYetValid},
		{"after exp", jwtClaims, day(25), CodeExpired},
		{"exp as string", `,"exp":"2026-11-20T00:00:00Z"`, day(15), CodeBadCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(signRaw(t, s, header(s), minimalVC(tt.extra)), resolverFor(s), VerifyOptions{Now: tt.now})
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestCredentialRules(t *testing.T) {
	s := seededSigner(t, 0x11)
	tests := []struct {
		name, payload string
		code          Code
	}{
		{"iss matches issuer", minimalVC(`,"iss":"https://divoc.example/authorities/moh"`), ""},
		{"iss matches issuer.id", strings.Replace(minimalVC(`,"iss":"https://a.example"`), `"issuer":"https://divoc.example/authorities/moh"`, `"issuer":{"id":"https://a.example","name":"A"}`, 1), ""},
		{"iss differs", minimalVC(`,"iss":"https://a.example"`), CodeBadCredential},
		{"vc claim", minimalVC(`,"vc":{"type":"VerifiableCredential"}`), CodeBadCredential},
		{"vp claim", minimalVC(`,"vp":"x"`), CodeBadCredential},
		{"context as a single string", strings.Replace(minimalVC(""), `["https://www.w3.org/ns/credentials/v2"]`, `"https://www.w3.org/ns/credentials/v2"`, 1), ""},
		{"context of VC 1.1", strings.Replace(minimalVC(""), `credentials/v2`, `credentials/v1`, 1), CodeBadCredential},
		{"type missing VerifiableCredential", strings.Replace(minimalVC(""), `["VerifiableCredential"]`, `["Other"]`, 1), CodeBadCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(signRaw(t, s, header(s), tt.payload), resolverFor(s), VerifyOptions{})
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

// presentation wraps credentials (each a data: URL id) in a VP.
func presentation(ids ...string) []byte {
	var entries []string
	for _, id := range ids {
		entries = append(entries, `{"@context":"https://www.w3.org/ns/credentials/v2","type":"EnvelopedVerifiableCredential","id":`+quote(id)+`}`)
	}
	return []byte(`{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiablePresentation"],` +
		`"holder":"did:example:holder","verifiableCredential":[` + strings.Join(entries, ",") + `]}`)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestPresentation(t *testing.T) {
	issuer := seededSigner(t, 0x11)
	holder := generated(t, keys.AlgES256)
	stranger := seededSigner(t, 0x33)
	resolve := resolverFor(issuer, holder)

	vc1, err := Issue(credentialJSON(t), issuer)
	if err != nil {
		t.Fatal(err)
	}
	vc2, err := Issue([]byte(minimalVC("")), issuer)
	if err != nil {
		t.Fatal(err)
	}
	unknownIssuer, err := Issue([]byte(minimalVC("")), stranger)
	if err != nil {
		t.Fatal(err)
	}
	tamperedParts := strings.Split(vc2, ".")
	tampered := tamperedParts[0] + "." + b64.EncodeToString([]byte(minimalVC(`,"name":"x"`))) + "." + tamperedParts[2]
	innerVP, err := IssuePresentation(presentation(), holder)
	if err != nil {
		t.Fatal(err)
	}

	const jwtURL = "data:application/vc+jwt,"
	tests := []struct {
		name  string
		ids   []string
		code  Code
		inner Code // code of the enveloped credential's error
	}{
		{"two credentials", []string{jwtURL + vc1, jwtURL + vc2}, "", ""},
		{"no credentials", nil, "", ""},
		{"tampered credential", []string{jwtURL + vc1, jwtURL + tampered}, CodeBadCredential, CodeBadSignature},
		{"credential by an unknown issuer", []string{jwtURL + unknownIssuer}, CodeBadCredential, CodeUnknownKID},
		{"presentation inside", []string{jwtURL + innerVP}, CodeBadCredential, CodeBadMediaType},
		{"not a data: URL", []string{"urn:uuid:1"}, CodeBadCredential, ""},
		{"base64 parameter on vc+jwt", []string{"data:application/vc+jwt;base64," + vc1}, CodeBadCredential, ""},
		{"SD-JWT credential", []string{"data:application/vc+sd-jwt," + vc1 + "~"}, CodeBadCredential, ""},
		{"garbage JWT", []string{jwtURL + "a.b.c"}, CodeBadCredential, CodeMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Signed by hand: IssuePresentation itself refuses some of these.
			token := signRaw(t, holder, `{"alg":"ES256","kid":"`+holder.KID()+`","typ":"vp+jwt","cty":"vp"}`, string(presentation(tt.ids...)))
			res, err := Verify(token, resolve, VerifyOptions{})
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !res.Presentation || res.Header.Typ != TypPresentation || res.Header.Cty != CtyPresentation {
					t.Errorf("result %+v", res.Header)
				}
				if len(res.Enveloped) != len(tt.ids) {
					t.Fatalf("%d enveloped credentials, want %d", len(res.Enveloped), len(tt.ids))
				}
				for i, env := range res.Enveloped {
					if env.Result == nil || env.Result.Header.KID != issuer.KID() {
						t.Errorf("enveloped %d not verified: %+v", i, env)
					}
				}
				return
			}
			wantCode(t, err, tt.code)
			var e *Error
			errors.As(err, &e)
			if got := CodeOf(e.Err); got != tt.inner {
				t.Errorf("inner code %q, want %q (%v)", got, tt.inner, err)
			}
		})
	}
}

func TestIssuePresentationChecksEnvelopes(t *testing.T) {
	holder := seededSigner(t, 0x11)
	for _, id := range []string{"urn:uuid:1", "data:application/vc+jwt;base64,eA", "data:application/vc+jwt"} {
		_, err := IssuePresentation(presentation(id), holder)
		wantCode(t, err, CodeBadCredential)
	}
	if _, err := IssuePresentation(presentation("data:application/vc+jwt,a.b.c"), holder); err != nil {
		t.Errorf("well-formed envelope refused: %v", err)
	}
}

func TestPresentationUnsecuredCredential(t *testing.T) {
	holder := seededSigner(t, 0x11)
	vp := `{"@context":["https://www.w3.org/ns/credentials/v2"],"type":"VerifiablePresentation","verifiableCredential":[` + minimalVC("") + `]}`
	token := signRaw(t, holder, `{"alg":"EdDSA","kid":"`+holder.KID()+`","typ":"vp+jwt"}`, vp)
	for _, skip := range []bool{false, true} {
		_, err := Verify(token, resolverFor(holder), VerifyOptions{SkipEnvelopedCredentials: skip})
		wantCode(t, err, CodeBadCredential)
	}
}

func TestSkipEnvelopedCredentials(t *testing.T) {
	holder := seededSigner(t, 0x11)
	token, err := IssuePresentation(presentation("data:application/vc+sd-jwt,abc~", "data:application/vc+jwt,x.y.z"), holder)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(token, resolverFor(holder), VerifyOptions{SkipEnvelopedCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Enveloped{{MediaType: "application/vc+sd-jwt", Data: "abc~"}, {MediaType: "application/vc+jwt", Data: "x.y.z"}}
	if len(res.Enveloped) != 2 || res.Enveloped[0] != want[0] || res.Enveloped[1] != want[1] {
		t.Errorf("enveloped %+v, want %+v", res.Enveloped, want)
	}
	_, err = Verify(token, resolverFor(holder), VerifyOptions{})
	wantCode(t, err, CodeBadCredential)
}

func TestCheckNoDuplicates(t *testing.T) {
	tests := []struct {
		doc string
		ok  bool
	}{
		{`{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}`, true},
		{`{"a":"b","b":"a"}`, true},
		{`{"a":1,"a":1}`, false},
		{`{"a":{"x":1,"y":{"x":2},"x":3}}`, false},
		{`[{"k":1,"k":2}]`, false},
		{`{"a":[1,2,{"b":[],"b":{}}]}`, false},
		{`{"a":1}{"a":1}`, false},
		{`{"a":1} x`, false},
		{``, false},
	}
	for _, tt := range tests {
		err := checkNoDuplicates([]byte(tt.doc))
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", tt.doc, err, tt.ok)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s := seededSigner(f, 0x11)
	token, err := Issue(credentialJSON(f), s)
	if err != nil {
		f.Fatal(err)
	}
	vp, err := IssuePresentation(presentation("data:application/vc+jwt,"+token), s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(token)
	f.Add(vp)
	f.Add(token[:len(token)-3])
	f.Add(signRaw(f, s, `{"alg":"none","typ":"vc+jwt"}`, minimalVC("")))
	f.Add("e30.e30.")
	f.Add("..")
	resolve := resolverFor(s)
	f.Fuzz(func(t *testing.T, token string) {
		res, err := Verify(token, resolve, VerifyOptions{Now: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if res.Header.KID != s.KID() || res.Credential == nil {
			t.Fatalf("verified token with header %+v", res.Header)
		}
	})
}

func BenchmarkIssueEdDSA(b *testing.B) {
	s := seededSigner(b, 0x11)
	cred := credentialJSON(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Issue(cred, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyEdDSA(b *testing.B) {
	s := seededSigner(b, 0x11)
	token, err := Issue(credentialJSON(b), s)
	if err != nil {
		b.Fatal(err)
	}
	resolve := resolverFor(s)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(token, resolve, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// IssueEncoded keeps every check of Issue but the duplicate-member walk.
func TestIssueEncodedChecksShape(t *testing.T) {
	s := seededSigner(t, 0x12)
	token, err := IssueEncoded([]byte(minimalVC("")), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(token, KeysResolver(keys.PublicKeyInfo{Key: s.Public()}), VerifyOptions{}); err != nil {
		t.Fatalf("IssueEncoded token does not verify: %v", err)
	}
	for _, doc := range []string{`[1]`, strings.Replace(minimalVC(""), `["VerifiableCredential"]`, `["X"]`, 1), minimalVC(`,"vc":{}`)} {
		if _, err := IssueEncoded([]byte(doc), s); CodeOf(err) != CodeBadCredential {
			t.Errorf("%s: err %v, want bad_credential", doc, err)
		}
	}
}
