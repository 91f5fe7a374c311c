package vccose

import (
	"crypto/rand"
	"fmt"

	"github.com/veraison/go-cose"

	"github.com/divoc/divoc/keys"
)

// Issue signs a credential: credential is the VC JSON object, which
// becomes the COSE payload byte for byte. The protected header is
// {1: alg, 3: "application/vc", 4: kid, 16: "application/vc+cose"}; the
// message is tagged 18. Use EncodeBase64 for its text form.
func Issue(credential []byte, s *keys.Signer) ([]byte, error) {
	return issue(credential, s, kindCredential)
}

// IssuePresentation signs a presentation (typ application/vp+cose, cty
// application/vp). Every credential in it must be an
// EnvelopedVerifiableCredential.
func IssuePresentation(presentation []byte, s *keys.Signer) ([]byte, error) {
	return issue(presentation, s, kindPresentation)
}

var coseAlgs = map[string]cose.Algorithm{
	keys.AlgEdDSA: cose.AlgorithmEdDSA,
	keys.AlgES256: cose.AlgorithmES256,
	keys.AlgES384: cose.AlgorithmES384,
	keys.AlgES512: cose.AlgorithmES512,
}

func issue(payload []byte, s *keys.Signer, k kind) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("vccose: issue: nil signer")
	}
	if len(payload) > MaxMessageBytes {
		return nil, fail(CodeTooLarge, "%s is %d bytes, more than %d", k, len(payload), MaxMessageBytes)
	}
	doc, err := decodeObject(payload)
	if err != nil {
		return nil, failWrap(CodeBadCredential, err, "%s is not a JSON object", k)
	}
	if err := checkDocument(doc, k); err != nil {
		return nil, err
	}
	alg, ok := coseAlgs[s.Alg()]
	if !ok {
		return nil, fail(CodeAlgNotAllowed, "issue: algorithm %q", s.Alg())
	}
	signer, err := cose.NewSigner(alg, s.PrivateKey())
	if err != nil {
		return nil, fmt.Errorf("vccose: issue: %w", err)
	}
	typ, cty := TypCredential, CtyCredential
	if k == kindPresentation {
		typ, cty = TypPresentation, CtyPresentation
	}
	m := cose.NewSign1Message()
	m.Headers.Protected.SetAlgorithm(alg)
	m.Headers.Protected[cose.HeaderLabelContentType] = cty
	m.Headers.Protected[cose.HeaderLabelKeyID] = []byte(s.KID())
	m.Headers.Protected[cose.HeaderLabelType] = typ
	m.Payload = payload
	if err := m.Sign(rand.Reader, nil, signer); err != nil {
		return nil, fmt.Errorf("vccose: issue: sign: %w", err)
	}
	out, err := m.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("vccose: issue: encode: %w", err)
	}
	if len(out) > MaxMessageBytes {
		return nil, fail(CodeTooLarge, "message is %d bytes, more than %d", len(out), MaxMessageBytes)
	}
	return out, nil
}
