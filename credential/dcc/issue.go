package dcc

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"encoding/json"
	"time"

	"github.com/veraison/go-cose"

	"github.com/divoc/divoc/credential/base45"
)

// Issue signs a vaccination DCC: the CWT {1: iss, 4: exp, 6: iat,
// -260: {1: p}} in a COSE_Sign1 (tag 18) with ES256 and the protected
// header {1: -7, 4: kid}, compressed with zlib, base45-encoded and
// prefixed "HC1:". iss is the signer's country. p must validate against
// the DCC schema 1.3 and its codes must be in the value sets; the signer's
// certificate must allow vaccination certificates and cover iat to exp.
// Times are written in whole seconds.
func Issue(p Payload, signer *DocumentSigner, iat, exp time.Time) (string, error) {
	if signer == nil {
		return "", fail(CodeBadSigner, "no document signer")
	}
	if len(p.V) != 1 {
		return "", fail(CodeNotVaccination, "a vaccination DCC has exactly one v entry, this has %d", len(p.V))
	}
	hcertJSON, err := json.Marshal(p)
	if err != nil {
		return "", failWrap(CodeSchema, err, "encode the DCC as JSON")
	}
	if err := ValidateSchema(hcertJSON); err != nil {
		return "", err
	}
	var hcert map[string]any
	dec := json.NewDecoder(bytes.NewReader(hcertJSON))
	dec.UseNumber()
	if err := dec.Decode(&hcert); err != nil {
		return "", failWrap(CodeSchema, err, "decode the DCC JSON")
	}
	if err := checkValueSets(hcert); err != nil {
		return "", err
	}
	cert := signer.Certificate()
	if !AllowsType(cert, TypeVaccination) {
		return "", fail(CodeBadSigner, "the DSC's extended key usage %v does not allow vaccination certificates", cert.UnknownExtKeyUsage)
	}
	iat, exp = iat.Truncate(time.Second), exp.Truncate(time.Second)
	if !iat.Before(exp) {
		return "", fail(CodeBadSigner, "exp %s is not after iat %s", exp.UTC().Format(time.RFC3339), iat.UTC().Format(time.RFC3339))
	}
	if iat.Before(cert.NotBefore) || exp.After(cert.NotAfter) {
		return "", fail(CodeBadSigner, "iat %s to exp %s is not within the DSC's validity %s to %s",
			iat.UTC().Format(time.RFC3339), exp.UTC().Format(time.RFC3339),
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}

	return signHC1(signer, p, iat, exp)
}

// signHC1 writes the CWT around hcert, signs it and wraps it as HC1,
// without Issue's checks.
func signHC1(signer *DocumentSigner, hcert any, iat, exp time.Time) (string, error) {
	claims := map[int]any{
		claimIss:   signer.Country(),
		claimExp:   exp.Unix(),
		claimIat:   iat.Unix(),
		claimHCert: map[int]any{hcertV1: hcert},
	}
	payload, err := encMode.Marshal(claims)
	if err != nil {
		return "", failWrap(CodeBadCWT, err, "encode the CWT")
	}
	coseBytes, err := signCOSE(signer, payload)
	if err != nil {
		return "", err
	}
	return wrapHC1(coseBytes)
}

// signCOSE makes a COSE_Sign1 (tag 18) with ES256 and the protected
// header {1: -7, 4: kid}.
func signCOSE(signer *DocumentSigner, payload []byte) ([]byte, error) {
	coseSigner, err := cose.NewSigner(cose.AlgorithmES256, signer.key)
	if err != nil {
		return nil, failWrap(CodeBadSigner, err, "ES256 signer")
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = signer.KID()
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, coseSigner); err != nil {
		return nil, failWrap(CodeBadSigner, err, "sign")
	}
	out, err := msg.MarshalCBOR()
	if err != nil {
		return nil, failWrap(CodeBadCOSE, err, "encode the COSE_Sign1")
	}
	return out, nil
}

// wrapHC1 compresses a COSE message with zlib, encodes it in base45 and
// prefixes "HC1:".
func wrapHC1(coseBytes []byte) (string, error) {
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write(coseBytes); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return Prefix + base45.Encode(z.Bytes()), nil
}
