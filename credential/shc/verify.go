package shc

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/divoc/divoc/internal/strictjson"
	"github.com/divoc/divoc/keys"
)

// Size limits Verify applies.
const (
	// MaxJWSBytes is the longest JWS Verify parses and Issue produces.
	MaxJWSBytes = 64 << 10
	// MaxPayloadBytes bounds the inflated payload: decompression stops
	// there (threat 17: a small card must not expand into gigabytes).
	// The largest specification example inflates to 30 KB.
	MaxPayloadBytes = 256 << 10
)

// Resolver returns the public keys of the issuer iss, or at least those
// with key id kid: typically the issuer's JWKS read with keys.ParseJWKS
// from a trust list (never fetched from iss without a trust decision).
// Verify uses only keys whose KID is kid. No keys means the issuer is
// unknown.
type Resolver func(iss, kid string) ([]keys.PublicKeyInfo, error)

// StaticResolver resolves issuers against fixed key lists, such as
// JWKS files read with keys.ParseJWKS.
func StaticResolver(byIssuer map[string][]keys.PublicKeyInfo) Resolver {
	return func(iss, _ string) ([]keys.PublicKeyInfo, error) {
		return byIssuer[iss], nil
	}
}

// CRLLookup returns the card revocation list the issuer iss publishes for
// key kid (at iss + "/.well-known/crl/" + kid + ".json"), or nil with no
// error when the issuer publishes none for that key. An error makes
// Verify fail with CodeBadCRL: revocation status unknown is not "valid".
type CRLLookup func(iss, kid string) (*CRL, error)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Now is compared with nbf and exp. The zero time skips these checks.
	Now time.Time
	// Leeway tolerates clock skew in the nbf and exp checks.
	Leeway time.Duration
	// CRL looks up revocation lists. Nil skips the revocation check.
	CRL CRLLookup
}

// Header is the part of the protected header Verify checked.
type Header struct {
	Alg string // ES256
	Zip string // DEF
	KID string
}

// Result is a card whose signature verified. When Verify's error is
// CodeRevoked, CodeExpired or CodeNotYetValid, the Result is returned too,
// so that the caller can say whose card it is; otherwise a non-nil error
// comes with a nil Result.
type Result struct {
	Header      Header
	Issuer      string
	NotBefore   time.Time
	Expires     time.Time // zero when the card has no exp
	RID         string    // vc.rid, "" if none
	Types       []string  // vc.type
	FHIRVersion string
	Bundle      json.RawMessage // vc.credentialSubject.fhirBundle
	Payload     []byte          // the inflated payload exactly as signed
	Key         *ecdsa.PublicKey

	Patient       Patient
	Immunizations []Immunization

	Revoked      bool
	RevokedEntry string // the CRL entry that revoked it ("rid" or "rid.timestamp")
}

// Verify checks a SMART Health Card JWS: compact serialization, protected
// header (alg ES256 only, zip DEF, kid, no crit), the inflated payload
// (strict JSON within MaxPayloadBytes; iss, nbf, vc with the health-card
// type and a FHIR bundle), the ES256 signature against the key with that
// kid among the keys resolve returns for iss, nbf and exp against
// opts.Now, and, when opts.CRL is set, revocation of vc.rid. A refusal is
// an *Error; see CodeOf.
func Verify(jws string, resolve Resolver, opts VerifyOptions) (*Result, error) {
	if len(jws) > MaxJWSBytes {
		return nil, fail(CodeTooLarge, "JWS is %d bytes, more than %d", len(jws), MaxJWSBytes)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, fail(CodeMalformed, "a compact JWS has 3 dot-separated parts, this has %d", len(parts))
	}
	headerJSON, err := decodeSegment(parts[0])
	if err != nil {
		return nil, failWrap(CodeMalformed, err, "protected header is not base64url")
	}
	compressed, err := decodeSegment(parts[1])
	if err != nil {
		return nil, failWrap(CodeMalformed, err, "payload is not base64url")
	}
	sig, err := decodeSegment(parts[2])
	if err != nil {
		return nil, failWrap(CodeMalformed, err, "signature is not base64url")
	}
	header, err := checkHeader(headerJSON)
	if err != nil {
		return nil, err
	}
	payload, err := Inflate(compressed, MaxPayloadBytes)
	if err != nil {
		return nil, err
	}
	res, err := readPayload(payload)
	if err != nil {
		return nil, err
	}
	res.Header = header
	if res.Key, err = checkSignature(parts[0]+"."+parts[1], sig, res.Issuer, header.KID, resolve); err != nil {
		return nil, err
	}
	res.Patient, res.Immunizations = readBundle(res.Bundle)

	// The signature holds: what follows is about this genuine card.
	if opts.CRL != nil && res.RID != "" {
		crl, err := opts.CRL(res.Issuer, header.KID)
		if err != nil {
			return nil, failWrap(CodeBadCRL, err, "revocation list of kid %q", header.KID)
		}
		if crl != nil {
			if crl.KID != header.KID {
				return nil, fail(CodeBadCRL, "revocation list is for kid %q, the card is signed with %q", crl.KID, header.KID)
			}
			if entry, ok := crl.Revokes(res.RID, res.NotBefore); ok {
				res.Revoked, res.RevokedEntry = true, entry
				return res, fail(CodeRevoked, "rid %q is revoked by entry %q of the issuer's list (ctr %d)", res.RID, entry, crl.Ctr)
			}
		}
	}
	if !opts.Now.IsZero() {
		if !res.Expires.IsZero() && opts.Now.After(res.Expires.Add(opts.Leeway)) {
			return res, fail(CodeExpired, "exp %s is before now (%s)", res.Expires.UTC().Format(time.RFC3339), opts.Now.UTC().Format(time.RFC3339))
		}
		if res.NotBefore.After(opts.Now.Add(opts.Leeway)) {
			return res, fail(CodeNotYetValid, "nbf %s is after now (%s)", res.NotBefore.UTC().Format(time.RFC3339), opts.Now.UTC().Format(time.RFC3339))
		}
	}
	return res, nil
}

