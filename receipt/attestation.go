package receipt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmtmath "github.com/cometbft/cometbft/libs/math"
	"github.com/cometbft/cometbft/types"
)

// Attestation is the signed header of block H+1 (header and commit, in
// the JSON of CometBFT's RPC /commit) and the validator set of that block
// (in the JSON of CometBFT's validator set). The header's app hash is the
// IAVL root of height H, which the document's proofs lead to.
type Attestation struct {
	SignedHeader *types.SignedHeader
	Validators   *types.ValidatorSet
}

type attestationJSON struct {
	SignedHeader json.RawMessage `json:"signed_header"`
	ValidatorSet json.RawMessage `json:"validator_set"`
}

// MarshalJSON implements json.Marshaler.
func (a Attestation) MarshalJSON() ([]byte, error) {
	sh, err := cmtjson.Marshal(a.SignedHeader)
	if err != nil {
		return nil, err
	}
	vs, err := cmtjson.Marshal(a.Validators)
	if err != nil {
		return nil, err
	}
	return json.Marshal(attestationJSON{SignedHeader: sh, ValidatorSet: vs})
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *Attestation) UnmarshalJSON(b []byte) error {
	var w attestationJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = Attestation{}
	if len(w.SignedHeader) > 0 && string(w.SignedHeader) != "null" {
		a.SignedHeader = new(types.SignedHeader)
		if err := cmtjson.Unmarshal(w.SignedHeader, a.SignedHeader); err != nil {
			return fmt.Errorf("signed_header: %w", err)
		}
	}
	if len(w.ValidatorSet) > 0 && string(w.ValidatorSet) != "null" {
		a.Validators = new(types.ValidatorSet)
		if err := cmtjson.Unmarshal(w.ValidatorSet, a.Validators); err != nil {
			return fmt.Errorf("validator_set: %w", err)
		}
	}
	return nil
}

// checked is what a verified attestation vouches for.
type checked struct {
	ChainID string
	// StateHeight is H: the header's height - 1.
	StateHeight int64
	Time        time.Time
	AppHash     []byte
	Validators  *types.ValidatorSet
	// SignedPower and TotalPower are the block's validators' power that
	// signed, and their total.
	SignedPower, TotalPower int64
}

