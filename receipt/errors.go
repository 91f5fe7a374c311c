package receipt

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable reason a document fails verification.
type Code string

// Failure codes. They never change meaning once released.
const (
	// CodeMalformed: the document cannot be read, is of another type, or
	// lacks a part.
	CodeMalformed Code = "malformed"
	// CodeWrongChain: the header is of another chain than the trusted one.
	CodeWrongChain Code = "wrong_chain"
	// CodeHeaderInvalid: the header is not a well-formed CometBFT header.
	CodeHeaderInvalid Code = "header_invalid"
	// CodeCommitInvalid: the commit is not a well-formed CometBFT commit.
	CodeCommitInvalid Code = "commit_invalid"
	// CodeCommitMismatch: the commit signs another block (the header was
	// changed, or the commit belongs to another height).
	CodeCommitMismatch Code = "commit_mismatch"
	// CodeValidatorsMismatch: the validator set is not the one the header
	// names (its hash differs from the header's validators_hash).
	CodeValidatorsMismatch Code = "validators_mismatch"
	// CodeBadSignature: a precommit signature does not verify.
	CodeBadSignature Code = "bad_signature"
	// CodeInsufficientPower: two-thirds or less of the block's voting
	// power signed it.
	CodeInsufficientPower Code = "insufficient_power"
	// CodeUntrustedValidators: the block's validators are not the trusted
	// ones, and not enough of the trusted voting power signed it.
	CodeUntrustedValidators Code = "untrusted_validators"
	// CodeHeightMismatch: the proofs' height is not the header's height - 1.
	CodeHeightMismatch Code = "height_mismatch"
	// CodeBatchProof: the batch commitment's ICS23 proof does not lead to
	// the header's app hash.
	CodeBatchProof Code = "batch_proof_invalid"
	// CodeStatusProof: the status entry's ICS23 proof does not lead to the
	// header's app hash.
	CodeStatusProof Code = "status_proof_invalid"
	// CodeEntryProof: another entry's ICS23 proof (trust list, totals)
	// does not lead to the header's app hash.
	CodeEntryProof Code = "entry_proof_invalid"
	// CodeMerklePath: the leaf's Merkle path does not lead to the batch root.
	CodeMerklePath Code = "merkle_path_invalid"
	// CodeEntryMismatch: what the document shows differs from what is
	// proven (another certificate, another status, another value).
	CodeEntryMismatch Code = "entry_mismatch"
	// CodeNotAccepted: the certificate's event was refused by the ledger.
	CodeNotAccepted Code = "not_accepted"
	// CodeTooOld: the header is older than the policy's maximum age.
	CodeTooOld Code = "too_old"
	// CodeFromFuture: the header's time is ahead of the verifier's clock.
	CodeFromFuture Code = "from_future"
	// CodeStaleHeight: the proofs are at a height below the policy's minimum.
	CodeStaleHeight Code = "stale_height"
	// CodeCredentialMismatch: the credential is not the one anchored.
	CodeCredentialMismatch Code = "credential_mismatch"
)

// Error is a verification failure: a stable code and a reason for people.
type Error struct {
	Code   Code
	Reason string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Reason }

func fail(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of a verification failure ("" if err is not one).
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
