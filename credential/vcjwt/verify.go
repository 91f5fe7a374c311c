package vcjwt

import (
	"crypto"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/divoc/divoc/keys"
)

// MaxTokenBytes is the largest token Verify parses (and Issue produces).
const MaxTokenBytes = 64 << 10

// KeyResolver returns the candidate public keys (ed25519.PublicKey,
// *ecdsa.PublicKey or jwk.Key) for a kid. It may return several: Verify
// tries each whose type fits the header's alg, and the token is valid if
// any of them verifies it. No keys (or an error) means the kid is unknown.
type KeyResolver func(kid string) ([]crypto.PublicKey, error)

// KeysResolver resolves kids against a fixed list, such as a trust list read
// with keys.ParseJWKS. An entry without a KID is filed under its RFC 7638
// thumbprint (and left out if it has none). It does not look at heights or
// status: callers that care pass only the keys valid for their purpose.
func KeysResolver(infos ...keys.PublicKeyInfo) KeyResolver {
	byKID := map[string][]crypto.PublicKey{}
	for _, info := range infos {
		kid := info.KID
		if kid == "" {
			var err error
			if kid, err = keys.KIDOf(info.Key); err != nil {
				continue
			}
		}
		byKID[kid] = append(byKID[kid], info.Key)
	}
	return func(kid string) ([]crypto.PublicKey, error) {
		return byKID[kid], nil
	}
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Now is compared with validFrom/validUntil and the JWT claims nbf/exp.
	// The zero time skips these checks.
	Now time.Time
	// SkipEnvelopedCredentials checks a presentation's own signature and
	// structure only: its credentials are listed in Result.Enveloped but not
	// verified, for callers that verify each one themselves. By default
	// every enveloped credential must be a vc+jwt that verifies.
	SkipEnvelopedCredentials bool
}

// Header is the part of the protected header Verify checked.
type Header struct {
	Alg string
	KID string
	Typ string
	Cty string // empty if absent
}

// Result is a verified token.
type Result struct {
	Header       Header
	Presentation bool           // typ vp+jwt
	Credential   map[string]any // the decoded payload (the presentation when Presentation); numbers are json.Number
	Payload      []byte         // the payload exactly as signed
	Key          crypto.PublicKey
	Enveloped    []Enveloped // a presentation's credentials, in order
}

// allowedAlgs are the only algorithms Verify accepts; each fits exactly one
// key type (see keys.AlgForKey).
var allowedAlgs = map[string]jwa.SignatureAlgorithm{
	keys.AlgEdDSA: jwa.EdDSA(),
	keys.AlgES256: jwa.ES256(),
	keys.AlgES384: jwa.ES384(),
	keys.AlgES512: jwa.ES512(),
}

// Verify checks a vc+jwt or vp+jwt compact JWS: its encoding, its protected
// header (typ, cty, alg, crit, kid), its signature against the keys resolve
// returns for its kid, its payload as a VC Data Model 2.0 credential or
// presentation, its validity period against opts.Now, and for a presentation
// every enveloped credential in it. A refusal is an *Error; see CodeOf.
func Verify(token string, resolve KeyResolver, opts VerifyOptions) (*Result, error) {
	return verify(token, resolve, opts, false)
}

