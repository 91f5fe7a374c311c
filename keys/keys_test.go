package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, ed25519.SeedSize) }

// must turns a (signer, error) result into the signer, failing the test on error:
// must(t)(Generate(AlgEdDSA)).
func must(t testing.TB) func(*Signer, error) *Signer {
	return func(s *Signer, err error) *Signer {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		alg     string
		sigLen  int
		keyType any
	}{
		{AlgEdDSA, ed25519.SignatureSize, ed25519.PublicKey(nil)},
		{AlgES256, 64, (*ecdsa.PublicKey)(nil)},
		{AlgES384, 96, (*ecdsa.PublicKey)(nil)},
		{AlgES512, 132, (*ecdsa.PublicKey)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			s := must(t)(Generate(tt.alg))
			if s.Alg() != tt.alg {
				t.Errorf("Alg() = %q, want %q", s.Alg(), tt.alg)
			}
			kid, err := KIDOf(s.Public())
			if err != nil || s.KID() != kid {
				t.Errorf("KID() = %q, KIDOf = %q, %v", s.KID(), kid, err)
			}
			sig, err := s.Sign([]byte("hello"))
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != tt.sigLen {
				t.Errorf("signature length %d, want %d", len(sig), tt.sigLen)
			}
			if !verifyRaw(t, s.Public(), s.Alg(), []byte("hello"), sig) {
				t.Error("signature does not verify")
			}
			if verifyRaw(t, s.Public(), s.Alg(), []byte("hellO"), sig) {
				t.Error("signature verifies for another message")
			}
		})
	}
}

func TestGenerateRejectsOtherAlgorithms(t *testing.T) {
	for _, alg := range []string{"", "none", "HS256", "RS256", "ES256K", "eddsa"} {
		if _, err := Generate(alg); err == nil {
			t.Errorf("Generate(%q) succeeded", alg)
		}
	}
}

// verifyRaw checks a raw JOSE signature with the standard library only.
func verifyRaw(t *testing.T, pub crypto.PublicKey, alg string, msg, sig []byte) bool {
	t.Helper()
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	case *ecdsa.PublicKey:
		n := len(sig) / 2
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		var digest []byte
		switch alg {
		case AlgES256:
			d := sha256.Sum256(msg)
			digest = d[:]
		case AlgES384:
			d := sha512.Sum384(msg)
			digest = d[:]
		case AlgES512:
			d := sha512.Sum512(msg)
			digest = d[:]
		}
		return ecdsa.Verify(k, digest, r, s)
	}
	t.Fatalf("unexpected key type %T", pub)
	return false
}

// TestSignMatchesJOSE checks that Sign produces what a JWS verifier expects:
// a signature over the JWS signing input checked by jwx.
func TestSignMatchesJOSE(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256} {
		t.Run(alg, func(t *testing.T) {
			s := must(t)(Generate(alg))
			header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `"}`))
			payload := base64.RawURLEncoding.EncodeToString([]byte(`{"hello":"world"}`))
			sig, err := s.Sign([]byte(header + "." + payload))
			if err != nil {
				t.Fatal(err)
			}
			token := header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig)
			jalg, _ := jwa.LookupSignatureAlgorithm(alg)
			got, err := jws.Verify([]byte(token), jws.WithKey(jalg, s.PublicJWK()))
			if err != nil {
				t.Fatalf("jws.Verify: %v", err)
			}
			if string(got) != `{"hello":"world"}` {
				t.Errorf("payload %q", got)
			}
		})
	}
}

func TestGenerateEd25519FromSeedIsDeterministic(t *testing.T) {
	a := must(t)(GenerateEd25519FromSeed(seed(7)))
	b := must(t)(GenerateEd25519FromSeed(seed(7)))
	c := must(t)(GenerateEd25519FromSeed(seed(8)))
	if a.KID() != b.KID() {
		t.Errorf("same seed, different kids: %s %s", a.KID(), b.KID())
	}
	if a.KID() == c.KID() {
		t.Error("different seeds, same kid")
	}
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := GenerateEd25519FromSeed(make([]byte, n)); err == nil {
			t.Errorf("seed of %d bytes accepted", n)
		}
	}
}

