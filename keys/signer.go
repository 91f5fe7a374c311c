// Package keys holds signing keys: Ed25519 and ECDSA signers, their JWK
// forms, key ids (RFC 7638 thumbprints), key files and JWKS trust lists.
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// JOSE algorithm names a Signer can hold. EdDSA and ES256 are the ones the
// node generates; ES384 and ES512 are accepted from imported keys.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgES384 = "ES384"
	AlgES512 = "ES512"
)

// Signer is a private signing key with its JOSE algorithm and key id.
// It is safe for concurrent use.
type Signer struct {
	alg  string
	kid  string
	priv crypto.Signer // ed25519.PrivateKey or *ecdsa.PrivateKey
	jwk  jwk.Key       // private JWK with kid and alg; cloned before it is handed out
}

// Generate creates a new random key for alg (AlgEdDSA or AlgES256; AlgES384
// and AlgES512 are accepted too).
func Generate(alg string) (*Signer, error) {
	switch alg {
	case AlgEdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keys: generate Ed25519 key: %w", err)
		}
		return NewSigner(priv)
	case AlgES256, AlgES384, AlgES512:
		priv, err := ecdsa.GenerateKey(curveFor(alg), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
		}
		return NewSigner(priv)
	default:
		return nil, fmt.Errorf("keys: unsupported algorithm %q (want %s or %s)", alg, AlgEdDSA, AlgES256)
	}
}

// GenerateEd25519FromSeed derives an Ed25519 signer from a 32-byte seed.
// The same seed always gives the same key: use it for reproducible test data.
func GenerateEd25519FromSeed(seed []byte) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("keys: Ed25519 seed must be %d bytes, got %d", ed25519.SeedSize, len(seed))
	}
	return NewSigner(ed25519.NewKeyFromSeed(seed))
}

// NewSigner wraps an existing private key: an ed25519.PrivateKey or an
// *ecdsa.PrivateKey on P-256, P-384 or P-521.
func NewSigner(priv crypto.PrivateKey) (*Signer, error) {
	var signer crypto.Signer
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("keys: Ed25519 private key must be %d bytes, got %d", ed25519.PrivateKeySize, len(k))
		}
		if err := checkEd25519Pair(k); err != nil {
			return nil, err
		}
		signer = k
	case *ecdsa.PrivateKey:
		if err := checkECDSAPair(k); err != nil {
			return nil, err
		}
		signer = k
	default:
		return nil, fmt.Errorf("keys: unsupported private key type %T (want Ed25519 or ECDSA)", priv)
	}
	alg, err := AlgForKey(signer.Public())
	if err != nil {
		return nil, err
	}
	kid, err := KIDOf(signer.Public())
	if err != nil {
		return nil, err
	}
	key, err := jwk.Import(priv)
	if err != nil {
		return nil, fmt.Errorf("keys: private key to JWK: %w", err)
	}
	if err := setKIDAndAlg(key, kid, alg); err != nil {
		return nil, err
	}
	return &Signer{alg: alg, kid: kid, priv: signer, jwk: key}, nil
}

// FromJWK makes a Signer from a private JWK (OKP Ed25519 or EC P-256/384/521).
// A kid in the JWK must be the RFC 7638 thumbprint of the key, and an alg
// must be the one the key type allows.
func FromJWK(key jwk.Key) (*Signer, error) {
	if key == nil {
		return nil, errors.New("keys: nil JWK")
	}
	private, err := jwk.IsPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("keys: unsupported key type %q (want OKP Ed25519 or EC)", key.KeyType().String())
	}
	if !private {
		return nil, errors.New("keys: the JWK holds no private key (no \"d\" member)")
	}
	// Export checks that the public members agree with "d" (jwx does for
	// Ed25519; NewSigner checks ECDSA).
	var raw any
	if err := jwk.Export(key, &raw); err != nil {
		return nil, fmt.Errorf("keys: invalid private JWK (kty %q): %w", key.KeyType().String(), err)
	}
	s, err := NewSigner(raw)
	if err != nil {
		return nil, err
	}
	if kid, ok := key.KeyID(); ok && kid != s.kid {
		return nil, fmt.Errorf("keys: kid %q does not match the key (its RFC 7638 thumbprint is %q)", kid, s.kid)
	}
	if alg, ok := key.Algorithm(); ok && alg.String() != s.alg {
		return nil, fmt.Errorf("keys: alg %q does not fit the key (want %q)", alg.String(), s.alg)
	}
	return s, nil
}

// KID is the key id: the RFC 7638 JWK thumbprint (SHA-256, base64url).
func (s *Signer) KID() string { return s.kid }

// Alg is the JOSE algorithm: "EdDSA", "ES256", "ES384" or "ES512".
func (s *Signer) Alg() string { return s.alg }

// Public is the public key: ed25519.PublicKey or *ecdsa.PublicKey.
func (s *Signer) Public() crypto.PublicKey { return s.priv.Public() }

// PrivateKey is the raw private key (ed25519.PrivateKey or
// *ecdsa.PrivateKey), for libraries such as jws.Sign. Never log it.
func (s *Signer) PrivateKey() crypto.Signer { return s.priv }

