package app

// Result codes. Every rejection, of a whole transaction or of one event in a
// batch, carries one of these stable codes and a reason that names the rule
// that failed. The numeric values are the ABCI codes of whole-transaction
// rejections; they never change meaning once released.

// Code is a stable, machine-readable rejection code.
type Code string

const (
	OK Code = "ok"

	// Whole-transaction codes (CheckTx and FinalizeBlock).
	CodeMalformed        Code = "malformed_tx"
	CodeTooLarge         Code = "tx_too_large"
	CodeUnknownKind      Code = "unknown_kind"
	CodeNotCanonical     Code = "not_canonical"
	CodeBadSignature     Code = "bad_signature"
	CodeUnauthorized     Code = "unauthorized_signer"
	CodeWrongChain       Code = "wrong_chain"
	CodeReplay           Code = "replayed_tx"
	CodeStale            Code = "stale_tx"
	CodeFacilityInactive Code = "facility_inactive"
	CodeUnknownFacility  Code = "unknown_facility"
	CodeAnchorMismatch   Code = "anchor_mismatch"
	CodeInvalidRegistry  Code = "invalid_registry_entry"
	CodeNeedsApproval    Code = "needs_approval"
	CodeUnknownProposal  Code = "unknown_proposal"
	CodeProposalClosed   Code = "proposal_closed"
	CodeAlreadyApproved  Code = "already_approved"
	// CodeRateLimited is a node's mempool policy, never a block's decision.
	CodeRateLimited Code = "rate_limited"

	// Per-item codes (one event, one anchor, one revocation).
	CodeMalformedEvent      Code = "malformed_event"
	CodeUnknownProgram      Code = "unknown_program"
	CodeUnknownVaccine      Code = "unknown_vaccine"
	CodeVaccineNotApproved  Code = "vaccine_not_in_program"
	CodeUnknownVaccinator   Code = "unknown_vaccinator"
	CodeVaccinatorElsewhere Code = "vaccinator_not_at_facility"
	CodeDoseOutOfRange      Code = "dose_out_of_range"
	CodeDuplicateDose       Code = "duplicate_dose"
	CodeFutureDate          Code = "future_date"
	CodeDateTooOld          Code = "date_too_old"
	CodeDuplicateCert       Code = "duplicate_certificate"
	CodeUnknownCert         Code = "unknown_certificate"
	CodeAlreadyRevoked      Code = "already_revoked"
	CodeNotIssuer           Code = "not_certificate_issuer"

	// Rollout policy (per event).
	CodeProgramNotRunning      Code = "program_not_running"
	CodeFacilityNotApproved    Code = "facility_not_approved"
	CodeVaccinatorNotCertified Code = "vaccinator_not_certified"
	CodeNotEligible            Code = "not_eligible"
	CodeIDTypeNotAccepted      Code = "identity_type_not_accepted"
	CodeDoseOutOfSequence      Code = "dose_out_of_sequence"
	CodeIntervalTooShort       Code = "interval_too_short"
	CodeIntervalTooLong        Code = "interval_too_long"
	CodeMixedSchedule          Code = "mixed_schedule"
	CodeBoosterNotDue          Code = "booster_not_due"
	CodeFacilityOverCap        Code = "facility_over_cap"
	CodeDistrictOverCap        Code = "district_over_cap"
	CodeBatchSuspended         Code = "batch_suspended"
	CodeFeedbackExists         Code = "feedback_exists"
)

// txCodes lists whole-transaction codes; a code's ABCI number is its index
// here, so 0 is OK. Append only.
var txCodes = []Code{
	OK,
	CodeMalformed,
	CodeTooLarge,
	CodeUnknownKind,
	CodeNotCanonical,
	CodeBadSignature,
	CodeUnauthorized,
	CodeWrongChain,
	CodeReplay,
	CodeStale,
	CodeFacilityInactive,
	CodeUnknownFacility,
	CodeAnchorMismatch,
	CodeInvalidRegistry,
	CodeRateLimited,
	CodeNeedsApproval,
	CodeUnknownProposal,
	CodeProposalClosed,
	CodeAlreadyApproved,
}

// ABCI returns the numeric ABCI code of a whole-transaction code (255 for a
// code that is only used per item).
func (c Code) ABCI() uint32 {
	for i, tc := range txCodes {
		if tc == c {
			return uint32(i)
		}
	}
	return 255
}

// CodeFromABCI is the inverse of ABCI.
func CodeFromABCI(n uint32) Code {
	if int(n) < len(txCodes) {
		return txCodes[n]
	}
	return CodeMalformed
}

// Error is a rejection: a code and the reason naming the rule that failed.
type Error struct {
	Code   Code   `json:"code"`
	Reason string `json:"reason"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Reason }

func reject(code Code, reason string) *Error { return &Error{Code: code, Reason: reason} }
