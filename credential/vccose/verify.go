// Package vccose verifies (and issues) W3C Verifiable Credentials (VC Data
// Model 2.0) secured with COSE, as "Securing Verifiable Credentials using
// JOSE and COSE" (VC-JOSE-COSE) section 3.3 defines: a COSE_Sign1 whose
// payload is the credential (typ application/vc+cose, cty application/vc)
// or presentation (application/vp+cose, application/vp) JSON itself. It is
// credential/vcjwt's sibling for COSE: the same codes, key resolvers and
// document rules.
package vccose

import (
	"crypto"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/veraison/go-cose"

	"github.com/divoc/divoc/credential/vcjwt"
	"github.com/divoc/divoc/keys"
)

// MaxMessageBytes is the largest COSE message Verify parses (and Issue
// produces).
const MaxMessageBytes = 64 << 10

// Media types of VC-JOSE-COSE for COSE: the typ (16) and cty (3) header
// parameters.
const (
	TypCredential   = "application/vc+cose"
	TypPresentation = "application/vp+cose"
	CtyCredential   = "application/vc"
	CtyPresentation = "application/vp"
)

// MediaTypeEnvelopedCOSE is the data: URL media type of an enveloped
// vc+cose credential; its data is the base64 of the COSE message.
const MediaTypeEnvelopedCOSE = TypCredential

// KeyResolver returns the candidate public keys for a kid (the kid header
// parameter's bytes as a string); see vcjwt.KeyResolver and
// vcjwt.KeysResolver, which serve both packages.
type KeyResolver = vcjwt.KeyResolver

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Now is compared with validFrom and validUntil. The zero time skips
	// these checks.
	Now time.Time
	// SkipEnvelopedCredentials checks a presentation's own signature and
	// structure only: its credentials are listed in Result.Enveloped but
	// not verified, for callers that verify each one themselves. By
	// default every enveloped credential must be a vc+cose or vc+jwt that
	// verifies with the same resolver.
	SkipEnvelopedCredentials bool
}

// Header is the part of the protected header Verify checked.
type Header struct {
	Alg string // "EdDSA", "ES256", "ES384" or "ES512"
	KID string
	Typ string
	Cty string // empty if absent
}

// Result is a verified message.
type Result struct {
	Header       Header
	Presentation bool           // typ application/vp+cose
	Credential   map[string]any // the decoded payload (the presentation when Presentation); numbers are json.Number
	Payload      []byte         // the payload exactly as signed
	Key          crypto.PublicKey
	Enveloped    []Enveloped // a presentation's credentials, in order
}

// allowedAlgs are the only algorithms Verify accepts, each fitting one key
// type (keys.AlgForKey).
var allowedAlgs = map[cose.Algorithm]string{
	cose.AlgorithmEdDSA: keys.AlgEdDSA,
	cose.AlgorithmES256: keys.AlgES256,
	cose.AlgorithmES384: keys.AlgES384,
	cose.AlgorithmES512: keys.AlgES512,
}

// DecodeBase64 reads the text form of a vc+cose message that the W3C test
// suite and data: URLs use: standard base64, with or without padding.
// Nothing else (no whitespace inside, no URL-safe alphabet) is accepted.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) > base64.StdEncoding.EncodedLen(MaxMessageBytes) {
		return nil, fail(CodeTooLarge, "message text is %d bytes, more than the base64 of %d", len(s), MaxMessageBytes)
	}
	enc := base64.RawStdEncoding
	if strings.HasSuffix(s, "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, failWrap(CodeMalformed, err, "not base64")
	}
	return b, nil
}

// EncodeBase64 is the text form of a message: unpadded standard base64,
// as the W3C test suite writes it.
func EncodeBase64(msg []byte) string {
	return base64.RawStdEncoding.EncodeToString(msg)
}

// VerifyBase64 is Verify of the message DecodeBase64 reads from s.
func VerifyBase64(s string, resolve KeyResolver, opts VerifyOptions) (*Result, error) {
	msg, err := DecodeBase64(s)
	if err != nil {
		return nil, err
	}
	return Verify(msg, resolve, opts)
}

// Verify checks a vc+cose or vp+cose message: a COSE_Sign1 (tag 18, or
// untagged) with alg, kid and typ in its protected header, its signature
// against the keys resolve returns for the kid, its payload as a VC Data
// Model 2.0 credential or presentation, its validity period against
// opts.Now, and for a presentation every enveloped credential in it. A
// refusal is an *Error; see CodeOf.
func Verify(msg []byte, resolve KeyResolver, opts VerifyOptions) (*Result, error) {
	return verify(msg, resolve, opts, false)
}