// verify checks the header is signed by more than two-thirds of its
// validator set and that set is trusted: it is the pinned one, or more
// than the trust level of the pinned voting power signed too.
func (a *Attestation) verify(trust *Trust, level cmtmath.Fraction) (*checked, error) {
	sh := a.SignedHeader
	if sh == nil || sh.Header == nil || sh.Commit == nil {
		return nil, fail(CodeMalformed, "the attestation has no signed header (header and commit)")
	}
	vals := a.Validators
	if vals == nil || len(vals.Validators) == 0 {
		return nil, fail(CodeMalformed, "the attestation has no validator set")
	}
	if trust == nil || trust.Validators == nil || len(trust.Validators.Validators) == 0 {
		return nil, fail(CodeMalformed, "no trusted validators to verify against")
	}
	h, c := sh.Header, sh.Commit
	if trust.ChainID != "" && h.ChainID != trust.ChainID {
		return nil, fail(CodeWrongChain, "the header is of chain %q, the trusted validators are of %q", h.ChainID, trust.ChainID)
	}
	if err := h.ValidateBasic(); err != nil {
		return nil, fail(CodeHeaderInvalid, "header: %v", err)
	}
	if err := c.ValidateBasic(); err != nil {
		return nil, fail(CodeCommitInvalid, "commit: %v", err)
	}
	if c.Height != h.Height {
		return nil, fail(CodeCommitMismatch, "the commit is for height %d, the header is %d", c.Height, h.Height)
	}
	if hh := h.Hash(); !bytes.Equal(c.BlockID.Hash, hh) {
		return nil, fail(CodeCommitMismatch, "the commit signs block %X, the header hashes to %X (the header was altered)", c.BlockID.Hash, hh)
	}
	if err := checkPowers(vals); err != nil {
		return nil, err
	}
	if err := vals.ValidateBasic(); err != nil {
		return nil, fail(CodeMalformed, "validator set: %v", err)
	}
	if vh := vals.Hash(); !bytes.Equal(vh, h.ValidatorsHash) {
		return nil, fail(CodeValidatorsMismatch, "the validator set hashes to %X, the header names %X", vh, h.ValidatorsHash)
	}
	if err := vals.VerifyCommitLightAllSignatures(h.ChainID, c.BlockID, h.Height, c); err != nil {
		return nil, commitFailure(err, CodeInsufficientPower, "of the block's validators")
	}
	if !bytes.Equal(trust.Validators.Hash(), h.ValidatorsHash) {
		if level.Denominator == 0 {
			level = DefaultTrustLevel
		}
		if level.Numerator*3 < level.Denominator || level.Numerator > level.Denominator {
			return nil, fail(CodeMalformed, "trust level %v is outside [1/3, 1]", level)
		}
		if err := trust.Validators.VerifyCommitLightTrustingAllSignatures(h.ChainID, c, level); err != nil {
			return nil, commitFailure(err, CodeUntrustedValidators, fmt.Sprintf("of the trusted validators (the block's set differs from the pinned one; %d/%d of the pinned power must sign)", level.Numerator, level.Denominator))
		}
	}
	var signed int64
	for i, s := range c.Signatures {
		if s.BlockIDFlag == types.BlockIDFlagCommit && i < len(vals.Validators) {
			signed += vals.Validators[i].VotingPower
		}
	}
	return &checked{ChainID: h.ChainID, StateHeight: h.Height - 1, Time: h.Time, AppHash: h.AppHash, Validators: vals, SignedPower: signed, TotalPower: vals.TotalVotingPower()}, nil
}

// checkPowers refuses a set whose total power CometBFT would panic on.
func checkPowers(vals *types.ValidatorSet) error {
	var total int64
	for _, v := range vals.Validators {
		if v == nil {
			return fail(CodeMalformed, "validator set: a null validator")
		}
		if v.VotingPower < 0 || v.VotingPower > types.MaxTotalVotingPower {
			return fail(CodeMalformed, "validator set: power %d out of range", v.VotingPower)
		}
		if total += v.VotingPower; total > types.MaxTotalVotingPower {
			return fail(CodeMalformed, "validator set: total power over CometBFT's maximum")
		}
	}
	return nil
}

func commitFailure(err error, powerCode Code, whose string) error {
	var np types.ErrNotEnoughVotingPowerSigned
	switch {
	case errors.As(err, &np):
		return fail(powerCode, "voting power %d %s signed; more than %d is needed", np.Got, whose, np.Needed)
	case strings.Contains(err.Error(), "wrong signature"):
		return fail(CodeBadSignature, "%v", err)
	}
	return fail(CodeCommitInvalid, "%v", err)
}

// timely applies the policy's clock checks to a header time and the
// minimum height to the state height.
func (p *Policy) timely(c *checked) error {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	skew := p.MaxClockSkew
	if skew == 0 {
		skew = DefaultMaxClockSkew
	}
	if c.Time.After(now.Add(skew)) {
		return fail(CodeFromFuture, "the header is dated %s, after the verifier's clock %s", c.Time.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if age := now.Sub(c.Time); p.MaxAge > 0 && age > p.MaxAge {
		return fail(CodeTooOld, "the proof is of %s (height %d), %s old; the policy allows %s", c.Time.UTC().Format(time.RFC3339), c.StateHeight, age.Round(time.Second), p.MaxAge)
	}
	if p.MinHeight > 0 && c.StateHeight < p.MinHeight {
		return fail(CodeStaleHeight, "the proof is of height %d; the policy needs at least %d", c.StateHeight, p.MinHeight)
	}
	return nil
}
