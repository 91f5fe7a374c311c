package vccose

import (
	"bytes"
	"crypto"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/divoc/divoc/credential"
	"github.com/divoc/divoc/credential/vcjwt"
	"github.com/divoc/divoc/keys"
)

var now = time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)

func divocCredential(t testing.TB) []byte {
	t.Helper()
	v := credential.Vaccination{
		ID: "0N35330CQKB9BMQE", Issuer: "urn:divoc:authority:moh", IssuerName: "Ministry of Health and Family Welfare",
		IssuedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), StatusURL: "https://node.example/v1/certificates/0N35330CQKB9BMQE",
		Holder:     credential.Person{Name: "Asha Verma", Gender: "Female", DOB: "1980-02-01", Identity: "did:in.gov.uidai.aadhaar:123412341234"},
		Dose:       credential.Dose{Program: "C19", Vaccine: "Covishield", Batch: "4121Z025", Date: "2026-11-30", Dose: 1, TotalDoses: 2},
		Vaccinator: "Sooraj Singh", Facility: credential.Place{Name: "PHC Rampur"},
	}
	doc, err := v.Document()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func signer(t testing.TB, alg string) *keys.Signer {
	t.Helper()
	s, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func resolverFor(ss ...*keys.Signer) KeyResolver {
	var infos []keys.PublicKeyInfo
	for _, s := range ss {
		infos = append(infos, keys.PublicKeyInfo{Key: s.Public(), KID: s.KID()})
	}
	return vcjwt.KeysResolver(infos...)
}

func TestRoundTrip(t *testing.T) {
	doc := divocCredential(t)
	for _, alg := range []string{keys.AlgEdDSA, keys.AlgES256, keys.AlgES384, keys.AlgES512} {
		t.Run(alg, func(t *testing.T) {
			s := signer(t, alg)
			msg, err := Issue(doc, s)
			if err != nil {
				t.Fatal(err)
			}
			res, err := VerifyBase64(EncodeBase64(msg), resolverFor(s), VerifyOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Payload, doc) || res.Presentation || res.Header != (Header{Alg: alg, KID: s.KID(), Typ: TypCredential, Cty: CtyCredential}) {
				t.Fatalf("result %+v", res.Header)
			}
			back, err := credential.ParseDocument(res.Payload)
			if err != nil || back.Holder.Name != "Asha Verma" {
				t.Fatalf("%+v %v", back, err)
			}
			t.Logf("%s: %d-byte vc+cose", alg, len(msg))
		})
	}
}

func TestPresentationWithEnvelopedCredentials(t *testing.T) {
	issuer, holder := signer(t, keys.AlgES256), signer(t, keys.AlgEdDSA)
	doc := divocCredential(t)
	coseVC, err := Issue(doc, issuer)
	if err != nil {
		t.Fatal(err)
	}
	jwtVC, err := vcjwt.Issue(doc, issuer)
	if err != nil {
		t.Fatal(err)
	}
	vp := func(ids ...string) []byte {
		var creds []map[string]any
		for _, id := range ids {
			creds = append(creds, map[string]any{"@context": ContextV2, "type": TypeEnvelopedCredential, "id": id})
		}
		b, _ := json.Marshal(map[string]any{"@context": []string{ContextV2}, "type": TypePresentation, "holder": "did:example:holder", "verifiableCredential": creds})
		return b
	}
	coseURL := "data:application/vc+cose;base64," + EncodeBase64(coseVC)
	jwtURL := "data:application/vc+jwt," + jwtVC
	msg, err := IssuePresentation(vp(coseURL, jwtURL), holder)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(msg, resolverFor(issuer, holder), VerifyOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Presentation || len(res.Enveloped) != 2 || res.Enveloped[0].COSE == nil || res.Enveloped[1].JWT == nil {
		t.Fatalf("%+v", res.Enveloped)
	}

	// The holder's key alone cannot verify the issuer's credentials.
	if _, err := Verify(msg, resolverFor(holder), VerifyOptions{}); CodeOf(err) != CodeBadCredential {
		t.Errorf("without the issuer's key: %v", err)
	}
	// A presentation inside a presentation is not a credential.
	inner, _ := IssuePresentation(vp(coseURL), holder)
	outer, _ := IssuePresentation(vp("data:application/vc+cose;base64,"+EncodeBase64(inner)), holder)
	if _, err := Verify(outer, resolverFor(issuer, holder), VerifyOptions{}); CodeOf(err) != CodeBadCredential || !strings.Contains(err.Error(), "bad_media_type") {
		t.Errorf("nested presentation: %v", err)
	}
	for name, id := range map[string]string{
		"vc+cose without base64": "data:application/vc+cose," + EncodeBase64(coseVC),
		"vc+jwt as base64":       "data:application/vc+jwt;base64," + jwtVC,
		"vc+sd-jwt":              "data:application/vc+sd-jwt,abc",
		"not a data URL":         "https://example.com/vc",
	} {
		m, err := IssuePresentation(vp(id), holder)
		if err == nil {
			_, err = Verify(m, resolverFor(issuer, holder), VerifyOptions{})
		}
		if CodeOf(err) != CodeBadCredential {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// build makes a COSE_Sign1 by hand: any protected header, signed with s
// over the RFC 9052 Sig_structure.
func build(t testing.TB, s *keys.Signer, protected map[int]any, unprotected map[int]any, payload []byte, tagged bool) []byte {
	t.Helper()
	em, _ := cbor.CoreDetEncOptions().EncMode()
	ph, err := em.Marshal(protected)
	if err != nil {
		t.Fatal(err)
	}
	tbs, err := em.Marshal([]any{"Signature1", ph, []byte{}, payload})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(tbs)
	if err != nil {
		t.Fatal(err)
	}
	if unprotected == nil {
		unprotected = map[int]any{}
	}
	var msg any = []any{ph, unprotected, payload, sig}
	if tagged {
		msg = cbor.Tag{Number: 18, Content: msg}
	}
	out, err := em.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRefusals(t *testing.T) {
	s := signer(t, keys.AlgES256)
	resolve := resolverFor(s)
	doc := divocCredential(t)
	kid := []byte(s.KID())
	hdr := func(kv ...any) map[int]any {
		m := map[int]any{1: -7, 3: CtyCredential, 4: kid, 16: TypCredential}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(int))
			} else {
				m[kv[i].(int)] = kv[i+1]
			}
		}
		return m
	}
	expired := bytes.Replace(doc, []byte(`"validFrom"`), []byte(`"validUntil":"2026-01-01T00:00:00Z","validFrom"`), 1)
	future := bytes.Replace(doc, []byte(`"validFrom":"2026-12-01T10:00:00Z"`), []byte(`"validFrom":"2027-12-01T10:00:00Z"`), 1)
	dup := bytes.Replace(doc, []byte(`{"@context"`), []byte(`{"id":"x","@context"`), 1)
	other := signer(t, keys.AlgES256)
	sameKID := func(string) ([]crypto.PublicKey, error) { return []crypto.PublicKey{other.Public()}, nil }

	tests := []struct {
		name    string
		msg     []byte
		resolve KeyResolver
		now     time.Time
		code    Code // "" = verifies
	}{
		{"well formed", build(t, s, hdr(), nil, doc, true), resolve, now, ""},
		{"untagged", build(t, s, hdr(), nil, doc, false), resolve, now, ""},
		{"kid in the unprotected header", build(t, s, hdr(4, nil), map[int]any{4: kid}, doc, true), resolve, now, ""},
		{"no cty", build(t, s, hdr(3, nil), nil, doc, true), resolve, now, ""},
		{"no typ", build(t, s, hdr(16, nil), nil, doc, true), resolve, now, CodeBadMediaType},
		{"typ vp for a credential", build(t, s, hdr(16, TypPresentation, 3, CtyPresentation), nil, doc, true), resolve, now, CodeBadCredential},
		{"cty does not fit", build(t, s, hdr(3, CtyPresentation), nil, doc, true), resolve, now, CodeBadMediaType},
		{"typ as a number", build(t, s, hdr(16, 11), nil, doc, true), resolve, now, CodeBadMediaType},
		{"typ vc+jwt", build(t, s, hdr(16, "application/vc+jwt"), nil, doc, true), resolve, now, CodeBadMediaType},
		{"alg ES384 with a P-256 key", build(t, s, hdr(1, -35), nil, doc, true), resolve, now, CodeAlgNotAllowed},
		{"alg HMAC", build(t, s, hdr(1, 5), nil, doc, true), resolve, now, CodeAlgNotAllowed},
		{"alg RS256", build(t, s, hdr(1, -257), nil, doc, true), resolve, now, CodeAlgNotAllowed},
		{"no alg", build(t, s, hdr(1, nil), nil, doc, true), resolve, now, CodeAlgNotAllowed},
		{"alg only unprotected", build(t, s, hdr(1, nil), map[int]any{1: -7}, doc, true), resolve, now, CodeAlgNotAllowed},
		{"crit", build(t, s, hdr(2, []int{99}, 99, 1), nil, doc, true), resolve, now, CodeUnsupportedCrit},
		{"no kid", build(t, s, hdr(4, nil), nil, doc, true), resolve, now, CodeUnknownKID},
		{"unknown kid", build(t, s, hdr(4, []byte("nobody")), nil, doc, true), resolve, now, CodeUnknownKID},
		{"kid as text", build(t, s, hdr(4, s.KID()), nil, doc, true), resolve, now, CodeMalformed},
		{"other key, same kid", build(t, s, hdr(), nil, doc, true), sameKID, now, CodeBadSignature},
		{"no resolver", build(t, s, hdr(), nil, doc, true), nil, now, CodeUnknownKID},
		{"tampered payload", bytes.Replace(build(t, s, hdr(), nil, doc, true), []byte("Asha"), []byte("Usha"), 1), resolve, now, CodeBadSignature},
		{"duplicate member", build(t, s, hdr(), nil, dup, true), resolve, now, CodeMalformed},
		{"payload not JSON", build(t, s, hdr(), nil, []byte("hello"), true), resolve, now, CodeMalformed},
		{"not a VC", build(t, s, hdr(), nil, []byte(`{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["Other"]}`), true), resolve, now, CodeBadCredential},
		{"expired", build(t, s, hdr(), nil, expired, true), resolve, now, CodeExpired},
		{"not yet valid", build(t, s, hdr(), nil, future, true), resolve, now, CodeNotYetValid},
		{"not yet valid, no clock", build(t, s, hdr(), nil, future, true), resolve, time.Time{}, ""},
		{"trailing byte", append(build(t, s, hdr(), nil, doc, true), 0), resolve, now, CodeMalformed},
		{"truncated", build(t, s, hdr(), nil, doc, true)[:100], resolve, now, CodeMalformed},
		{"empty", nil, resolve, now, CodeMalformed},
		{"too large", make([]byte, MaxMessageBytes+1), resolve, now, CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.msg, tt.resolve, VerifyOptions{Now: tt.now})
			if CodeOf(err) != tt.code {
				t.Fatalf("got %v, want code %q", err, tt.code)
			}
			if err != nil {
				t.Logf("%v", err)
			}
		})
	}
	for name, text := range map[string]string{"URL-safe": "0oRY_-", "inner space": "0oRY VqQB", "hex": "d2845856"} {
		if _, err := DecodeBase64(text); name != "hex" && CodeOf(err) != CodeMalformed {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestIssueRefuses(t *testing.T) {
	s := signer(t, keys.AlgES256)
	for name, doc := range map[string]string{
		"not JSON":           "nope",
		"no v2 context":      `{"@context":["https://www.w3.org/2018/credentials/v1"],"type":["VerifiableCredential"],"issuer":"x","credentialSubject":{}}`,
		"no issuer":          `{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"],"credentialSubject":{}}`,
		"duplicate member":   `{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"],"issuer":"x","issuer":"y","credentialSubject":{}}`,
		"bad validFrom":      `{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"],"issuer":"x","credentialSubject":{},"validFrom":"yesterday"}`,
		"deeply nested JSON": `{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"],"issuer":"x","credentialSubject":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	} {
		if _, err := Issue([]byte(doc), s); CodeOf(err) != CodeBadCredential {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := IssuePresentation([]byte(`{"@context":["https://www.w3.org/ns/credentials/v2"],"type":"VerifiablePresentation","verifiableCredential":[{"type":"VerifiableCredential"}]}`), s); CodeOf(err) != CodeBadCredential {
		t.Errorf("presentation with a bare credential: %v", err)
	}
	if _, err := Issue(divocCredential(t), nil); err == nil {
		t.Error("nil signer")
	}
}

func FuzzVerify(f *testing.F) {
	s := signer(f, keys.AlgES256)
	doc := divocCredential(f)
	msg, err := Issue(doc, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Add(msg[1:])
	vp := []byte(`{"@context":["https://www.w3.org/ns/credentials/v2"],"type":"VerifiablePresentation","verifiableCredential":[{"@context":"https://www.w3.org/ns/credentials/v2","type":"EnvelopedVerifiableCredential","id":"data:application/vc+cose;base64,` + EncodeBase64(msg) + `"}]}`)
	pres, err := IssuePresentation(vp, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pres)
	resolve := resolverFor(s)
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Verify(b, resolve, VerifyOptions{Now: now})
		if err != nil && CodeOf(err) == "" {
			t.Fatalf("error without a code: %v", err)
		}
		if err == nil && res == nil {
			t.Fatal("nil result without an error")
		}
		_, _ = VerifyBase64(string(b), resolve, VerifyOptions{})
	})
}