// Sign signs msg and returns the raw JOSE signature: 64 bytes for Ed25519;
// for ECDSA the fixed-size r||s of RFC 7518 section 3.4 (64 bytes for ES256).
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	switch k := s.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, msg), nil
	case *ecdsa.PrivateKey:
		r, sv, err := ecdsa.Sign(rand.Reader, k, digest(s.alg, msg))
		if err != nil {
			return nil, fmt.Errorf("keys: sign: %w", err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		sig := make([]byte, 2*size)
		r.FillBytes(sig[:size])
		sv.FillBytes(sig[size:])
		return sig, nil
	default:
		return nil, fmt.Errorf("keys: unsupported private key type %T", s.priv)
	}
}

// PrivateJWK returns the private key as a JWK with kid and alg set. Each call
// returns a fresh copy.
func (s *Signer) PrivateJWK() jwk.Key {
	k, err := s.jwk.Clone()
	if err != nil {
		panic("keys: clone private JWK: " + err.Error()) // cannot happen for the key types NewSigner accepts
	}
	return k
}

// PublicJWK returns the public key as a JWK with kid and alg set.
func (s *Signer) PublicJWK() jwk.Key {
	return mustPublic(s.jwk)
}

func mustPublic(key jwk.Key) jwk.Key {
	pub, err := key.PublicKey()
	if err != nil {
		panic("keys: public JWK: " + err.Error()) // cannot happen for the key types NewSigner accepts
	}
	return pub
}

// Ed25519KID is the RFC 7638 thumbprint of an Ed25519 public key: the
// base64url (no padding) SHA-256 of exactly
// {"crv":"Ed25519","kty":"OKP","x":"<base64url(pub)>"}.
func Ed25519KID(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KIDOf is the RFC 7638 thumbprint of an Ed25519 or ECDSA public key.
func KIDOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("keys: Ed25519 public key must be %d bytes, got %d", ed25519.PublicKeySize, len(k))
		}
		return Ed25519KID(k), nil
	case *ecdsa.PublicKey:
		if _, err := AlgForKey(k); err != nil {
			return "", err
		}
		key, err := jwk.Import(k)
		if err != nil {
			return "", fmt.Errorf("keys: public key to JWK: %w", err)
		}
		tp, err := key.Thumbprint(crypto.SHA256)
		if err != nil {
			return "", fmt.Errorf("keys: thumbprint: %w", err)
		}
		return base64.RawURLEncoding.EncodeToString(tp), nil
	default:
		return "", fmt.Errorf("keys: unsupported public key type %T (want Ed25519 or ECDSA)", pub)
	}
}

// AlgForKey is the one JOSE algorithm allowed for a public key: EdDSA for
// Ed25519, ES256/ES384/ES512 for ECDSA on P-256/P-384/P-521.
func AlgForKey(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("keys: Ed25519 public key must be %d bytes, got %d", ed25519.PublicKeySize, len(k))
		}
		return AlgEdDSA, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "", errors.New("keys: empty ECDSA public key")
		}
		switch k.Curve {
		case elliptic.P256():
			return AlgES256, nil
		case elliptic.P384():
			return AlgES384, nil
		case elliptic.P521():
			return AlgES512, nil
		}
		return "", fmt.Errorf("keys: unsupported ECDSA curve %s", k.Curve.Params().Name)
	default:
		return "", fmt.Errorf("keys: unsupported public key type %T (want Ed25519 or ECDSA)", pub)
	}
}

func curveFor(alg string) elliptic.Curve {
	switch alg {
	case AlgES384:
		return elliptic.P384()
	case AlgES512:
		return elliptic.P521()
	default:
		return elliptic.P256()
	}
}

func digest(alg string, msg []byte) []byte {
	switch alg {
	case AlgES384:
		sum := sha512.Sum384(msg)
		return sum[:]
	case AlgES512:
		sum := sha512.Sum512(msg)
		return sum[:]
	default:
		sum := sha256.Sum256(msg)
		return sum[:]
	}
}

func checkEd25519Pair(k ed25519.PrivateKey) error {
	derived := ed25519.NewKeyFromSeed(k.Seed())
	if !derived.Equal(k) {
		return errors.New("keys: Ed25519 private key: public half does not match the seed")
	}
	return nil
}

func checkECDSAPair(k *ecdsa.PrivateKey) error {
	if k == nil || k.Curve == nil {
		return errors.New("keys: empty ECDSA private key")
	}
	if _, err := AlgForKey(&k.PublicKey); err != nil {
		return err
	}
	priv, err := k.ECDH()
	if err != nil {
		return fmt.Errorf("keys: ECDSA private key: %w", err)
	}
	pub, err := k.PublicKey.ECDH()
	if err != nil {
		return fmt.Errorf("keys: ECDSA public key: %w", err)
	}
	if !priv.PublicKey().Equal(pub) {
		return errors.New("keys: ECDSA private key: public point does not match the private scalar")
	}
	return nil
}

func setKIDAndAlg(key jwk.Key, kid, alg string) error {
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		return fmt.Errorf("keys: set kid: %w", err)
	}
	if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
		return fmt.Errorf("keys: set alg: %w", err)
	}
	return nil
}
