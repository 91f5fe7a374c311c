package receipt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/cometbft/cometbft/crypto/merkle"
	cmtmath "github.com/cometbft/cometbft/libs/math"
	"github.com/cometbft/cometbft/types"
)

// Policy is what a verifier demands beyond the proofs.
type Policy struct {
	// MaxAge: a document whose header is older than this fails with
	// too_old (0: no limit). The document's time is its header's time.
	MaxAge time.Duration
	// Now is the verifier's clock (zero: time.Now()).
	Now time.Time
	// MaxClockSkew: a header dated later than Now plus this fails with
	// from_future (0: DefaultMaxClockSkew).
	MaxClockSkew time.Duration
	// MinHeight: a document whose proofs are at a lower height fails with
	// stale_height (0: any). A verifier that has seen height N (a
	// revocation snapshot, a newer receipt) sets it to refuse older news.
	MinHeight int64
	// TrustLevel: when the block's validator set is not the pinned one,
	// more than this share of the pinned voting power must have signed
	// the block (zero: DefaultTrustLevel, 2/3). 1/3 is what CometBFT's
	// light client accepts when it skips across validator changes.
	TrustLevel cmtmath.Fraction
}

// DefaultMaxClockSkew is how far a header may be ahead of the verifier.
const DefaultMaxClockSkew = 10 * time.Minute

// Result is what a verified receipt proves.
type Result struct {
	ChainID     string `json:"chain_id"`
	Certificate string `json:"certificate"`
	// Status is active, revoked or superseded, as of Height.
	Status string `json:"status"`
	// StatusHeight, Reason and SupersededBy describe a revocation or
	// supersession.
	StatusHeight int64  `json:"status_height,omitempty"`
	Reason       string `json:"reason,omitempty"`
	SupersededBy string `json:"superseded_by,omitempty"`
	// Height is the state height the proofs are at; Time is the time of
	// the signed header (block Height+1).
	Height int64     `json:"height"`
	Time   time.Time `json:"time"`
	Anchor Anchor    `json:"anchor"`
	// Kind is the kind of the batch that anchored the certificate.
	Kind string `json:"kind"`
	// CredentialHash is the SHA-256 (hex) of the credential's bytes, as
	// anchored.
	CredentialHash string `json:"credential_hash"`
	Issuer         string `json:"issuer,omitempty"`
	Facility       string `json:"facility,omitempty"`
	// Replaces is the certificate a correction replaced.
	Replaces string `json:"replaces,omitempty"`
	// Event is the vaccination event of the leaf (non-personal facts).
	Event json.RawMessage `json:"event,omitempty"`
	// SignedPower of TotalPower of the block's validators signed it.
	SignedPower int64 `json:"signed_power"`
	TotalPower  int64 `json:"total_power"`
	// Validators is the verified validator set of block Height+1: a
	// verifier may pin it to follow validator changes.
	Validators *types.ValidatorSet `json:"-"`
}

// Active reports whether the certificate was neither revoked nor
// superseded at Height.
func (r *Result) Active() bool { return r.Status == StatusActive }

// CheckCredential checks that the credential (its exact bytes: the
// vc+jwt) is the one the ledger anchored.
func (r *Result) CheckCredential(credential []byte) error {
	h := sha256.Sum256(credential)
	if got := hex.EncodeToString(h[:]); got != r.CredentialHash {
		return fail(CodeCredentialMismatch, "the credential hashes to %s, the ledger anchors %s under %s", got, r.CredentialHash, r.Certificate)
	}
	return nil
}

var certIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// batchValue is the part of a batch commitment a verifier reads.
type batchValue struct {
	Facility string `json:"facility"`
	Issuer   string `json:"issuer"`
	Kind     string `json:"kind"`
	Root     string `json:"root"`
	Size     int    `json:"size"`
}

// statusValue is a revocation or supersession record.
type statusValue struct {
	Height       int64  `json:"height"`
	Reason       string `json:"reason"`
	Status       string `json:"status"`
	SupersededBy string `json:"superseded_by"`
}

type anchorLeaf struct {
	Certificate string `json:"certificate"`
	Hash        string `json:"hash"`
}

