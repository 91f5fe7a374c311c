package receipt

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/divoc/divoc/keys"
)

// TrustList is the ledger's issuer keys as one document: a JWKS (each key
// with its owner, role, validity window in heights and status) and, for
// each key and the authority that owns it, the ledger entry with its ICS23
// proof at Height, and the signed header of block Height+1.
type TrustList struct {
	Type    string `json:"type"`
	ChainID string `json:"chain_id"`
	Height  int64  `json:"height"`
	// JWKS lists the issuer keys (the same document as GET /v1/trust/jwks,
	// at Height). Verification checks it says exactly what the entries
	// prove.
	JWKS json.RawMessage `json:"jwks"`
	// Keys are the key/<kid> entries of the issuer keys.
	Keys []Entry `json:"keys"`
	// Authorities are the reg/authority/<id> entries of their owners.
	Authorities []Entry `json:"authorities"`
	// FormatKeys are the reg/fmtkey/<format>/<kid> entries: the
	// authorities' EU DCC document signer certificates (dcc) and SMART
	// Health Cards keys (shc).
	FormatKeys  []Entry     `json:"format_keys"`
	Attestation Attestation `json:"attestation"`
}

// LedgerFormatKey is a signer key of another credential format
// (reg/fmtkey/<format>/<kid>): Public is the base64url DER X.509
// certificate (dcc) or PKIX public key (shc).
type LedgerFormatKey struct {
	Authority  string `json:"authority"`
	Format     string `json:"format"`
	KID        string `json:"kid"`
	Public     string `json:"public"`
	ValidFrom  int64  `json:"valid_from"`
	ValidUntil int64  `json:"valid_until"`
}

// FormatKey is a proven format key with its status (as KeyStatus).
type FormatKey struct {
	LedgerFormatKey
	Status string
}

// FormatKeyKey is the IAVL key of a format key.
func FormatKeyKey(format, kid string) string { return FormatKeyPrefix + format + "/" + kid }

// LedgerKey is a key entry of the ledger (key/<kid>).
type LedgerKey struct {
	Alg        string `json:"alg"`
	KID        string `json:"kid"`
	Owner      string `json:"owner"`
	Public     string `json:"public"`
	Role       string `json:"role"`
	ValidFrom  int64  `json:"valid_from"`
	ValidUntil int64  `json:"valid_until"`
}

// LedgerAuthority is an authority entry of the ledger (reg/authority/<id>).
type LedgerAuthority struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Roles  []string `json:"roles"`
	Status string   `json:"status"`
}

// KeyStatus is how a trust list shows a key: active, retired (it has an
// end of validity), or suspended (its authority is not active or does
// not hold the issuer role).
func KeyStatus(k LedgerKey, a *LedgerAuthority) string {
	switch {
	case a == nil || a.Status != "active" || !slices.Contains(a.Roles, "issuer"):
		return "suspended"
	case k.ValidUntil != 0:
		return "retired"
	}
	return "active"
}

// PublicKeyInfo turns a ledger key into the JWKS entry a trust list shows.
func (k LedgerKey) PublicKeyInfo(status string) (keys.PublicKeyInfo, error) {
	pub, err := base64.RawURLEncoding.DecodeString(k.Public)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return keys.PublicKeyInfo{}, fmt.Errorf("key %s: public key is not a base64url Ed25519 key", k.KID)
	}
	return keys.PublicKeyInfo{Key: ed25519.PublicKey(pub), KID: k.KID, Owner: k.Owner, Role: k.Role,
		ValidFromHeight: k.ValidFrom, ValidUntilHeight: k.ValidUntil, Status: status}, nil
}

// TrustListResult is what a verified trust list proves.
type TrustListResult struct {
	ChainID string
	Height  int64
	Time    time.Time
	// Keys are the issuer keys with their windows and status, as proven.
	Keys []keys.PublicKeyInfo
	// Authorities by id.
	Authorities map[string]LedgerAuthority
	// FormatKeys are the EU DCC and SMART Health Cards signer keys.
	FormatKeys []FormatKey
}

// DCCSigners returns the EU DCC document signer certificates (DER) by kid
// that are not suspended.
func (t *TrustListResult) DCCSigners() map[string][]byte {
	out := map[string][]byte{}
	for _, k := range t.FormatKeys {
		if k.Format == "dcc" && k.Status != "suspended" {
			if der, err := base64.RawURLEncoding.DecodeString(k.Public); err == nil {
				out[k.KID] = der
			}
		}
	}
	return out
}

// Issuers returns the keys a credential may be verified with: role issuer,
// status active or retired (a retired key still verifies what it signed
// inside its window; check the window against the anchor height).
func (t *TrustListResult) Issuers() []keys.PublicKeyInfo {
	var out []keys.PublicKeyInfo
	for _, k := range t.Keys {
		if k.Role == "issuer" && k.Status != "suspended" {
			out = append(out, k)
		}
	}
	return out
}

