package app

import (
	"fmt"

	"github.com/divoc/divoc/internal/strictjson"
)

// certificate.revoke/v1: the issuing authority revokes certificates it
// issued. Part 0, typ "divoc-revoke+json", issuer-signed: RevokeStatement.
// Each revocation is an item: an unknown, foreign or already revoked
// certificate is refused on its own. Accepted revocations are written under
// status/<id> in the tree, so a verifier can prove both a revocation and,
// with a non-membership proof, its absence.

// TypRevoke is the part type of a revocation.
const TypRevoke = "divoc-revoke+json"

// RevokeStatement lists certificates to revoke.
type RevokeStatement struct {
	Issuer      string       `json:"issuer"`
	Revocations []Revocation `json:"revocations"`
}

// Revocation is one certificate and why. The reason is a code (see
// ReasonCodes), never free text: an operator's note could name the person,
// and the ledger holds no personal data. Notes stay in the node's vault.
type Revocation struct {
	Certificate string `json:"certificate"`
	Reason      string `json:"reason"`
}

// ReasonCodes are the reasons a certificate is revoked or corrected.
var ReasonCodes = []string{"issued_in_error", "duplicate", "data_correction", "wrong_person", "fraud", "vaccine_recall", "holder_request", "other"}

// RevokeLeaf is the data of one leaf of a revocation batch.
type RevokeLeaf struct {
	Index      int        `json:"index"`
	Result     Code       `json:"result"`
	Revocation Revocation `json:"revocation"`
}

type revokeTx struct {
	part *signedPart
	stmt RevokeStatement
}

func decodeRevoke(tx *Tx) (body, *Error) {
	if len(tx.Parts) != 1 {
		return nil, reject(CodeMalformed, "a revocation has exactly one part")
	}
	r := &revokeTx{}
	var e *Error
	if r.part, e = decodePart(tx.Parts[0], TypRevoke, &r.stmt); e != nil {
		return nil, e
	}
	if len(r.stmt.Revocations) == 0 {
		return nil, reject(CodeMalformed, "nothing to revoke")
	}
	return r, nil
}

func (r *revokeTx) parts() []*signedPart { return []*signedPart{r.part} }

func (r *revokeTx) authorize(c *execCtx, keys []*Key) *Error {
	if n := len(r.stmt.Revocations); n > c.params.MaxEventsPerTx {
		return reject(CodeTooLarge, fmt.Sprintf("%d revocations in one batch, the limit is %d", n, c.params.MaxEventsPerTx))
	}
	a, e := authorityWithRole(c, keys[0], RoleIssuer)
	if e != nil {
		return e
	}
	if a.ID != r.stmt.Issuer {
		return reject(CodeUnauthorized, fmt.Sprintf("statement names issuer %s but is signed by %s", r.stmt.Issuer, a.ID))
	}
	return nil
}

func (r *revokeTx) apply(c *execCtx, _ []*Key) *TxResult {
	res := &TxResult{Code: OK, Kind: KindRevoke, Items: make([]ItemResult, len(r.stmt.Revocations))}
	leaves := make([][]byte, len(r.stmt.Revocations))
	accepted := 0
	for i, rv := range r.stmt.Revocations {
		item := revokeOne(c, r.stmt.Issuer, rv.Certificate, rv.Reason, CertRevoked, "")
		if item.Code == OK {
			accepted++
		}
		res.Items[i] = item
		b, _ := strictjson.Marshal(RevokeLeaf{Index: i, Result: item.Code, Revocation: rv})
		leaves[i] = LeafHash(b)
	}
	c.blk.totals.Revocations += int64(accepted)
	res.Batch = writeBatch(c, BatchCommitment{Accepted: accepted, Issuer: r.stmt.Issuer, Kind: KindRevoke, Rejected: len(leaves) - accepted, Size: len(leaves), Tx: c.txHash}, leaves)
	return res
}

// revokeOne marks certificate id revoked or superseded, if issuer issued it
// and it is still active.
func revokeOne(c *execCtx, issuer, id, reason, status, supersededBy string) ItemResult {
	if !contains(ReasonCodes, reason) {
		return ItemResult{Certificate: id, Code: CodeMalformedEvent, Reason: fmt.Sprintf("reason %q is not one of the codes %v (free text stays off the ledger)", reason, ReasonCodes)}
	}
	var rec CertRecord
	found, err := c.ixGet(certKey(id), &rec)
	if err != nil || !found {
		return ItemResult{Certificate: id, Code: CodeUnknownCert, Reason: fmt.Sprintf("certificate %q is not anchored on the ledger", id)}
	}
	if rec.Issuer != issuer {
		return ItemResult{Certificate: id, Code: CodeNotIssuer, Reason: fmt.Sprintf("certificate %s was issued by %s, not %s", id, rec.Issuer, issuer)}
	}
	st, err := getJSON[CertStatus](c, StatusKey(id))
	if err != nil {
		return ItemResult{Certificate: id, Code: CodeMalformedEvent, Reason: err.Error()}
	}
	if st != nil {
		return ItemResult{Certificate: id, Code: CodeAlreadyRevoked, Reason: fmt.Sprintf("certificate %s is already %s (height %d)", id, st.Status, st.Height)}
	}
	c.setJSON(StatusKey(id), CertStatus{Height: c.height, Reason: reason, Status: status, SupersededBy: supersededBy})
	c.blk.events = append(c.blk.events, BlockEvent{Kind: EventRevocation, Certificate: id, Status: status, Reason: reason, Facility: rec.Facility, Date: rec.Event.Date, Vaccine: rec.Event.Vaccine, Batch: rec.Event.Batch})
	return ItemResult{Certificate: id, Code: OK}
}