// decodeSegment decodes one base64url segment: only the unpadded
// base64url alphabet, canonical encodings only.
func decodeSegment(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, errors.New("character " + strconv.QuoteRune(rune(c)) + " at offset " + strconv.Itoa(i) + " is not base64url")
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// strictObject checks that data is valid UTF-8 and exactly one JSON value
// with no duplicate member names.
func strictObject(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("not valid UTF-8")
	}
	if err := strictjson.CheckNoDuplicateKeys(data); err != nil {
		return err
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return errors.New("not a JSON object")
	}
	return nil
}

func checkHeader(data []byte) (Header, error) {
	if err := strictObject(data); err != nil {
		return Header{}, failWrap(CodeMalformed, err, "protected header is not a strict JSON object")
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(data, &h); err != nil {
		return Header{}, failWrap(CodeMalformed, err, "protected header")
	}
	var header Header
	for _, p := range []struct {
		name string
		dst  *string
	}{{"alg", &header.Alg}, {"zip", &header.Zip}, {"kid", &header.KID}} {
		raw, ok := h[p.name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, p.dst); err != nil {
			return Header{}, fail(CodeMalformed, "header parameter %q must be a string", p.name)
		}
	}
	if header.Alg != keys.AlgES256 {
		return Header{}, fail(CodeAlgNotAllowed, "alg %q is not allowed: health cards are signed with ES256 only", header.Alg)
	}
	if _, ok := h["crit"]; ok {
		return Header{}, fail(CodeUnsupportedCrit, "crit names header parameters this verifier does not understand")
	}
	if header.Zip != "DEF" {
		return Header{}, fail(CodeBadCompression, "zip %q: health card payloads are raw DEFLATE (\"DEF\")", header.Zip)
	}
	if header.KID == "" {
		return Header{}, fail(CodeUnknownKID, "header has no kid")
	}
	return header, nil
}

// Inflate decompresses a raw DEFLATE stream (RFC 1951, no zlib or gzip
// header), refusing output over limit bytes with CodeTooLarge without
// inflating further, and data after the end of the stream.
func Inflate(data []byte, limit int) ([]byte, error) {
	br := bytes.NewReader(data)
	r := flate.NewReader(br)
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, failWrap(CodeBadCompression, err, "payload is not raw DEFLATE")
	}
	if len(out) > limit {
		return nil, fail(CodeTooLarge, "payload inflates beyond %d bytes", limit)
	}
	if br.Len() != 0 {
		return nil, fail(CodeBadCompression, "%d bytes after the end of the DEFLATE stream", br.Len())
	}
	return out, nil
}

type payloadIn struct {
	Iss *string         `json:"iss"`
	Nbf json.RawMessage `json:"nbf"`
	Exp json.RawMessage `json:"exp"`
	VC  *struct {
		Type              []string `json:"type"`
		CredentialSubject *struct {
			FHIRVersion string          `json:"fhirVersion"`
			FHIRBundle  json.RawMessage `json:"fhirBundle"`
		} `json:"credentialSubject"`
		RID *string `json:"rid"`
	} `json:"vc"`
}

