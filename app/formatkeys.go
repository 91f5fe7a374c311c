package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
)

// Format keys: what an issuing authority signs other certificate formats
// with, registered on the ledger so that verifiers trust them from the same
// source as its vc+jwt keys.
//
//   - dcc: an EU DCC document signer certificate (X.509, ECDSA P-256 or
//     RSA); its kid is the first 8 bytes of the SHA-256 of its DER, base64,
//     as the EU DCC specification defines.
//   - shc: a SMART Health Cards signing key (ECDSA P-256, ES256), as a
//     PKIX public key; its kid is the RFC 7638 JWK thumbprint.
//
// They are registered with their authority (authority.register/v1 and the
// genesis) and never deleted: retiring sets valid_until, as for keys.

// Formats with keys on the ledger.
const (
	FormatDCC = "dcc"
	FormatSHC = "shc"
)

const kFormatKey = "reg/fmtkey/"

// FormatKey is a signer key of another format.
type FormatKey struct {
	Authority  string `json:"authority"`
	Format     string `json:"format"`
	KID        string `json:"kid"`
	Public     string `json:"public"` // base64url: the DER certificate (dcc) or PKIX public key (shc)
	ValidFrom  int64  `json:"valid_from"`
	ValidUntil int64  `json:"valid_until"`
}

// FormatKeyKey is the IAVL key of a format key.
func FormatKeyKey(format, kid string) string { return kFormatKey + format + "/" + kid }

// ValidAt reports whether the key may sign at height h.
func (k *FormatKey) ValidAt(h int64) bool {
	return h >= k.ValidFrom && (k.ValidUntil == 0 || h <= k.ValidUntil)
}

// NewDCCKey describes a document signer certificate.
func NewDCCKey(authority string, der []byte) (FormatKey, error) {
	k := FormatKey{Authority: authority, Format: FormatDCC, Public: b64.EncodeToString(der)}
	if err := k.validate(); err != nil {
		return k, err
	}
	return k, nil
}

// NewSHCKey describes a SMART Health Cards key (a PKIX DER public key).
func NewSHCKey(authority string, pkix []byte) (FormatKey, error) {
	k := FormatKey{Authority: authority, Format: FormatSHC, Public: b64.EncodeToString(pkix)}
	if err := k.validate(); err != nil {
		return k, err
	}
	return k, nil
}

// Certificate parses a dcc key's certificate.
func (k *FormatKey) Certificate() (*x509.Certificate, error) {
	der, err := b64.DecodeString(k.Public)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// ECDSA parses an shc key.
func (k *FormatKey) ECDSA() (*ecdsa.PublicKey, error) {
	der, err := b64.DecodeString(k.Public)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("not an ECDSA P-256 key")
	}
	return ec, nil
}

// validate checks the key and sets its kid.
func (k *FormatKey) validate() error {
	if !validCode(k.Authority) {
		return fmt.Errorf("format key: authority %q is not a valid id", k.Authority)
	}
	switch k.Format {
	case FormatDCC:
		cert, err := k.Certificate()
		if err != nil {
			return fmt.Errorf("dcc key: not a DER X.509 certificate: %v", err)
		}
		switch pub := cert.PublicKey.(type) {
		case *ecdsa.PublicKey:
			if pub.Curve != elliptic.P256() {
				return fmt.Errorf("dcc key: ECDSA keys must be P-256")
			}
		case *rsa.PublicKey:
			if pub.N.BitLen() < 2048 {
				return fmt.Errorf("dcc key: RSA keys must have at least 2048 bits")
			}
		default:
			return fmt.Errorf("dcc key: %T is not an ECDSA P-256 or RSA key", pub)
		}
		h := sha256.Sum256(cert.Raw)
		k.KID = base64.StdEncoding.EncodeToString(h[:8])
	case FormatSHC:
		pub, err := k.ECDSA()
		if err != nil {
			return fmt.Errorf("shc key: %v", err)
		}
		k.KID = ecThumbprint(pub)
	default:
		return fmt.Errorf("format key: format %q: want %s or %s", k.Format, FormatDCC, FormatSHC)
	}
	return nil
}

// ecThumbprint is the RFC 7638 thumbprint of a P-256 key.
func ecThumbprint(pub *ecdsa.PublicKey) string {
	b := pub.X.FillBytes(make([]byte, 32))
	c := pub.Y.FillBytes(make([]byte, 32))
	h := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(b) + `","y":"` + b64.EncodeToString(c) + `"}`))
	return b64.EncodeToString(h[:])
}

// FormatKeys lists the format keys of one format at the snapshot.
func (s *Snapshot) FormatKeys(format string) []FormatKey {
	return List[FormatKey](s, kFormatKey+format+"/")
}

// applyFormatKeys registers an authority's new format keys from this height.
func applyFormatKeys(c *execCtx, authority string, add []FormatKey) *Error {
	for i := range add {
		k := add[i]
		k.Authority = authority
		if err := k.validate(); err != nil {
			return reject(CodeInvalidRegistry, err.Error())
		}
		if old, _ := getJSON[FormatKey](c, FormatKeyKey(k.Format, k.KID)); old != nil {
			continue // already registered (its window stays)
		}
		k.ValidFrom = c.height
		c.setJSON(FormatKeyKey(k.Format, k.KID), k)
	}
	return nil
}
