package vcjwt

import (
	"errors"
	"fmt"
)

// Code names why a token was refused. The values are stable: they appear in
// API responses and logs.
type Code string

// Failure codes of Verify (and of Issue, for a bad credential).
const (
	CodeMalformed       Code = "malformed"        // not a compact JWS, bad base64url, bad or duplicate-key JSON
	CodeTooLarge        Code = "too_large"        // token longer than MaxTokenBytes
	CodeBadMediaType    Code = "bad_media_type"   // typ is not vc+jwt / vp+jwt, or cty does not fit it
	CodeAlgNotAllowed   Code = "alg_not_allowed"  // none, HS*, RS*, or an alg that does not fit the key
	CodeUnsupportedCrit Code = "unsupported_crit" // a crit header parameter this verifier does not understand
	CodeUnknownKID      Code = "unknown_kid"      // no kid, or the resolver knows no key for it
	CodeBadSignature    Code = "bad_signature"    // no candidate key verifies the signature
	CodeNotYetValid     Code = "not_yet_valid"    // validFrom or nbf after opts.Now
	CodeExpired         Code = "expired"          // validUntil or exp before opts.Now
	CodeBadCredential   Code = "bad_credential"   // payload is not a valid VC/VP, or an enveloped credential fails
)

// Error is a refusal with its code. Use CodeOf to read the code of any error.
type Error struct {
	Code   Code
	Detail string
	Err    error // the cause, if any (for an enveloped credential, its own *Error)
}

func (e *Error) Error() string {
	msg := "vcjwt: " + string(e.Code) + ": " + e.Detail
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