type recordLeaf struct {
	Anchor *anchorLeaf     `json:"anchor"`
	Event  json.RawMessage `json:"event"`
	Index  int             `json:"index"`
	Result string          `json:"result"`
}

type supersedeLeaf struct {
	Correction struct {
		Commitment string     `json:"commitment"`
		New        anchorLeaf `json:"new"`
		Old        string     `json:"old"`
		Reason     string     `json:"reason"`
	} `json:"correction"`
	Index  int    `json:"index"`
	Result string `json:"result"`
}

// Verify checks a status receipt against the trusted validators and the
// policy. On success the Result says what the ledger proved; on failure
// the error is an *Error with a stable Code. A receipt that proves a
// revocation verifies: check Result.Active.
func Verify(r *Receipt, trust Trust, policy Policy) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fail(CodeMalformed, "receipt: %v", p)
		}
	}()
	if r == nil || r.Type != TypeStatusReceipt {
		return nil, fail(CodeMalformed, "not a %s", TypeStatusReceipt)
	}
	if !certIDRE.MatchString(r.Certificate) {
		return nil, fail(CodeMalformed, "certificate id %q is not 8-64 base64url characters", r.Certificate)
	}
	c, err := r.Attestation.verify(&trust, policy.TrustLevel)
	if err != nil {
		return nil, err
	}
	if r.Height != c.StateHeight {
		return nil, fail(CodeHeightMismatch, "the proofs are said to be at height %d, the header (block %d) attests height %d", r.Height, c.StateHeight+1, c.StateHeight)
	}
	if r.ChainID != "" && r.ChainID != r.Attestation.SignedHeader.ChainID {
		return nil, fail(CodeEntryMismatch, "the receipt names chain %q, its header %q", r.ChainID, r.Attestation.SignedHeader.ChainID)
	}
	if r.Anchor.Height < 1 || r.Anchor.Height > r.Height || r.Anchor.Tx < 0 || r.Anchor.Pos < 0 {
		return nil, fail(CodeMalformed, "anchor %d/%d/%d is not a position at or before height %d", r.Anchor.Height, r.Anchor.Tx, r.Anchor.Pos, r.Height)
	}

	// The batch commitment, proven in the tree.
	bv, err := r.Batch.verify(c.AppHash, BatchKey(r.Anchor.Height, r.Anchor.Tx), CodeBatchProof)
	if err != nil {
		return nil, err
	}
	if bv == nil {
		return nil, fail(CodeBatchProof, "the batch %s is shown as absent", r.Batch.Key)
	}
	var batch batchValue
	if err := json.Unmarshal(bv, &batch); err != nil {
		return nil, fail(CodeMalformed, "batch commitment: %v", err)
	}
	root, err := hex.DecodeString(batch.Root)
	if err != nil || len(root) != sha256.Size {
		return nil, fail(CodeMalformed, "batch commitment root %q is not a SHA-256 in hex", batch.Root)
	}

	// The leaf, and its path to the batch root.
	leaf, err := canonicalJSON(r.Leaf)
	if err != nil {
		return nil, fail(CodeMalformed, "leaf: %v", err)
	}
	if r.Path.Index != r.Anchor.Pos || r.Path.Total != batch.Size {
		return nil, fail(CodeMerklePath, "the path is of leaf %d of %d, the anchor is at position %d of a batch of %d", r.Path.Index, r.Path.Total, r.Anchor.Pos, batch.Size)
	}
	if len(r.Path.Aunts) > 64 {
		return nil, fail(CodeMerklePath, "a path of %d aunts", len(r.Path.Aunts))
	}
	aunts := make([][]byte, len(r.Path.Aunts))
	for i, a := range r.Path.Aunts {
		aunts[i] = a
	}
	mp := merkle.Proof{Total: int64(r.Path.Total), Index: int64(r.Path.Index), LeafHash: leafHash(leaf), Aunts: aunts}
	if err := mp.Verify(root, leaf); err != nil {
		return nil, fail(CodeMerklePath, "the leaf's Merkle path does not lead to the batch root %s: %v", batch.Root, err)
	}

	res = &Result{ChainID: c.ChainID, Certificate: r.Certificate, Height: c.StateHeight, Time: c.Time, Anchor: r.Anchor, Kind: batch.Kind,
		Issuer: batch.Issuer, Facility: batch.Facility, SignedPower: c.SignedPower, TotalPower: c.TotalPower, Validators: c.Validators}
	if err := readLeaf(leaf, batch.Kind, r, res); err != nil {
		return nil, err
	}

	// The status entry: absent (active), or the record of a revocation or
	// supersession.
	sv, err := r.StatusEntry.verify(c.AppHash, StatusKey(r.Certificate), CodeStatusProof)
	if err != nil {
		return nil, err
	}
	if sv == nil {
		res.Status = StatusActive
	} else {
		var st statusValue
		if err := json.Unmarshal(sv, &st); err != nil {
			return nil, fail(CodeMalformed, "status record: %v", err)
		}
		if st.Status != StatusRevoked && st.Status != StatusSuperseded {
			return nil, fail(CodeMalformed, "status record says %q", st.Status)
		}
		res.Status, res.StatusHeight, res.Reason, res.SupersededBy = st.Status, st.Height, st.Reason, st.SupersededBy
	}
	if r.Status != res.Status {
		return nil, fail(CodeEntryMismatch, "the receipt says %q, the ledger proves %q at height %d", r.Status, res.Status, res.Height)
	}
	if err := policy.timely(c); err != nil {
		return nil, err
	}
	return res, nil
}

