// Package vcjwt issues and verifies W3C Verifiable Credentials (VC Data
// Model 2.0) secured as JWTs, as "Securing Verifiable Credentials using
// JOSE and COSE" (VC-JOSE-COSE) defines: a compact JWS whose payload is the
// credential (typ vc+jwt) or presentation (typ vp+jwt) JSON itself.
package vcjwt

import (
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/divoc/divoc/keys"
)

// Media types (JOSE "typ") and content types ("cty") of VC-JOSE-COSE.
const (
	TypCredential   = "vc+jwt"
	TypPresentation = "vp+jwt"
	CtyCredential   = "vc"
	CtyPresentation = "vp"
)

// Issue signs a credential: credential is the VC JSON object, which becomes
// the JWS payload byte for byte. The protected header is
// {"alg", "kid", "typ":"vc+jwt", "cty":"vc"}. The credential must start its
// @context with the VC 2.0 context and have type VerifiableCredential.
func Issue(credential []byte, s *keys.Signer) (string, error) {
	return issue(credential, s, kindCredential)
}

// IssueEncoded is Issue for a credential this program encoded from a Go
// value with encoding/json, which cannot emit a duplicate member: it skips
// the duplicate-member walk (the costliest check, done for documents from
// elsewhere) and keeps every other check. The node issues thousands of
// certificates a second through it.
func IssueEncoded(credential []byte, s *keys.Signer) (string, error) {
	return issueDoc(credential, s, kindCredential, false)
}

// IssuePresentation signs a presentation (typ vp+jwt, cty vp). Every
// credential in it must be an EnvelopedVerifiableCredential.
func IssuePresentation(presentation []byte, s *keys.Signer) (string, error) {
	return issue(presentation, s, kindPresentation)
}

func issue(payload []byte, s *keys.Signer, k kind) (string, error) {
	return issueDoc(payload, s, k, true)
}

func issueDoc(payload []byte, s *keys.Signer, k kind, checkDuplicates bool) (string, error) {
	if s == nil {
		return "", fmt.Errorf("vcjwt: issue: nil signer")
	}
	if len(payload) > MaxTokenBytes {
		return "", fail(CodeTooLarge, "%s is %d bytes, more than %d", k, len(payload), MaxTokenBytes)
	}
	decode := decodeObject
	if !checkDuplicates {
		decode = decodeObjectTrusted
	}
	doc, err := decode(payload)
	if err != nil {
		return "", failWrap(CodeBadCredential, err, "%s is not a JSON object", k)
	}
	if err := checkDocument(doc, k); err != nil {
		return "", err
	}
	alg, ok := jwa.LookupSignatureAlgorithm(s.Alg())
	if !ok {
		return "", fmt.Errorf("vcjwt: issue: unknown algorithm %q", s.Alg())
	}
	typ, cty := TypCredential, CtyCredential
	if k == kindPresentation {
		typ, cty = TypPresentation, CtyPresentation
	}
	hdr := jws.NewHeaders()
	for _, p := range [][2]string{{jws.KeyIDKey, s.KID()}, {jws.TypeKey, typ}, {jws.ContentTypeKey, cty}} {
		if err := hdr.Set(p[0], p[1]); err != nil {
			return "", fmt.Errorf("vcjwt: issue: header %s: %w", p[0], err)
		}
	}
	token, err := jws.Sign(payload, jws.WithKey(alg, s.PrivateKey(), jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("vcjwt: issue: %w", err)
	}
	if len(token) > MaxTokenBytes {
		return "", fail(CodeTooLarge, "signed %s is %d bytes, more than %d", k, len(token), MaxTokenBytes)
	}
	return string(token), nil
}