func verify(msg []byte, resolve KeyResolver, opts VerifyOptions, credentialOnly bool) (*Result, error) {
	if len(msg) > MaxMessageBytes {
		return nil, fail(CodeTooLarge, "message is %d bytes, more than %d", len(msg), MaxMessageBytes)
	}
	m, err := decodeSign1(msg)
	if err != nil {
		return nil, err
	}
	header, alg, presentation, err := checkHeader(m, credentialOnly)
	if err != nil {
		return nil, err
	}
	key, err := checkSignature(m, header, alg, resolve)
	if err != nil {
		return nil, err
	}
	doc, err := decodeObject(m.Payload)
	if err != nil {
		return nil, failWrap(CodeMalformed, err, "payload is not a JSON object")
	}
	k := kindCredential
	if presentation {
		k = kindPresentation
	}
	if err := checkDocument(doc, k); err != nil {
		return nil, err
	}
	if err := checkTimes(doc, opts.Now); err != nil {
		return nil, err
	}
	res := &Result{Header: header, Presentation: presentation, Credential: doc, Payload: m.Payload, Key: key}
	if presentation {
		if res.Enveloped, err = verifyEnveloped(doc, resolve, opts); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// decodeSign1 reads a COSE_Sign1, tagged (18) or untagged, with go-cose's
// strict decoder (no duplicate map keys, no indefinite lengths, nothing
// after the message).
func decodeSign1(msg []byte) (*cose.Sign1Message, error) {
	if len(msg) == 0 {
		return nil, fail(CodeMalformed, "empty message")
	}
	var m cose.Sign1Message
	var err error
	if msg[0] == 0xd2 {
		err = m.UnmarshalCBOR(msg)
	} else {
		var u cose.UntaggedSign1Message
		err = u.UnmarshalCBOR(msg)
		m = cose.Sign1Message(u)
	}
	if err != nil {
		return nil, failWrap(CodeMalformed, err, "not a COSE_Sign1")
	}
	if m.Payload == nil {
		return nil, fail(CodeMalformed, "detached payload: the credential must be the payload")
	}
	return &m, nil
}

// checkHeader reads and checks the protected header: typ, cty, alg, crit
// and kid. It reports whether the message is a presentation.
func checkHeader(m *cose.Sign1Message, credentialOnly bool) (Header, cose.Algorithm, bool, error) {
	p := m.Headers.Protected
	var h Header
	for _, f := range []struct {
		label int64
		name  string
		dst   *string
	}{{cose.HeaderLabelType, "typ (16)", &h.Typ}, {cose.HeaderLabelContentType, "cty (3)", &h.Cty}} {
		v, ok := p[f.label]
		if !ok {
			continue
		}
		s, isText := v.(string)
		if !isText {
			return Header{}, 0, false, fail(CodeBadMediaType, "%s must be a media type string, is %T", f.name, v)
		}
		*f.dst = s
	}
	var presentation bool
	switch strings.ToLower(h.Typ) {
	case TypCredential:
	case TypPresentation:
		presentation = true
	default:
		return Header{}, 0, false, fail(CodeBadMediaType, "typ %q is neither %s nor %s", h.Typ, TypCredential, TypPresentation)
	}
	if presentation && credentialOnly {
		return Header{}, 0, false, fail(CodeBadMediaType, "typ %q where a credential (%s) is expected", h.Typ, TypCredential)
	}
	wantCty := CtyCredential
	if presentation {
		wantCty = CtyPresentation
	}
	if _, ok := p[cose.HeaderLabelContentType]; ok && !strings.EqualFold(h.Cty, wantCty) {
		return Header{}, 0, false, fail(CodeBadMediaType, "cty %q does not fit typ %q (want %q)", h.Cty, h.Typ, wantCty)
	}

	alg, err := p.Algorithm()
	if err != nil {
		return Header{}, 0, false, failWrap(CodeAlgNotAllowed, err, "no usable alg in the protected header")
	}
	name, ok := allowedAlgs[alg]
	if !ok {
		return Header{}, 0, false, fail(CodeAlgNotAllowed, "alg %v is not allowed (only EdDSA, ES256, ES384, ES512)", alg)
	}
	h.Alg = name
	if crit, ok := p[cose.HeaderLabelCritical]; ok {
		return Header{}, 0, false, fail(CodeUnsupportedCrit, "crit %v names parameters this verifier does not understand", crit)
	}
	kid, ok := p[cose.HeaderLabelKeyID]
	if !ok {
		kid, ok = m.Headers.Unprotected[cose.HeaderLabelKeyID]
	}
	kidBytes, isBytes := kid.([]byte)
	if !ok || !isBytes || len(kidBytes) == 0 {
		return Header{}, 0, false, fail(CodeUnknownKID, "header has no kid")
	}
	h.KID = string(kidBytes)
	return h, alg, presentation, nil
}

// checkSignature tries every resolved key whose type fits the alg and
// returns the one that verifies.
func checkSignature(m *cose.Sign1Message, h Header, alg cose.Algorithm, resolve KeyResolver) (crypto.PublicKey, error) {
	if resolve == nil {
		return nil, fail(CodeUnknownKID, "no key resolver to look up kid %q", h.KID)
	}
	found, err := resolve(h.KID)
	if err != nil {
		return nil, failWrap(CodeUnknownKID, err, "looking up kid %q", h.KID)
	}
	if len(found) == 0 {
		return nil, fail(CodeUnknownKID, "no key known for kid %q", h.KID)
	}
	var candidates []crypto.PublicKey
	var otherAlgs []string
	for _, k := range found {
		pub := rawPublicKey(k)
		keyAlg, err := keys.AlgForKey(pub)
		if err != nil {
			otherAlgs = append(otherAlgs, "unsupported key")
			continue
		}
		if keyAlg != h.Alg {
			otherAlgs = append(otherAlgs, keyAlg)
			continue
		}
		candidates = append(candidates, pub)
	}
	if len(candidates) == 0 {
		return nil, fail(CodeAlgNotAllowed, "kid %q names a key for %s, but the header says alg %s", h.KID, strings.Join(otherAlgs, ", "), h.Alg)
	}
	for _, pub := range candidates {
		v, err := cose.NewVerifier(alg, pub)
		if err != nil {
			continue
		}
		if m.Verify(nil, v) == nil {
			return pub, nil
		}
	}
	return nil, fail(CodeBadSignature, "signature does not verify with the %d key(s) for kid %q", len(candidates), h.KID)
}

// rawPublicKey turns a jwk.Key into its raw public key; other values pass
// through.
func rawPublicKey(k crypto.PublicKey) crypto.PublicKey {
	key, ok := k.(jwk.Key)
	if !ok {
		return k
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil
	}
	var raw any
	if err := jwk.Export(pub, &raw); err != nil {
		return nil
	}
	return raw
}

// verifyEnveloped lists a presentation's credentials and, unless skipped,
// verifies each: vc+cose here, vc+jwt with credential/vcjwt.
func verifyEnveloped(doc map[string]any, resolve KeyResolver, opts VerifyOptions) ([]Enveloped, error) {
	envs, err := envelopes(doc)
	if err != nil {
		return nil, err
	}
	if opts.SkipEnvelopedCredentials {
		return envs, nil
	}
	for i := range envs {
		env := &envs[i]
		switch env.MediaType {
		case MediaTypeEnvelopedCOSE:
			if !env.Base64 {
				return nil, fail(CodeBadCredential, "verifiableCredential[%d]: a %s data: URL must be ;base64", i, env.MediaType)
			}
			msg, err := DecodeBase64(env.Data)
			if err == nil {
				env.COSE, err = verify(msg, resolve, opts, true)
			}
			if err != nil {
				return nil, failWrap(CodeBadCredential, err, "verifiableCredential[%d] does not verify", i)
			}
		case vcjwt.MediaTypeEnvelopedJWT:
			if env.Base64 {
				return nil, fail(CodeBadCredential, "verifiableCredential[%d]: a %s data: URL carries the compact JWS itself, not base64", i, env.MediaType)
			}
			r, err := vcjwt.Verify(env.Data, resolve, vcjwt.VerifyOptions{Now: opts.Now})
			if err == nil && r.Presentation {
				err = fmt.Errorf("it is a presentation (vp+jwt), not a credential")
			}
			if err != nil {
				return nil, failWrap(CodeBadCredential, err, "verifiableCredential[%d] does not verify", i)
			}
			env.JWT = r
		default:
			return nil, fail(CodeBadCredential, "verifiableCredential[%d] is %s; this verifier checks %s and %s", i, env.MediaType, MediaTypeEnvelopedCOSE, vcjwt.MediaTypeEnvelopedJWT)
		}
	}
	return envs, nil
}
