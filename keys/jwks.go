package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// JWK members that carry DIVOC key metadata in a JWKS trust list.
const (
	MemberOwner            = "divoc:owner"
	MemberRole             = "divoc:role"
	MemberValidFromHeight  = "divoc:validFromHeight"
	MemberValidUntilHeight = "divoc:validUntilHeight"
	MemberStatus           = "divoc:status"
)

// PublicKeyInfo is a public key with what the ledger says about it.
type PublicKeyInfo struct {
	Key crypto.PublicKey // ed25519.PublicKey or *ecdsa.PublicKey
	KID string           // RFC 7638 thumbprint; computed when empty
	Alg string           // JOSE algorithm; derived from the key when empty

	Owner            string
	Role             string
	ValidFromHeight  int64  // first height the key is valid at; 0: from genesis
	ValidUntilHeight int64  // last height the key is valid at; 0: no end
	Status           string // e.g. "active", "retired", "revoked"
}

// PublicJWKSet renders keys as a JWKS document ({"keys":[...]}), each key
// with kid and alg and its metadata as "divoc:*" members. Empty strings
// and zero heights are left out.
func PublicJWKSet(keys ...PublicKeyInfo) ([]byte, error) {
	out := make([]map[string]any, 0, len(keys))
	for i, info := range keys {
		m, err := info.jwkMembers()
		if err != nil {
			return nil, fmt.Errorf("keys: JWKS key %d: %w", i, err)
		}
		out = append(out, m)
	}
	doc, err := json.MarshalIndent(map[string]any{"keys": out}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keys: encode JWKS: %w", err)
	}
	return append(doc, '\n'), nil
}

func (info PublicKeyInfo) jwkMembers() (map[string]any, error) {
	kid, err := KIDOf(info.Key)
	if err != nil {
		return nil, err
	}
	alg, err := AlgForKey(info.Key)
	if err != nil {
		return nil, err
	}
	if info.KID != "" && info.KID != kid {
		return nil, fmt.Errorf("kid %q is not the key's thumbprint %q", info.KID, kid)
	}
	if info.Alg != "" && info.Alg != alg {
		return nil, fmt.Errorf("alg %q does not fit the key (want %q)", info.Alg, alg)
	}
	if info.ValidFromHeight < 0 || info.ValidUntilHeight < 0 {
		return nil, errors.New("heights must not be negative")
	}
	key, err := jwk.Import(info.Key)
	if err != nil {
		return nil, fmt.Errorf("public key to JWK: %w", err)
	}
	if err := setKIDAndAlg(key, kid, alg); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(key)
	if err != nil {
		return nil, fmt.Errorf("encode JWK: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("encode JWK: %w", err)
	}
	for name, v := range map[string]string{MemberOwner: info.Owner, MemberRole: info.Role, MemberStatus: info.Status} {
		if v != "" {
			m[name] = v
		}
	}
	for name, v := range map[string]int64{MemberValidFromHeight: info.ValidFromHeight, MemberValidUntilHeight: info.ValidUntilHeight} {
		if v != 0 {
			m[name] = v
		}
	}
	return m, nil
}

// jwkMeta is the DIVOC metadata of one JWKS entry, plus the members whose
// presence makes an entry unfit for a trust list.
type jwkMeta struct {
	Owner            *string         `json:"divoc:owner"`
	Role             *string         `json:"divoc:role"`
	ValidFromHeight  *int64          `json:"divoc:validFromHeight"`
	ValidUntilHeight *int64          `json:"divoc:validUntilHeight"`
	Status           *string         `json:"divoc:status"`
	D                json.RawMessage `json:"d"`
}

// ParseJWKS reads a JWKS document written by PublicJWKSet (or any JWKS of
// Ed25519 and ECDSA public keys). It refuses private key material, key types
// other than OKP Ed25519 and EC P-256/384/521, an alg that does not fit its
// key, and a kid that is not the key's RFC 7638 thumbprint.
func ParseJWKS(data []byte) ([]PublicKeyInfo, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("keys: JWKS is not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("keys: JWKS has data after the JSON object")
	}
	if doc.Keys == nil {
		return nil, errors.New("keys: JWKS has no \"keys\" array")
	}
	infos := make([]PublicKeyInfo, 0, len(*doc.Keys))
	for i, raw := range *doc.Keys {
		info, err := parseJWKSEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("keys: JWKS keys[%d]: %w", i, err)
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func parseJWKSEntry(raw json.RawMessage) (PublicKeyInfo, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return PublicKeyInfo{}, errors.New("not a JSON object")
	}
	var meta jwkMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return PublicKeyInfo{}, fmt.Errorf("bad divoc metadata: %w", err)
	}
	if meta.D != nil {
		return PublicKeyInfo{}, errors.New("holds private key material (\"d\"); a trust list must hold public keys only")
	}
	if err := checkKeyType(members); err != nil {
		return PublicKeyInfo{}, err
	}
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return PublicKeyInfo{}, fmt.Errorf("not a valid JWK: %w", err)
	}
	var pub any
	if err := jwk.Export(key, &pub); err != nil {
		return PublicKeyInfo{}, fmt.Errorf("unsupported JWK: %w", err)
	}
	switch pub.(type) {
	case ed25519.PublicKey, *ecdsa.PublicKey:
	default:
		return PublicKeyInfo{}, fmt.Errorf("unsupported key type %T", pub)
	}
	info := PublicKeyInfo{Key: pub}
	if info.KID, err = KIDOf(pub); err != nil {
		return PublicKeyInfo{}, err
	}
	if info.Alg, err = AlgForKey(pub); err != nil {
		return PublicKeyInfo{}, err
	}
	if kid, ok := key.KeyID(); ok && kid != info.KID {
		return PublicKeyInfo{}, fmt.Errorf("kid %q is not the key's RFC 7638 thumbprint %q", kid, info.KID)
	}
	if alg, ok := key.Algorithm(); ok && alg.String() != info.Alg {
		return PublicKeyInfo{}, fmt.Errorf("alg %q does not fit the key (want %q)", alg.String(), info.Alg)
	}
	info.Owner = deref(meta.Owner)
	info.Role = deref(meta.Role)
	info.Status = deref(meta.Status)
	if meta.ValidFromHeight != nil {
		info.ValidFromHeight = *meta.ValidFromHeight
	}
	if meta.ValidUntilHeight != nil {
		info.ValidUntilHeight = *meta.ValidUntilHeight
	}
	if info.ValidFromHeight < 0 || info.ValidUntilHeight < 0 {
		return PublicKeyInfo{}, errors.New("heights must not be negative")
	}
	return info, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