// TestEd25519KIDMatchesJWX pins the hand-built formula (which another package
// re-implements) to jwx's RFC 7638 thumbprint.
func TestEd25519KIDMatchesJWX(t *testing.T) {
	for i := 0; i < 50; i++ {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key, err := jwk.Import(pub)
		if err != nil {
			t.Fatal(err)
		}
		tp, err := key.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		want := base64.RawURLEncoding.EncodeToString(tp)
		if got := Ed25519KID(pub); got != want {
			t.Fatalf("Ed25519KID = %s, jwx thumbprint = %s", got, want)
		}
	}
}

// TestEd25519KIDKnownAnswer: RFC 8037 appendix A.3 gives the thumbprint of
// its example Ed25519 key.
func TestEd25519KIDKnownAnswer(t *testing.T) {
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Ed25519KID(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("Ed25519KID = %s, want %s (RFC 8037 A.3)", got, want)
	}
}

func TestJWKs(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256} {
		t.Run(alg, func(t *testing.T) {
			s := must(t)(Generate(alg))
			for name, key := range map[string]jwk.Key{"private": s.PrivateJWK(), "public": s.PublicJWK()} {
				kid, _ := key.KeyID()
				a, _ := key.Algorithm()
				if kid != s.KID() || a == nil || a.String() != alg {
					t.Errorf("%s JWK: kid %q alg %v, want %q %q", name, kid, a, s.KID(), alg)
				}
				private, err := jwk.IsPrivateKey(key)
				if err != nil || private != (name == "private") {
					t.Errorf("%s JWK: IsPrivateKey = %v, %v", name, private, err)
				}
			}
			// PrivateJWK hands out copies: changing one must not change the signer.
			k := s.PrivateJWK()
			if err := k.Set(jwk.KeyIDKey, "changed"); err != nil {
				t.Fatal(err)
			}
			if kid, _ := s.PrivateJWK().KeyID(); kid != s.KID() {
				t.Errorf("signer's JWK changed through a returned copy: kid %q", kid)
			}
		})
	}
}

func TestFromJWKRoundTrip(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256, AlgES384, AlgES512} {
		s := must(t)(Generate(alg))
		back, err := FromJWK(s.PrivateJWK())
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if back.KID() != s.KID() || back.Alg() != s.Alg() {
			t.Errorf("%s: round trip gave kid %s alg %s", alg, back.KID(), back.Alg())
		}
	}
}

func TestNewSignerRejectsMismatchedECDSAKey(t *testing.T) {
	a, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bad := &ecdsa.PrivateKey{PublicKey: b.PublicKey, D: a.D}
	if _, err := NewSigner(bad); err == nil {
		t.Error("ECDSA key whose public point does not match its scalar accepted")
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if _, err := NewSigner(p224); err == nil {
		t.Error("P-224 key accepted")
	}
}

func TestSaveLoad(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256} {
		t.Run(alg, func(t *testing.T) {
			s := must(t)(Generate(alg))
			path := filepath.Join(t.TempDir(), "nested", "dir", "issuer.key.json")
			if err := Save(path, s, "authority-1", "issuer"); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
			kf, err := ReadKeyFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if kf.Signer.KID() != s.KID() || kf.Signer.Alg() != alg || kf.Owner != "authority-1" || kf.Role != "issuer" {
				t.Errorf("loaded %s %s %q %q", kf.Signer.KID(), kf.Signer.Alg(), kf.Owner, kf.Role)
			}
			loaded, err := Load(path)
			if err != nil || loaded.KID() != s.KID() {
				t.Fatalf("Load: %v", err)
			}
			sig, err := loaded.Sign([]byte("m"))
			if err != nil || !verifyRaw(t, s.Public(), alg, []byte("m"), sig) {
				t.Errorf("loaded key does not sign for the saved public key: %v", err)
			}
			if err := Save(path, s, "authority-1", "issuer"); err == nil {
				t.Error("Save overwrote an existing key file")
			}
		})
	}
}