func readPayload(payload []byte) (*Result, error) {
	if err := strictObject(payload); err != nil {
		return nil, failWrap(CodeMalformed, err, "payload is not a strict JSON object")
	}
	var p payloadIn
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, failWrap(CodeBadCredential, err, "payload")
	}
	if p.Iss == nil || *p.Iss == "" {
		return nil, fail(CodeBadCredential, "payload has no iss")
	}
	if p.Nbf == nil || string(p.Nbf) == "null" {
		return nil, fail(CodeBadCredential, "payload has no nbf")
	}
	res := &Result{Issuer: *p.Iss, Payload: payload}
	var err error
	if res.NotBefore, err = numericDate(p.Nbf); err != nil {
		return nil, failWrap(CodeBadCredential, err, "nbf")
	}
	if p.Exp != nil {
		if res.Expires, err = numericDate(p.Exp); err != nil {
			return nil, failWrap(CodeBadCredential, err, "exp")
		}
	}
	if p.VC == nil {
		return nil, fail(CodeBadCredential, "payload has no vc")
	}
	res.Types = p.VC.Type
	hasType := false
	for _, t := range p.VC.Type {
		hasType = hasType || t == TypeHealthCard
	}
	if !hasType {
		return nil, fail(CodeBadCredential, "vc.type %q does not include %s", p.VC.Type, TypeHealthCard)
	}
	cs := p.VC.CredentialSubject
	if cs == nil || cs.FHIRVersion == "" || len(cs.FHIRBundle) == 0 {
		return nil, fail(CodeBadCredential, "vc.credentialSubject needs fhirVersion and fhirBundle")
	}
	var b struct {
		ResourceType string            `json:"resourceType"`
		Entry        []json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(cs.FHIRBundle, &b); err != nil || b.ResourceType != "Bundle" {
		return nil, fail(CodeBadCredential, "vc.credentialSubject.fhirBundle is not a FHIR Bundle")
	}
	res.FHIRVersion, res.Bundle = cs.FHIRVersion, cs.FHIRBundle
	if p.VC.RID != nil {
		if !ridPattern.MatchString(*p.VC.RID) {
			return nil, fail(CodeBadCredential, "vc.rid %q is not 1..%d base64url characters", *p.VC.RID, MaxRIDChars)
		}
		res.RID = *p.VC.RID
	}
	return res, nil
}

// numericDate reads a JWT NumericDate: a JSON number of seconds since the
// epoch, possibly with a fraction (the specification's examples carry
// milliseconds). A string, even of digits, is not one.
func numericDate(n json.RawMessage) (time.Time, error) {
	if len(n) == 0 || !(n[0] == '-' || '0' <= n[0] && n[0] <= '9') {
		return time.Time{}, errors.New(string(n) + " is not a NumericDate")
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, errors.New(string(n) + " is not a NumericDate")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC(), nil
}

// checkSignature finds the issuer's key with the header's kid and checks
// the ES256 signature over the signing input.
func checkSignature(input string, sig []byte, iss, kid string, resolve Resolver) (*ecdsa.PublicKey, error) {
	if resolve == nil {
		return nil, fail(CodeUnknownIssuer, "no resolver to look up issuer %q", iss)
	}
	infos, err := resolve(iss, kid)
	if err != nil {
		return nil, failWrap(CodeUnknownIssuer, err, "looking up issuer %q", iss)
	}
	if len(infos) == 0 {
		return nil, fail(CodeUnknownIssuer, "no keys known for issuer %q", iss)
	}
	var candidates []*ecdsa.PublicKey
	otherTypes := 0
	for _, info := range infos {
		id := info.KID
		if id == "" {
			if id, err = keys.KIDOf(info.Key); err != nil {
				continue
			}
		}
		if id != kid {
			continue
		}
		pub, ok := info.Key.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			otherTypes++
			continue
		}
		candidates = append(candidates, pub)
	}
	if len(candidates) == 0 {
		if otherTypes > 0 {
			return nil, fail(CodeAlgNotAllowed, "kid %q of issuer %q names a key that is not EC P-256, so it cannot verify ES256", kid, iss)
		}
		return nil, fail(CodeUnknownKID, "issuer %q has no key with kid %q", iss, kid)
	}
	if len(sig) != 64 {
		return nil, fail(CodeBadSignature, "an ES256 signature is 64 bytes, this is %d", len(sig))
	}
	digest := sha256.Sum256([]byte(input))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	for _, pub := range candidates {
		if ecdsa.Verify(pub, digest[:], r, s) {
			return pub, nil
		}
	}
	return nil, fail(CodeBadSignature, "signature does not verify with issuer %q's key %q", iss, kid)
}
