package vccose

import (
	"errors"
	"fmt"
)

// Code names why a message was refused. The values are stable and the
// same as credential/vcjwt's for the same reasons.
type Code string

// Failure codes of Verify (and of Issue, for a bad credential).
const (
	CodeMalformed       Code = "malformed"        // not base64, not a COSE_Sign1, bad CBOR, or a payload that is not one JSON object without duplicate members
	CodeTooLarge        Code = "too_large"        // message longer than MaxMessageBytes
	CodeBadMediaType    Code = "bad_media_type"   // typ is not application/vc+cose / vp+cose, or cty does not fit it
	CodeAlgNotAllowed   Code = "alg_not_allowed"  // alg missing from the protected header, not EdDSA/ES256/ES384/ES512, or not the key's
	CodeUnsupportedCrit Code = "unsupported_crit" // crit lists header parameters this verifier does not understand
	CodeUnknownKID      Code = "unknown_kid"      // no kid, or the resolver knows no key for it
	CodeBadSignature    Code = "bad_signature"    // no candidate key verifies the signature
	CodeNotYetValid     Code = "not_yet_valid"    // validFrom after opts.Now
	CodeExpired         Code = "expired"          // validUntil before opts.Now
	CodeBadCredential   Code = "bad_credential"   // payload is not a VC/VP, or an enveloped credential fails
)

// Error is a refusal with its code. Use CodeOf to read the code of any error.
type Error struct {
	Code   Code
	Detail string
	Err    error // the cause, if any (for an enveloped credential, its own error)
}

func (e *Error) Error() string {
	msg := "vccose: " + string(e.Code) + ": " + e.Detail
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
