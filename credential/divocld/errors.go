package divocld

import (
	"errors"
	"fmt"
)

// Code names why a certificate was refused. The values are stable: they
// appear in API responses and logs.
type Code string

// Failure codes of Verify and of the QR/zip reader.
const (
	CodeMalformed        Code = "malformed"         // not a JSON object, duplicate keys, not UTF-8, no proof, bad JWS encoding
	CodeTooLarge         Code = "too_large"         // certificate, archive or QR text over its limit (a zip bomb stops here)
	CodeUnsupportedProof Code = "unsupported_proof" // proof type other than Ed25519Signature2018/RsaSignature2018, several proofs, other purpose
	CodeAlgNotAllowed    Code = "alg_not_allowed"   // JWS header not exactly the one of the proof type, or a key of another type
	CodeUnknownContext   Code = "unknown_context"   // an @context URL the offline loader does not serve
	CodeDroppedTerm      Code = "dropped_term"      // safe mode: a property, type or value JSON-LD would drop from what is signed
	CodeBadJSONLD        Code = "bad_jsonld"        // JSON-LD processing failed (invalid context, invalid value, ...)
	CodeUnknownKey       Code = "unknown_key"       // the resolver has no key for the proof's verificationMethod
	CodeBadSignature     Code = "bad_signature"     // the signature does not verify: the certificate was changed, or signed by another key
	CodeNotYetValid      Code = "not_yet_valid"     // issuanceDate or proof.created after opts.Now
	CodeExpired          Code = "expired"           // expirationDate before opts.Now
	CodeBadZip           Code = "bad_zip"           // not a zip archive holding one certificate.json, or an unsupported one
)

// Error is a refusal with its code. Use CodeOf to read the code of any error.
type Error struct {
	Code   Code
	Detail string
	Err    error // the cause, if any
}

func (e *Error) Error() string {
	msg := "divocld: " + string(e.Code) + ": " + e.Detail
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