// ParseTrustList decodes a trust list document.
func ParseTrustList(data []byte) (*TrustList, error) {
	var t TrustList
	if err := strictDecode(data, &t); err != nil {
		return nil, fail(CodeMalformed, "not a trust list: %v", err)
	}
	if t.Type != TypeTrustList {
		return nil, fail(CodeMalformed, "type %q is not %s", t.Type, TypeTrustList)
	}
	return &t, nil
}

// VerifyTrustList checks a trust list against the trusted validators and
// the policy, and returns the issuer keys it proves.
func VerifyTrustList(t *TrustList, trust Trust, policy Policy) (res *TrustListResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fail(CodeMalformed, "trust list: %v", p)
		}
	}()
	if t == nil || t.Type != TypeTrustList {
		return nil, fail(CodeMalformed, "not a %s", TypeTrustList)
	}
	c, err := t.Attestation.verify(&trust, policy.TrustLevel)
	if err != nil {
		return nil, err
	}
	if t.Height != c.StateHeight {
		return nil, fail(CodeHeightMismatch, "the entries are said to be at height %d, the header attests height %d", t.Height, c.StateHeight)
	}
	auths := map[string]LedgerAuthority{}
	for _, e := range t.Authorities {
		id, ok := strings.CutPrefix(e.Key, AuthorityPrefix)
		if !ok {
			return nil, fail(CodeMalformed, "%q is not an authority entry", e.Key)
		}
		v, err := e.verify(c.AppHash, e.Key, CodeEntryProof)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		var a LedgerAuthority
		if err := json.Unmarshal(v, &a); err != nil || a.ID != id {
			return nil, fail(CodeMalformed, "authority entry %s: %v", e.Key, err)
		}
		auths[id] = a
	}
	res = &TrustListResult{ChainID: c.ChainID, Height: c.StateHeight, Time: c.Time, Authorities: auths}
	for _, e := range t.Keys {
		kid, ok := strings.CutPrefix(e.Key, KeyPrefix)
		if !ok {
			return nil, fail(CodeMalformed, "%q is not a key entry", e.Key)
		}
		v, err := e.verify(c.AppHash, e.Key, CodeEntryProof)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fail(CodeEntryMismatch, "key %s is listed but proven absent", kid)
		}
		var k LedgerKey
		if err := json.Unmarshal(v, &k); err != nil || k.KID != kid {
			return nil, fail(CodeMalformed, "key entry %s: %v", e.Key, err)
		}
		var owner *LedgerAuthority
		if id, ok := strings.CutPrefix(k.Owner, "authority/"); ok {
			if a, ok := auths[id]; ok {
				owner = &a
			}
		}
		info, err := k.PublicKeyInfo(KeyStatus(k, owner))
		if err != nil {
			return nil, fail(CodeMalformed, "%v", err)
		}
		res.Keys = append(res.Keys, info)
	}
	for _, e := range t.FormatKeys {
		rest, ok := strings.CutPrefix(e.Key, FormatKeyPrefix)
		format, kid, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 {
			return nil, fail(CodeMalformed, "%q is not a format key entry", e.Key)
		}
		v, err := e.verify(c.AppHash, e.Key, CodeEntryProof)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fail(CodeEntryMismatch, "format key %s is listed but proven absent", e.Key)
		}
		var k LedgerFormatKey
		if err := json.Unmarshal(v, &k); err != nil || k.KID != kid || k.Format != format {
			return nil, fail(CodeMalformed, "format key entry %s: %v", e.Key, err)
		}
		var owner *LedgerAuthority
		if a, ok := auths[k.Authority]; ok {
			owner = &a
		}
		res.FormatKeys = append(res.FormatKeys, FormatKey{LedgerFormatKey: k, Status: KeyStatus(LedgerKey{ValidUntil: k.ValidUntil}, owner)})
	}
	if err := sameKeys(t.JWKS, res.Keys); err != nil {
		return nil, err
	}
	if err := policy.timely(c); err != nil {
		return nil, err
	}
	return res, nil
}

// sameKeys checks the JWKS shown lists exactly the proven keys, with the
// same key material, owner, role, window and status.
func sameKeys(jwks json.RawMessage, proven []keys.PublicKeyInfo) error {
	shown, err := keys.ParseJWKS(jwks)
	if err != nil {
		return fail(CodeMalformed, "jwks: %v", err)
	}
	byKID := map[string]keys.PublicKeyInfo{}
	for _, k := range proven {
		byKID[k.KID] = k
	}
	if len(shown) != len(proven) {
		return fail(CodeEntryMismatch, "the JWKS lists %d keys, the entries prove %d", len(shown), len(proven))
	}
	for _, s := range shown {
		p, ok := byKID[s.KID]
		if !ok {
			return fail(CodeEntryMismatch, "the JWKS lists key %s, which no entry proves", s.KID)
		}
		same := s.Owner == p.Owner && s.Role == p.Role && s.ValidFromHeight == p.ValidFromHeight && s.ValidUntilHeight == p.ValidUntilHeight && s.Status == p.Status
		if pk, ok := s.Key.(ed25519.PublicKey); !ok || !pk.Equal(p.Key) || !same {
			return fail(CodeEntryMismatch, "the JWKS entry of key %s differs from the ledger's", s.KID)
		}
	}
	return nil
}
