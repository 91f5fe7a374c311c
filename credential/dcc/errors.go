package dcc

import (
	"errors"
	"fmt"
)

// Code names why a step failed (or why Issue refused). The values are
// stable: they appear in API responses and logs.
type Code string

// Failure codes.
const (
	CodeTooLarge           Code = "too_large"           // input longer than MaxHC1Bytes
	CodeBadPrefix          Code = "bad_prefix"          // not "HC1:" (another or no context identifier)
	CodeDoubleEncoded      Code = "double_encoded"      // "HC1:HC1:...": a prefixed string encoded again
	CodeBadBase45          Code = "bad_base45"          // not RFC 9285 base45
	CodeBadCompression     Code = "bad_compression"     // not a complete zlib stream
	CodeDecompressionLimit Code = "decompression_limit" // zlib output over MaxDecompressedBytes (a zip bomb)
	CodeBadCOSE            Code = "bad_cose"            // not a COSE_Sign1 (tagged 18, untagged, or 61(18(...)))
	CodeBadCWT             Code = "bad_cwt"             // payload is not a CWT with an hcert (claim -260, key 1)
	CodeAlgNotAllowed      Code = "alg_not_allowed"     // alg is not ES256 or PS256, or does not fit the key
	CodeUnknownKID         Code = "unknown_kid"         // no kid, or the trust list has no certificate for it
	CodeBadSignature       Code = "bad_signature"       // no certificate with that kid verifies the signature
	CodeKeyUsage           Code = "key_usage"           // the signer's extended key usage does not allow this certificate type
	CodeNotYetValid        Code = "not_yet_valid"       // iat after the clock
	CodeExpired            Code = "expired"             // exp before the clock
	CodeSignerNotValid     Code = "signer_not_valid"    // iat before the signer certificate's notBefore, or exp after its notAfter
	CodeNoClock            Code = "no_clock"            // Verify was given the zero time
	CodeSchema             Code = "schema"              // hcert does not validate against the DCC JSON schema 1.3
	CodeUnknownCode        Code = "unknown_code"        // a coded field is not in its EU value set
	CodeNotVaccination     Code = "not_vaccination"     // Issue: only vaccination entries are issued
	CodeNoEUCodes          Code = "no_eu_codes"         // FromVaccination: the vaccine has no EU value-set codes
	CodeBadVaccination     Code = "bad_vaccination"     // FromVaccination: a fact cannot be expressed in a DCC
	CodeBadSigner          Code = "bad_signer"          // Issue: the document signer cannot sign this (key, validity, usage)
	CodeNotRun             Code = "not_run"             // a step that an earlier failure made impossible
)

// Error is a refusal with its code. Use CodeOf to read the code of any error.
type Error struct {
	Code   Code
	Detail string
	Err    error
}

func (e *Error) Error() string {
	msg := "dcc: " + string(e.Code) + ": " + e.Detail
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
