package app

import (
	"github.com/divoc/divoc/internal/strictjson"
	"strings"
	"testing"
)

func TestRevoke(t *testing.T) {
	tc := newTestChain(t)
	res := tc.block(tc.record("DEL010", []Event{tc.event("a", 1), tc.event("b", 1)}, true))
	mustOK(t, res[0])
	certA, certB := res[0].Items[0].Certificate, res[0].Items[1].Certificate

	stmt := RevokeStatement{Issuer: "moh", Revocations: []Revocation{
		{Certificate: certA, Reason: "issued_in_error"},
		{Certificate: "nosuchcert1", Reason: "other"},
		{Certificate: certA, Reason: "other"},
		{Certificate: certB, Reason: "Aadhaar 498252623600, call 6319184959"},
	}}
	res = tc.block(tc.tx(KindRevoke, tc.part(TypRevoke, tc.issuer, stmt)))
	mustOK(t, res[0])
	// Free text is refused: it could carry personal data onto the ledger.
	want := []Code{OK, CodeUnknownCert, CodeAlreadyRevoked, CodeMalformedEvent}
	for i, w := range want {
		if res[0].Items[i].Code != w {
			t.Fatalf("item %d: %+v, want %s", i, res[0].Items[i], w)
		}
	}
	s := tc.app.Committed()
	st := s.Status(certA)
	if st == nil || st.Status != CertRevoked || st.Height != tc.height || st.Reason != "issued_in_error" {
		t.Fatalf("status of revoked certificate: %+v", st)
	}
	if s.Status(certB) != nil {
		t.Fatal("unrelated certificate has a status")
	}
	// Absence of a revocation is provable.
	v, proof, err := s.Prove(StatusKey(certB))
	if err != nil || v != nil || proof.GetNonexist() == nil {
		t.Fatalf("non-membership proof: v=%q proof=%v err=%v", v, proof, err)
	}
	if s.Totals().Revocations != 1 {
		t.Fatalf("totals: %+v", s.Totals())
	}
}

func TestRevokeRefusedToOthers(t *testing.T) {
	tc := newTestChain(t)
	res := tc.block(tc.record("DEL010", []Event{tc.event("a", 1)}, true))
	cert := res[0].Items[0].Certificate
	stmt := RevokeStatement{Issuer: "moh", Revocations: []Revocation{{Certificate: cert, Reason: "other"}}}
	// A facility cannot revoke, nor can a governance key.
	r := tc.block(tc.tx(KindRevoke, tc.part(TypRevoke, tc.fac["DEL010"], stmt)))[0]
	if r.Code != CodeUnauthorized {
		t.Fatalf("facility revoked: %s", r.Code)
	}
	r = tc.block(tc.tx(KindRevoke, tc.part(TypRevoke, tc.gov, stmt)))[0]
	if r.Code != CodeUnauthorized || !strings.Contains(r.Reason, "issuer") {
		t.Fatalf("governance key revoked: %s %s", r.Code, r.Reason)
	}
	if tc.app.Committed().Status(cert) != nil {
		t.Fatal("certificate revoked by an unauthorized signer")
	}
}

func TestSupersede(t *testing.T) {
	tc := newTestChain(t)
	res := tc.block(tc.record("DEL010", []Event{tc.event("a", 1)}, true))
	old := res[0].Items[0].Certificate
	corr := Correction{Commitment: hexOf("fixed name"), New: Anchor{Certificate: "corrected0001", Hash: hexOf("new credential")}, Old: old, Reason: "data_correction"}
	res = tc.block(tc.tx(KindSupersede, tc.part(TypSupersede, tc.issuer, SupersedeStatement{Corrections: []Correction{corr}, Issuer: "moh"})))
	mustOK(t, res[0])
	if res[0].Items[0].Code != OK {
		t.Fatalf("correction: %+v", res[0].Items[0])
	}
	s := tc.app.Committed()
	if st := s.Status(old); st == nil || st.Status != CertSuperseded || st.SupersededBy != "corrected0001" {
		t.Fatalf("old status: %+v", st)
	}
	rec, _ := tc.app.Certificate(s, "corrected0001")
	oldRec, _ := tc.app.Certificate(s, old)
	if rec == nil || rec.Replaces != old || rec.EventAt != oldRec.EventAt || rec.Event.Commitment != corr.Commitment || rec.Event.Dose != 1 {
		t.Fatalf("new record: %+v", rec)
	}
	// The new anchor proves into the correction batch.
	leaves, _ := tc.app.BatchLeaves(s, tc.height, 0)
	leaf := leafOfSupersede(corr, 0)
	if !VerifyMerkleProof(MerkleRoot(leaves), leaf, 0, len(leaves), MerkleProof(leaves, 0)) {
		t.Fatal("correction leaf not in its batch")
	}
	// Superseding again, or reusing the id, is refused.
	corr2 := corr
	corr2.New.Certificate = "corrected0002"
	res = tc.block(tc.tx(KindSupersede, tc.part(TypSupersede, tc.issuer, SupersedeStatement{Corrections: []Correction{corr2, {Commitment: corr.Commitment, New: corr.New, Old: "corrected0001", Reason: "data_correction"}}, Issuer: "moh"})))
	if res[0].Items[0].Code != CodeAlreadyRevoked || res[0].Items[1].Code != CodeDuplicateCert {
		t.Fatalf("second correction: %+v", res[0].Items)
	}
}

func leafOfSupersede(c Correction, i int) []byte {
	b, _ := strictjson.Marshal(SupersedeLeaf{Correction: c, Index: i, Result: OK})
	return LeafHash(b)
}

// Iterate with an empty prefix walks the whole tree.
func TestSnapshotIterateAll(t *testing.T) {
	tc := newTestChain(t)
	n, prefixes := 0, map[string]bool{}
	tc.app.Committed().Iterate("", func(k string, _ []byte) bool {
		n++
		prefixes[k[:strings.IndexByte(k, '/')]] = true
		return false
	})
	if n < 10 || !prefixes["reg"] || !prefixes["key"] || !prefixes["meta"] {
		t.Fatalf("iterated %d keys, prefixes %v", n, prefixes)
	}
}
