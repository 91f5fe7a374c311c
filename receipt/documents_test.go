package receipt_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/receipt"
)

// trustList builds the trust list at height h the way the node does.
func (c *testChain) trustList(h int64, kids []string, authorities []string, formatKeys ...string) *receipt.TrustList {
	c.t.Helper()
	tl := &receipt.TrustList{Type: receipt.TypeTrustList, ChainID: c.chainID, Height: h, Attestation: c.attest(h, nil)}
	for _, k := range formatKeys {
		tl.FormatKeys = append(tl.FormatKeys, c.entry(h, k))
	}
	auth := map[string]*receipt.LedgerAuthority{}
	for _, id := range authorities {
		e := c.entry(h, receipt.AuthorityPrefix+id)
		tl.Authorities = append(tl.Authorities, e)
		var a receipt.LedgerAuthority
		_ = json.Unmarshal(e.Value, &a)
		auth[id] = &a
	}
	var infos []keys.PublicKeyInfo
	for _, kid := range kids {
		e := c.entry(h, receipt.KeyPrefix+kid)
		tl.Keys = append(tl.Keys, e)
		var k receipt.LedgerKey
		_ = json.Unmarshal(e.Value, &k)
		info, err := k.PublicKeyInfo(receipt.KeyStatus(k, auth[strings.TrimPrefix(k.Owner, "authority/")]))
		if err != nil {
			c.t.Fatal(err)
		}
		infos = append(infos, info)
	}
	jwks, err := keys.PublicJWKSet(infos...)
	if err != nil {
		c.t.Fatal(err)
	}
	tl.JWKS = jwks
	return tl
}

func (c *testChain) addKey(owner string, validUntil int64) string {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	kid := app.Ed25519KID(pub)
	c.set(receipt.KeyPrefix+kid, app.Key{Alg: "EdDSA", KID: kid, Owner: owner, Public: base64.RawURLEncoding.EncodeToString(pub), Role: app.RoleIssuer, ValidFrom: 1, ValidUntil: validUntil})
	return kid
}

func TestTrustList(t *testing.T) {
	c := newTestChain(t)
	c.set(app.PrefixAuthorities+"moh", app.Authority{ID: "moh", Name: "Ministry", Roles: []string{app.RoleGovernance, app.RoleIssuer}, Status: app.StatusActive})
	c.set(app.PrefixAuthorities+"gone", app.Authority{ID: "gone", Name: "Former", Roles: []string{app.RoleIssuer}, Status: app.StatusSuspended})
	active := c.addKey("authority/moh", 0)
	retired := c.addKey("authority/moh", 9)
	suspended := c.addKey("authority/gone", 0)
	dcc := app.FormatKeyKey(app.FormatDCC, "AAECAwQFBgc=")
	c.set(dcc, app.FormatKey{Authority: "moh", Format: app.FormatDCC, KID: "AAECAwQFBgc=", Public: "MIIB", ValidFrom: 1})
	h := c.commit()

	doc := c.trustList(h, []string{active, retired, suspended}, []string{"moh", "gone"}, dcc)
	b, _ := json.Marshal(doc)
	back, err := receipt.ParseTrustList(b)
	if err != nil {
		t.Fatal(err)
	}
	res, err := receipt.VerifyTrustList(back, c.trust(), policyAt(h))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, k := range res.Keys {
		status[k.KID] = k.Status
	}
	if status[active] != "active" || status[retired] != "retired" || status[suspended] != "suspended" {
		t.Fatalf("statuses %v", status)
	}
	if n := len(res.Issuers()); n != 2 {
		t.Fatalf("%d usable issuer keys, want 2", n)
	}
	if len(res.FormatKeys) != 1 || res.FormatKeys[0].Status != "active" || res.FormatKeys[0].Authority != "moh" || len(res.DCCSigners()) != 1 {
		t.Fatalf("format keys %+v", res.FormatKeys)
	}
	tampered0 := *back
	tampered0.FormatKeys = []receipt.Entry{back.FormatKeys[0]}
	tampered0.FormatKeys[0].Key = app.FormatKeyKey(app.FormatSHC, "AAECAwQFBgc=")
	_, err = receipt.VerifyTrustList(&tampered0, c.trust(), policyAt(h))
	wantCode(t, "a dcc certificate shown as a health cards key", err, receipt.CodeEntryProof)

	// The JWKS must say what the entries prove.
	tampered := *back
	tampered.JWKS = []byte(strings.Replace(string(back.JWKS), `"divoc:status":"suspended"`, `"divoc:status":"active"`, 1))
	_, err = receipt.VerifyTrustList(&tampered, c.trust(), policyAt(h))
	wantCode(t, "a suspended key shown active", err, receipt.CodeEntryMismatch)
	other := c.trustList(h, []string{active}, []string{"moh"})
	tampered = *back
	tampered.JWKS = other.JWKS
	_, err = receipt.VerifyTrustList(&tampered, c.trust(), policyAt(h))
	wantCode(t, "keys left out of the JWKS", err, receipt.CodeEntryMismatch)
	// An entry's value altered.
	tampered = *back
	tampered.Keys = append([]receipt.Entry(nil), back.Keys...)
	tampered.Keys[0].Proof.GetExist().Value[3] ^= 1
	_, err = receipt.VerifyTrustList(&tampered, c.trust(), policyAt(h))
	if err == nil {
		t.Error("an altered key entry verifies")
	}
	// Against a stranger's validators.
	stranger := *receipt.NewTrust(c.chainID, valSet(valKeys("e", "f", "g", "h"), 10), 1, "")
	_, err = receipt.VerifyTrustList(back, stranger, policyAt(h))
	wantCode(t, "other validators", err, receipt.CodeUntrustedValidators)
}

