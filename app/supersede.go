package app

import (
	"fmt"

	"github.com/divoc/divoc/internal/strictjson"
)

// certificate.supersede/v1: a correction. The issuing authority replaces a
// certificate by a new one for the same vaccination event (a name fixed, a
// date corrected): the old one becomes superseded, pointing at the new one,
// and the new one is anchored in this transaction's batch.
// Part 0, typ "divoc-supersede+json", issuer-signed: SupersedeStatement.

// TypSupersede is the part type of a correction.
const TypSupersede = "divoc-supersede+json"

// SupersedeStatement lists corrections.
type SupersedeStatement struct {
	Corrections []Correction `json:"corrections"`
	Issuer      string       `json:"issuer"`
}

// Correction replaces certificate Old by New. Commitment is the keyed hash of
// the corrected personal details.
type Correction struct {
	Commitment string `json:"commitment"`
	New        Anchor `json:"new"`
	Old        string `json:"old"`
	Reason     string `json:"reason"`
}

// SupersedeLeaf is the data of one leaf of a correction batch.
type SupersedeLeaf struct {
	Correction Correction `json:"correction"`
	Index      int        `json:"index"`
	Result     Code       `json:"result"`
}

type supersedeTx struct {
	part *signedPart
	stmt SupersedeStatement
}

func decodeSupersede(tx *Tx) (body, *Error) {
	if len(tx.Parts) != 1 {
		return nil, reject(CodeMalformed, "a correction has exactly one part")
	}
	s := &supersedeTx{}
	var e *Error
	if s.part, e = decodePart(tx.Parts[0], TypSupersede, &s.stmt); e != nil {
		return nil, e
	}
	if len(s.stmt.Corrections) == 0 {
		return nil, reject(CodeMalformed, "nothing to correct")
	}
	return s, nil
}

func (s *supersedeTx) parts() []*signedPart { return []*signedPart{s.part} }

func (s *supersedeTx) authorize(c *execCtx, keys []*Key) *Error {
	if n := len(s.stmt.Corrections); n > c.params.MaxEventsPerTx {
		return reject(CodeTooLarge, fmt.Sprintf("%d corrections in one batch, the limit is %d", n, c.params.MaxEventsPerTx))
	}
	a, e := authorityWithRole(c, keys[0], RoleIssuer)
	if e != nil {
		return e
	}
	if a.ID != s.stmt.Issuer {
		return reject(CodeUnauthorized, fmt.Sprintf("statement names issuer %s but is signed by %s", s.stmt.Issuer, a.ID))
	}
	return nil
}

func (s *supersedeTx) apply(c *execCtx, _ []*Key) *TxResult {
	res := &TxResult{Code: OK, Kind: KindSupersede, Items: make([]ItemResult, len(s.stmt.Corrections))}
	leaves := make([][]byte, len(s.stmt.Corrections))
	accepted := 0
	for i, cr := range s.stmt.Corrections {
		item := s.correct(c, i, cr)
		if item.Code == OK {
			accepted++
		}
		res.Items[i] = item
		b, _ := strictjson.Marshal(SupersedeLeaf{Correction: cr, Index: i, Result: item.Code})
		leaves[i] = LeafHash(b)
	}
	c.blk.totals.Supersessions += int64(accepted)
	c.blk.totals.Certificates += int64(accepted)
	res.Batch = writeBatch(c, BatchCommitment{Accepted: accepted, Issuer: s.stmt.Issuer, Kind: KindSupersede, Rejected: len(leaves) - accepted, Size: len(leaves), Tx: c.txHash}, leaves)
	return res
}

func (s *supersedeTx) correct(c *execCtx, i int, cr Correction) ItemResult {
	if !certIDRE.MatchString(cr.New.Certificate) || !hexRE.MatchString(cr.New.Hash) || !hexRE.MatchString(cr.Commitment) {
		return ItemResult{Certificate: cr.New.Certificate, Code: CodeMalformedEvent, Reason: "new certificate id must be 8-64 base64url characters, hash and commitment 64 hex digits"}
	}
	var dup CertRecord
	if found, _ := c.ixGet(certKey(cr.New.Certificate), &dup); found {
		return ItemResult{Certificate: cr.New.Certificate, Code: CodeDuplicateCert, Reason: fmt.Sprintf("certificate id %s is already anchored at %s", cr.New.Certificate, dup.Anchor)}
	}
	var old CertRecord
	if found, _ := c.ixGet(certKey(cr.Old), &old); !found {
		return ItemResult{Certificate: cr.New.Certificate, Code: CodeUnknownCert, Reason: fmt.Sprintf("certificate %q is not anchored on the ledger", cr.Old)}
	}
	if item := revokeOne(c, s.stmt.Issuer, cr.Old, cr.Reason, CertSuperseded, cr.New.Certificate); item.Code != OK {
		item.Certificate = cr.New.Certificate
		return item
	}
	ev := old.Event
	ev.Commitment = cr.Commitment
	c.ixSet(certKey(cr.New.Certificate), CertRecord{
		Anchor: BatchRef{Height: c.height, Tx: c.txIdx, Pos: i}, Event: ev, EventAt: old.EventAt, Facility: old.Facility,
		Hash: cr.New.Hash, ID: cr.New.Certificate, Issuer: s.stmt.Issuer, Kind: KindSupersede, Replaces: cr.Old,
	})
	c.blk.events = append(c.blk.events, BlockEvent{Kind: EventCertificate, Certificate: cr.New.Certificate, Replaces: cr.Old, Facility: old.Facility, Date: ev.Date, Vaccine: ev.Vaccine, Batch: ev.Batch})
	return ItemResult{Certificate: cr.New.Certificate, Code: OK}
}
