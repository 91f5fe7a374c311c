package shc

import (
	"errors"
	"fmt"
)

// Code names why a card was refused. The values are stable: they appear in
// API responses and logs.
type Code string

// Failure codes of Verify and of the decoders (ParseQR, ParseFile, ParseCRL).
const (
	CodeMalformed       Code = "malformed"        // not a compact JWS, bad base64url, bad or duplicate-key JSON, bad file
	CodeTooLarge        Code = "too_large"        // JWS, QR text or inflated payload over its limit (a zip bomb stops here)
	CodeBadQR           Code = "bad_qr"           // not "shc:/" followed by digit pairs that spell a JWS
	CodeBadChunks       Code = "bad_chunks"       // multi-chunk QR: missing, repeated or inconsistent "C/N" numbering
	CodeAlgNotAllowed   Code = "alg_not_allowed"  // alg other than ES256, or kid naming a key that is not P-256
	CodeUnsupportedCrit Code = "unsupported_crit" // a crit header parameter
	CodeBadCompression  Code = "bad_compression"  // zip is not "DEF", or the payload is not raw DEFLATE
	CodeUnknownIssuer   Code = "unknown_issuer"   // the resolver knows no keys for iss
	CodeUnknownKID      Code = "unknown_kid"      // no kid, or no key with that kid among the issuer's keys
	CodeBadSignature    Code = "bad_signature"    // the ES256 signature does not verify
	CodeNotYetValid     Code = "not_yet_valid"    // nbf after opts.Now
	CodeExpired         Code = "expired"          // exp before opts.Now
	CodeBadCredential   Code = "bad_credential"   // payload is not a health card (iss, nbf, vc.type, credentialSubject, bundle)
	CodeRevoked         Code = "revoked"          // vc.rid is listed in the issuer's CRL for the kid
	CodeBadCRL          Code = "bad_crl"          // the CRL could not be fetched or read, or is for another kid
	CodeBadInput        Code = "bad_input"        // Issue: the vaccination or the options cannot make a card
)

// Error is a refusal with its code. Use CodeOf to read the code of any error.
type Error struct {
	Code   Code
	Detail string
	Err    error // the cause, if any
}

func (e *Error) Error() string {
	msg := "shc: " + string(e.Code) + ": " + e.Detail
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the code of the outermost *Error in err's chain, or "" if
// there is none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func fail(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

func failWrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...), Err: err}
}