// TestLoadTestdata reads the checked-in key files (see testdata/README.md).
func TestLoadTestdata(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string // substring; empty means the file must load
		kid     string
	}{
		{file: "ed25519.key.json", kid: "UDDReOZl1ipXAfp9wYsm13sDBMK5og--QWdBjzuf6o4"},
		{file: "p256.key.json"},
		{file: "bad-json.key.json", wantErr: "not a JSON object"},
		{file: "rsa.key.json", wantErr: `unsupported key type kty="RSA"`},
		{file: "symmetric.key.json", wantErr: `unsupported key type kty="oct"`},
		{file: "public-only.key.json", wantErr: "no private key"},
		{file: "kid-mismatch.key.json", wantErr: "does not match the key"},
		{file: "x-mismatch.key.json", wantErr: "invalid x value given d value"},
		{file: "missing.key.json", wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Load(filepath.Join("testdata", tt.file))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.kid != "" && s.KID() != tt.kid {
					t.Errorf("kid %s, want %s", s.KID(), tt.kid)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestSeededKeyFileIsStable(t *testing.T) {
	s := must(t)(GenerateEd25519FromSeed(seed(1)))
	kf, err := ReadKeyFile(filepath.Join("testdata", "ed25519.key.json"))
	if err != nil {
		t.Fatal(err)
	}
	if kf.Signer.KID() != s.KID() || kf.Owner != "authority-1" || kf.Role != "issuer" {
		t.Errorf("testdata key %s (%s/%s) differs from seed 0x01 key %s", kf.Signer.KID(), kf.Owner, kf.Role, s.KID())
	}
}

func TestPublicJWKSetRoundTrip(t *testing.T) {
	ed := must(t)(GenerateEd25519FromSeed(seed(1)))
	ec := must(t)(Generate(AlgES256))
	in := []PublicKeyInfo{
		{Key: ed.Public(), Owner: "authority-1", Role: "issuer", ValidFromHeight: 10, ValidUntilHeight: 20, Status: "retired"},
		{Key: ec.Public()},
	}
	doc, err := PublicJWKSet(in...)
	if err != nil {
		t.Fatal(err)
	}
	// The document is a plain JWKS that jwx can read.
	set, err := jwk.Parse(doc)
	if err != nil || set.Len() != 2 {
		t.Fatalf("jwk.Parse: %v", err)
	}
	if bytes.Contains(doc, []byte(`"d"`)) {
		t.Error("JWKS contains private key material")
	}
	out, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("%d keys back", len(out))
	}
	want0 := PublicKeyInfo{Key: ed.Public(), KID: ed.KID(), Alg: AlgEdDSA, Owner: "authority-1", Role: "issuer", ValidFromHeight: 10, ValidUntilHeight: 20, Status: "retired"}
	if !sameInfo(out[0], want0) {
		t.Errorf("key 0 = %+v, want %+v", out[0], want0)
	}
	want1 := PublicKeyInfo{Key: ec.Public(), KID: ec.KID(), Alg: AlgES256}
	if !sameInfo(out[1], want1) {
		t.Errorf("key 1 = %+v, want %+v", out[1], want1)
	}
	// Zero heights and empty strings are left out of the document.
	var raw struct{ Keys []map[string]any }
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{MemberOwner, MemberRole, MemberStatus, MemberValidFromHeight, MemberValidUntilHeight} {
		if _, ok := raw.Keys[1][m]; ok {
			t.Errorf("key without metadata has %q", m)
		}
		if _, ok := raw.Keys[0][m]; !ok {
			t.Errorf("key with metadata lacks %q", m)
		}
	}
}

func sameInfo(a, b PublicKeyInfo) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ka, ok := a.Key.(equaler)
	if !ok || !ka.Equal(b.Key) {
		return false
	}
	a.Key, b.Key = nil, nil
	return a == b
}

func TestPublicJWKSetRejects(t *testing.T) {
	ed := must(t)(Generate(AlgEdDSA))
	rsaLike := []byte("not a key")
	tests := []struct {
		name string
		info PublicKeyInfo
	}{
		{"wrong kid", PublicKeyInfo{Key: ed.Public(), KID: "other"}},
		{"wrong alg", PublicKeyInfo{Key: ed.Public(), Alg: AlgES256}},
		{"negative height", PublicKeyInfo{Key: ed.Public(), ValidUntilHeight: -1}},
		{"unsupported key", PublicKeyInfo{Key: rsaLike}},
		{"nil key", PublicKeyInfo{}},
	}
	for _, tt := range tests {
		if _, err := PublicJWKSet(tt.info); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestParseJWKSTestdata(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "trust-list.jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 {
		t.Fatalf("%d keys, want 3", len(infos))
	}
	first := infos[0]
	if first.KID != must(t)(GenerateEd25519FromSeed(seed(1))).KID() || first.Status != "retired" || first.ValidFromHeight != 1 || first.ValidUntilHeight != 5000 {
		t.Errorf("first key %+v", first)
	}
	if infos[2].Alg != AlgES256 || infos[2].Owner != "facility-42" || infos[2].Role != "facility" {
		t.Errorf("third key %+v", infos[2])
	}
}

func TestParseJWKSRejects(t *testing.T) {
	ed := must(t)(GenerateEd25519FromSeed(seed(1)))
	x := base64.RawURLEncoding.EncodeToString(ed.Public().(ed25519.PublicKey))
	entry := func(extra string) string {
		return `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"` + extra + `}]}`
	}
	tests := []struct {
		name, doc, wantErr string
	}{
		{"not JSON", `{"keys":`, "not a JSON object"},
		{"no keys", `{"other":[]}`, `no "keys" array`},
		{"trailing data", entry("") + `{}`, "data after"},
		{"private key", entry(`,"d":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"`), "private key material"},
		{"wrong kid", entry(`,"kid":"abc"`), "not the key's RFC 7638 thumbprint"},
		{"wrong alg", entry(`,"alg":"ES256"`), "does not fit"},
		{"height as string", entry(`,"divoc:validFromHeight":"7"`), "metadata"},
		{"fractional height", entry(`,"divoc:validUntilHeight":7.5`), "metadata"},
		{"negative height", entry(`,"divoc:validUntilHeight":-2`), "negative"},
		{"symmetric key", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, "unsupported key type"},
		{"X25519 key", `{"keys":[{"kty":"OKP","crv":"X25519","x":"` + x + `"}]}`, "unsupported key type"},
		{"entry not an object", `{"keys":[42]}`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJWKS([]byte(tt.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	// Same entry without the bad member is fine: the cases above fail for their own reason.
	if _, err := ParseJWKS([]byte(entry(`,"kid":"` + ed.KID() + `","alg":"EdDSA","divoc:validFromHeight":7`))); err != nil {
		t.Errorf("valid entry rejected: %v", err)
	}
}

func FuzzParseJWKS(f *testing.F) {
	if doc, err := os.ReadFile(filepath.Join("testdata", "trust-list.jwks.json")); err == nil {
		f.Add(doc)
	}
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		infos, err := ParseJWKS(data)
		if err != nil {
			return
		}
		// Whatever parses must render back to a document that parses the same.
		doc, err := PublicJWKSet(infos...)
		if err != nil {
			t.Fatalf("parsed keys do not render: %v", err)
		}
		again, err := ParseJWKS(doc)
		if err != nil || len(again) != len(infos) {
			t.Fatalf("re-parse: %d keys, %v", len(again), err)
		}
	})
}

func FuzzParseKeyFile(f *testing.F) {
	for _, name := range []string{"ed25519.key.json", "p256.key.json", "rsa.key.json", "x-mismatch.key.json"} {
		if data, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := ParseKeyFile(data)
		if err != nil {
			return
		}
		// A key that loads must sign and verify.
		sig, err := kf.Signer.Sign([]byte("fuzz"))
		if err != nil {
			t.Fatal(err)
		}
		if !verifyRaw(t, kf.Signer.Public(), kf.Signer.Alg(), []byte("fuzz"), sig) {
			t.Fatal("loaded key does not verify its own signature")
		}
	})
}