func verify(token string, resolve KeyResolver, opts VerifyOptions, credentialOnly bool) (*Result, error) {
	if len(token) > MaxTokenBytes {
		return nil, fail(CodeTooLarge, "token is %d bytes, more than %d", len(token), MaxTokenBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fail(CodeMalformed, "a compact JWS has 3 dot-separated parts, this has %d", len(parts))
	}
	headerJSON, err := decodeSegment(parts[0])
	if err != nil {
		return nil, failWrap(CodeMalformed, err, "protected header is not base64url")
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return nil, failWrap(CodeMalformed, err, "payload is not base64url")
	}
	if _, err := decodeSegment(parts[2]); err != nil {
		return nil, failWrap(CodeMalformed, err, "signature is not base64url")
	}
	header, presentation, err := checkHeader(headerJSON, credentialOnly)
	if err != nil {
		return nil, err
	}
	key, err := checkSignature(token, header, resolve)
	if err != nil {
		return nil, err
	}

	doc, err := decodeObject(payload)
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
	res := &Result{Header: header, Presentation: presentation, Credential: doc, Payload: payload, Key: key}
	if presentation {
		if res.Enveloped, err = verifyEnveloped(doc, resolve, opts); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// checkHeader parses and checks the protected header. It reports whether
// the token is a presentation.
func checkHeader(headerJSON []byte, credentialOnly bool) (Header, bool, error) {
	h, err := decodeObject(headerJSON)
	if err != nil {
		return Header{}, false, failWrap(CodeMalformed, err, "protected header is not a JSON object")
	}
	var header Header
	for _, p := range []struct {
		name string
		dst  *string
	}{{"alg", &header.Alg}, {"kid", &header.KID}, {"typ", &header.Typ}, {"cty", &header.Cty}} {
		v, ok := h[p.name]
		if !ok {
			continue
		}
		s, isString := v.(string)
		if !isString {
			return Header{}, false, fail(CodeMalformed, "header parameter %q must be a string", p.name)
		}
		*p.dst = s
	}

	var presentation bool
	switch mediaType(header.Typ) {
	case TypCredential:
	case TypPresentation:
		presentation = true
	default:
		return Header{}, false, fail(CodeBadMediaType, "typ %q is neither %s nor %s", header.Typ, TypCredential, TypPresentation)
	}
	if presentation && credentialOnly {
		return Header{}, false, fail(CodeBadMediaType, "typ %q where a credential (%s) is expected", header.Typ, TypCredential)
	}
	wantCty := CtyCredential
	if presentation {
		wantCty = CtyPresentation
	}
	if _, ok := h["cty"]; ok && mediaType(header.Cty) != wantCty {
		return Header{}, false, fail(CodeBadMediaType, "cty %q does not fit typ %q (want %q)", header.Cty, header.Typ, wantCty)
	}

	if _, ok := allowedAlgs[header.Alg]; !ok {
		return Header{}, false, fail(CodeAlgNotAllowed, "alg %q is not allowed (only EdDSA, ES256, ES384, ES512)", header.Alg)
	}
	if crit, ok := h["crit"]; ok {
		return Header{}, false, fail(CodeUnsupportedCrit, "crit %v names parameters this verifier does not understand", crit)
	}
	if _, ok := h["b64"]; ok {
		return Header{}, false, fail(CodeMalformed, "header parameter \"b64\" is not allowed in a JWT")
	}
	if header.KID == "" {
		return Header{}, false, fail(CodeUnknownKID, "header has no kid")
	}
	return header, presentation, nil
}

// mediaType normalizes a typ or cty value: RFC 7515 lets "application/" be
// left out, and media types compare case-insensitively.
func mediaType(s string) string {
	s = strings.ToLower(s)
	return strings.TrimPrefix(s, "application/")
}

// checkSignature tries every resolved key whose type fits the header's alg
// and returns the one that verifies.
func checkSignature(token string, header Header, resolve KeyResolver) (crypto.PublicKey, error) {
	if resolve == nil {
		return nil, fail(CodeUnknownKID, "no key resolver to look up kid %q", header.KID)
	}
	found, err := resolve(header.KID)
	if err != nil {
		return nil, failWrap(CodeUnknownKID, err, "looking up kid %q", header.KID)
	}
	if len(found) == 0 {
		return nil, fail(CodeUnknownKID, "no key known for kid %q", header.KID)
	}
	var candidates []crypto.PublicKey
	var otherAlgs []string
	for _, k := range found {
		pub := rawPublicKey(k)
		alg, err := keys.AlgForKey(pub)
		if err != nil {
			otherAlgs = append(otherAlgs, "unsupported key")
			continue
		}
		if alg != header.Alg {
			otherAlgs = append(otherAlgs, alg)
			continue
		}
		candidates = append(candidates, pub)
	}
	if len(candidates) == 0 {
		return nil, fail(CodeAlgNotAllowed, "kid %q names a key for %s, but the header says alg %q", header.KID, strings.Join(otherAlgs, ", "), header.Alg)
	}
	alg := allowedAlgs[header.Alg]
	for _, pub := range candidates {
		if _, err := jws.Verify([]byte(token), jws.WithKey(alg, pub), jws.WithAlgorithmMatch(true)); err == nil {
			return pub, nil
		}
	}
	return nil, fail(CodeBadSignature, "signature does not verify with the %d key(s) for kid %q", len(candidates), header.KID)
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
// verifies each: only vc+jwt is supported here.
func verifyEnveloped(doc map[string]any, resolve KeyResolver, opts VerifyOptions) ([]Enveloped, error) {
	envs, err := envelopes(doc)
	if err != nil {
		return nil, err
	}
	if opts.SkipEnvelopedCredentials {
		return envs, nil
	}
	for i := range envs {
		if envs[i].MediaType != MediaTypeEnvelopedJWT {
			return nil, fail(CodeBadCredential, "verifiableCredential[%d] is %s; this verifier checks only %s", i, envs[i].MediaType, MediaTypeEnvelopedJWT)
		}
		r, err := verify(envs[i].Data, resolve, opts, true)
		if err != nil {
			return nil, failWrap(CodeBadCredential, err, "verifiableCredential[%d] does not verify", i)
		}
		envs[i].Result = r
	}
	return envs, nil
}
