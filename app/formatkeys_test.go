package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func selfSigned(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "DSC", Country: []string{"IN"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// An authority's DCC document signer and SMART Health Cards key are on the
// ledger with the kids verifiers look them up by.
func TestFormatKeysRegistered(t *testing.T) {
	dscKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	shcKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der := selfSigned(t, dscKey)
	pkixDER, _ := x509.MarshalPKIXPublicKey(&shcKey.PublicKey)
	dcc, err := NewDCCKey("moh", der)
	if err != nil {
		t.Fatal(err)
	}
	shc, err := NewSHCKey("moh", pkixDER)
	if err != nil {
		t.Fatal(err)
	}
	tc := newTestChainWith(t, func(g *Genesis) { g.Authorities[0].FormatKeys = []FormatKey{dcc} })
	if got := tc.app.Committed().FormatKeys(FormatDCC); len(got) != 1 || got[0].KID != dcc.KID || len(dcc.KID) != 12 {
		t.Fatalf("dcc keys: %+v (kid %q)", got, dcc.KID)
	}
	// Later, by governance.
	a := tc.genesis.Authorities[0].Authority
	tc.govern(KindRegisterAuthority, RegisterAuthorityStatement{Authority: a, FormatKeys: []FormatKey{shc}, Keys: []KeySpec{}, Retire: []string{}})
	got := tc.app.Committed().FormatKeys(FormatSHC)
	if len(got) != 1 || got[0].KID != shc.KID || got[0].ValidFrom != tc.height {
		t.Fatalf("shc keys: %+v", got)
	}
	if pub, err := got[0].ECDSA(); err != nil || !pub.Equal(&shcKey.PublicKey) {
		t.Fatalf("shc key does not read back: %v", err)
	}
	// A DCC key that is not a certificate, or an RSA-1024 one, is refused.
	bad := FormatKey{Authority: "moh", Format: FormatDCC, Public: b64.EncodeToString([]byte("junk"))}
	r := tc.block(tc.tx(KindRegisterAuthority, tc.part(TypRegisterAuthority, tc.gov, RegisterAuthorityStatement{Authority: a, FormatKeys: []FormatKey{bad}, Keys: []KeySpec{}, Retire: []string{}})))[0]
	if r.Code != CodeInvalidRegistry {
		t.Fatalf("junk dcc key: %s %s", r.Code, r.Reason)
	}
}