// snapshot builds the revocation snapshot at height h the way the node does.
func (c *testChain) snapshot(h int64, revoked, superseded []string) *receipt.RevocationSnapshot {
	return &receipt.RevocationSnapshot{Type: receipt.TypeRevocationSnapshot, ChainID: c.chainID, Height: h, Encoding: receipt.EncodingCrockford80,
		Revoked: receipt.NewIDList(revoked), Superseded: receipt.NewIDList(superseded), Totals: c.entry(h, receipt.TotalsKey), Attestation: c.attest(h, nil)}
}

func TestRevocationSnapshot(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(10)
	c.revoke("", ids[1], ids[5])
	c.revoke(ids[9], ids[7])
	c.revoke("", "legacy-id-01") // not a Crockford id: listed as a string
	h := c.height()
	doc := c.snapshot(h, []string{ids[5], ids[1], "legacy-id-01"}, []string{ids[7]})
	b, _ := json.Marshal(doc)
	back, err := receipt.ParseRevocationSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	list, err := receipt.VerifyRevocationSnapshot(back, c.trust(), policyAt(h))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{ids[1]: "revoked", ids[5]: "revoked", "legacy-id-01": "revoked", ids[7]: "superseded", ids[0]: "active", ids[9]: "active"} {
		if got := list.Status(id); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	if got := back.Revoked.IDs(); len(got) != 3 {
		t.Errorf("ids %v", got)
	}
	// Leaving a revoked id out is caught by the count.
	short := c.snapshot(h, []string{ids[1], "legacy-id-01"}, []string{ids[7]})
	_, err = receipt.VerifyRevocationSnapshot(short, c.trust(), policyAt(h))
	wantCode(t, "a revocation left out", err, receipt.CodeEntryMismatch)
	// Unsorted packed ids are refused.
	bad := c.snapshot(h, []string{ids[1], ids[5], "legacy-id-01"}, []string{ids[7]})
	p := bad.Revoked.Packed
	copy(p[:10], append(append([]byte(nil), p[10:20]...), p[:10]...))
	_, err = receipt.VerifyRevocationSnapshot(bad, c.trust(), policyAt(h))
	wantCode(t, "unsorted", err, receipt.CodeMalformed)
	// The totals proof is checked.
	bad = c.snapshot(h, []string{ids[1], ids[5], "legacy-id-01"}, []string{ids[7]})
	bad.Totals.Proof.GetExist().Path[0].Prefix[1] ^= 1
	_, err = receipt.VerifyRevocationSnapshot(bad, c.trust(), policyAt(h))
	wantCode(t, "totals proof", err, receipt.CodeEntryProof)
}

// The size target: 10 million certificates with 1% revoked is 100,000
// revoked ids; the snapshot must stay under 2 MB.
func TestRevocationSnapshotSize(t *testing.T) {
	const certificates, revokedShare = 10_000_000, 100 // 1 in 100
	n := certificates / revokedShare
	enc := base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)
	ids := make([]string, n)
	for i := range ids {
		b := make([]byte, 10)
		_, _ = rand.Read(b)
		ids[i] = enc.EncodeToString(b)
	}
	c := newTestChain(t)
	recs := c.record(1)
	c.revoke("", recs[0])
	doc := c.snapshot(c.height(), ids, nil)
	size := doc.Size()
	list := receipt.NewIDList(ids)
	t.Logf("%d revoked ids: %d bytes packed, snapshot document %d bytes (%.2f MB)", n, len(list.Packed), size, float64(size)/1e6)
	if size >= 2_000_000 {
		t.Fatalf("snapshot is %d bytes, the target is under 2 MB", size)
	}
	for _, id := range ids[:1000] {
		if !list.Contains(id) {
			t.Fatalf("%s not found", id)
		}
	}
}