// readLeaf checks the leaf is the certificate's accepted anchor and fills
// the result from it.
func readLeaf(leaf []byte, kind string, r *Receipt, res *Result) error {
	switch kind {
	case KindRecord:
		var l recordLeaf
		if err := json.Unmarshal(leaf, &l); err != nil {
			return fail(CodeMalformed, "record leaf: %v", err)
		}
		if l.Anchor == nil || l.Anchor.Certificate != r.Certificate {
			return fail(CodeEntryMismatch, "the leaf anchors another certificate than %s", r.Certificate)
		}
		if l.Index != r.Anchor.Pos {
			return fail(CodeEntryMismatch, "the leaf is item %d, the anchor position %d", l.Index, r.Anchor.Pos)
		}
		if l.Result != "ok" {
			return fail(CodeNotAccepted, "the ledger refused this event (%s): the certificate was never valid", l.Result)
		}
		res.CredentialHash, res.Event = l.Anchor.Hash, l.Event
	case KindSupersede:
		var l supersedeLeaf
		if err := json.Unmarshal(leaf, &l); err != nil {
			return fail(CodeMalformed, "correction leaf: %v", err)
		}
		if l.Correction.New.Certificate != r.Certificate {
			return fail(CodeEntryMismatch, "the correction anchors another certificate than %s", r.Certificate)
		}
		if l.Index != r.Anchor.Pos {
			return fail(CodeEntryMismatch, "the leaf is item %d, the anchor position %d", l.Index, r.Anchor.Pos)
		}
		if l.Result != "ok" {
			return fail(CodeNotAccepted, "the ledger refused this correction (%s): the certificate was never valid", l.Result)
		}
		res.CredentialHash, res.Replaces = l.Correction.New.Hash, l.Correction.Old
	default:
		return fail(CodeEntryMismatch, "a batch of kind %q anchors no certificate", kind)
	}
	return nil
}

// String summarizes a result for people.
func (r *Result) String() string {
	s := fmt.Sprintf("certificate %s is %s as of height %d (%s), anchored at %d/%d/%d", r.Certificate, r.Status, r.Height, r.Time.UTC().Format(time.RFC3339), r.Anchor.Height, r.Anchor.Tx, r.Anchor.Pos)
	switch r.Status {
	case StatusRevoked:
		s += fmt.Sprintf("; revoked at height %d: %s", r.StatusHeight, r.Reason)
	case StatusSuperseded:
		s += fmt.Sprintf("; superseded by %s at height %d: %s", r.SupersededBy, r.StatusHeight, r.Reason)
	}
	return s
}
