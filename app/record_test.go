package app

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRecordAcceptsValidBatchAndAnchorsCertificates(t *testing.T) {
	tc := newTestChain(t)
	events := []Event{tc.event("r1", 1), tc.event("r2", 1), tc.event("r3", 1)}
	res := tc.block(tc.record("DEL010", events, true))
	mustOK(t, res[0])
	for i, it := range res[0].Items {
		if it.Code != OK || it.Certificate == "" {
			t.Fatalf("event %d: %+v", i, it)
		}
	}
	if res[0].Batch == nil || res[0].Batch.Height != tc.height {
		t.Fatalf("batch info missing: %+v", res[0].Batch)
	}
	s := tc.app.Committed()
	bc := s.Batch(tc.height, 0)
	if bc == nil || bc.Accepted != 3 || bc.Size != 3 || bc.Facility != "DEL010" || bc.Issuer != "moh" {
		t.Fatalf("batch commitment: %+v", bc)
	}
	rec, err := tc.app.Certificate(s, res[0].Items[1].Certificate)
	if err != nil || rec == nil {
		t.Fatalf("certificate not indexed: %v", err)
	}
	if rec.Event != events[1] || rec.Anchor != (BatchRef{Height: tc.height, Tx: 0, Pos: 1}) {
		t.Fatalf("certificate record: %+v", rec)
	}
	// The leaf rebuilt from the record is in the committed root.
	leaves, _ := tc.app.BatchLeaves(s, tc.height, 0)
	leaf := RecordLeaf{Anchor: &Anchor{Certificate: rec.ID, Hash: rec.Hash}, Event: rec.Event, Index: 1, Result: OK}.Hash()
	root := MerkleRoot(leaves)
	if !VerifyMerkleProof(root, leaf, 1, len(leaves), MerkleProof(leaves, 1)) || hexString(root) != bc.Root {
		t.Fatal("leaf of certificate does not prove into the batch root")
	}
	if got := s.Totals(); got.EventsAccepted != 3 || got.Certificates != 3 {
		t.Fatalf("totals: %+v", got)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// Each rule, one event breaking it in a batch beside a valid one: the bad
// event is refused with its code and the valid one is still committed.
func TestRecordRejectsEachBadEventAndKeepsTheGoodOnes(t *testing.T) {
	cases := []struct {
		name string
		mod  func(tc *testChain, e *Event)
		code Code
	}{
		{"unknown program", func(_ *testChain, e *Event) { e.Program = "POLIO" }, CodeUnknownProgram},
		{"unknown vaccine", func(_ *testChain, e *Event) { e.Vaccine = "SPUTNIK" }, CodeUnknownVaccine},
		{"suspended vaccine", func(_ *testChain, e *Event) { e.Vaccine = "OLDVAX" }, CodeUnknownVaccine},
		{"vaccine not in program", func(_ *testChain, e *Event) { e.Vaccine = "MR" }, CodeVaccineNotApproved},
		{"unknown vaccinator", func(_ *testChain, e *Event) { e.Vaccinator = "Z9" }, CodeUnknownVaccinator},
		{"vaccinator from another facility", func(_ *testChain, e *Event) { e.Vaccinator = "A2" }, CodeVaccinatorElsewhere},
		{"dose zero", func(_ *testChain, e *Event) { e.Dose = 0 }, CodeDoseOutOfRange},
		{"dose beyond doses and boosters", func(_ *testChain, e *Event) { e.Dose = 4 }, CodeDoseOutOfRange},
		{"future date", func(tc *testChain, e *Event) {
			e.Date = tc.now.Add(48 * time.Hour).Format(time.DateOnly)
		}, CodeFutureDate},
		{"date beyond the backdating window", func(tc *testChain, e *Event) {
			e.Date = tc.now.AddDate(-2, 0, 0).Format(time.DateOnly)
		}, CodeDateTooOld},
		{"bad date", func(_ *testChain, e *Event) { e.Date = "2026-13-01" }, CodeMalformedEvent},
		{"recipient not a keyed hash", func(_ *testChain, e *Event) { e.Recipient = "Ravi Kumar" }, CodeMalformedEvent},
		{"unknown age band", func(_ *testChain, e *Event) { e.AgeBand = "37" }, CodeMalformedEvent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tc := newTestChain(t)
			bad := tc.event("bad", 1)
			c.mod(tc, &bad)
			res := tc.block(tc.record("DEL010", []Event{tc.event("good", 1), bad}, true))
			mustOK(t, res[0])
			if res[0].Items[0].Code != OK {
				t.Fatalf("good event refused: %+v", res[0].Items[0])
			}
			got := res[0].Items[1]
			if got.Code != c.code || got.Reason == "" {
				t.Fatalf("bad event: got %s (%s), want %s", got.Code, got.Reason, c.code)
			}
			// threat 5: the failed event's anchor fails with it.
			if got.Certificate != "" {
				t.Fatalf("rejected event has a certificate: %q", got.Certificate)
			}
			s := tc.app.Committed()
			if rec, _ := tc.app.Certificate(s, fmt.Sprintf("cert%s%d01", bad.Recipient[:8], bad.Dose)); rec != nil {
				t.Fatal("anchor of a rejected event was indexed")
			}
			if bc := s.Batch(tc.height, 0); bc.Accepted != 1 || bc.Rejected != 1 {
				t.Fatalf("batch counts: %+v", bc)
			}
		})
	}
}

// threat 4: the same recipient, program and dose from two facilities.
func TestRecordRejectsDuplicateDoseNamingTheFirst(t *testing.T) {
	tc := newTestChain(t)
	first := tc.event("dup", 1)
	res := tc.block(tc.record("DEL010", []Event{first}, true))
	mustOK(t, res[0])
	firstAt := fmt.Sprintf("%d/0/0", tc.height)
	firstCert := res[0].Items[0].Certificate

	second := first
	second.Vaccinator = "A2"
	second.Batch = "OTHER1"
	res = tc.block(tc.record("BLR311", []Event{second, tc.event("dup", 2)}, true))
	mustOK(t, res[0])
	got := res[0].Items[0]
	// The reason names where the first dose is (not its certificate: ids
	// are how holders fetch credentials, and the refusal goes to another facility).
	if got.Code != CodeDuplicateDose || !strings.Contains(got.Reason, firstAt) || !strings.Contains(got.Reason, "DEL010") || strings.Contains(got.Reason, firstCert) {
		t.Fatalf("duplicate dose: %+v (first at %s)", got, firstAt)
	}
	// The facility that recorded it, sending it again (it lost the
	// answer), learns its certificate.
	again := first
	res = tc.block(tc.record("DEL010", []Event{again}, true))
	if got := res[0].Items[0]; got.Code != CodeDuplicateDose || !strings.Contains(got.Reason, firstCert) || !strings.Contains(got.Reason, "this facility") {
		t.Fatalf("duplicate dose from the same facility: %+v (certificate %s)", got, firstCert)
	}
	// Within one batch, too.
	res = tc.block(tc.record("DEL010", []Event{tc.event("twin", 1), tc.event("twin", 1)}, false))
	if res[0].Items[0].Code != OK || res[0].Items[1].Code != CodeDuplicateDose {
		t.Fatalf("duplicate within a batch: %+v", res[0].Items)
	}
}

func TestRecordWholeTransactionRejections(t *testing.T) {
	cases := []struct {
		name  string
		build func(tc *testChain) []byte
		code  Code
	}{
		{"threat 1: key not registered", func(tc *testChain) []byte {
			stranger := seedKey("stranger")
			p := tc.part(TypRecord, stranger, RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"})
			return tc.tx(KindRecord, p)
		}, CodeUnauthorized},
		{"facility key signing for another facility", func(tc *testChain) []byte {
			p := tc.part(TypRecord, tc.fac["BLR311"], RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"})
			return tc.tx(KindRecord, p)
		}, CodeUnauthorized},
		{"issuer key posing as a facility", func(tc *testChain) []byte {
			p := tc.part(TypRecord, tc.issuer, RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"})
			return tc.tx(KindRecord, p)
		}, CodeUnauthorized},
		{"suspended facility", func(tc *testChain) []byte {
			ev := tc.event("x", 1)
			ev.Vaccinator = "A9"
			return tc.record("SUS001", []Event{ev}, false)
		}, CodeFacilityInactive},
		{"tampered payload", func(tc *testChain) []byte {
			p := tc.part(TypRecord, tc.fac["DEL010"], RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"})
			payload, _ := b64.DecodeString(p.Payload)
			p.Payload = b64.EncodeToString([]byte(strings.Replace(string(payload), `"dose":1`, `"dose":2`, 1)))
			return tc.tx(KindRecord, p)
		}, CodeBadSignature},
		{"threat 3: signed for another chain", func(tc *testChain) []byte {
			k := tc.fac["DEL010"]
			p, _ := SignPart(TypRecord, "other-chain", kidOf(k), tc.nextNonce(), tc.now.Unix(), RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"}, signer(k))
			return tc.tx(KindRecord, p)
		}, CodeWrongChain},
		{"signed two days ago", func(tc *testChain) []byte {
			k := tc.fac["DEL010"]
			p, _ := SignPart(TypRecord, tc.chain, kidOf(k), tc.nextNonce(), tc.now.Add(-48*time.Hour).Unix(), RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"}, signer(k))
			return tc.tx(KindRecord, p)
		}, CodeStale},
		{"threat 29: signed an hour in the future", func(tc *testChain) []byte {
			k := tc.fac["DEL010"]
			p, _ := SignPart(TypRecord, tc.chain, kidOf(k), tc.nextNonce(), tc.now.Add(time.Hour).Unix(), RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"}, signer(k))
			return tc.tx(KindRecord, p)
		}, CodeStale},
		{"anchors for another batch", func(tc *testChain) []byte {
			p0 := tc.part(TypRecord, tc.fac["DEL010"], RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"})
			p1 := tc.part(TypAnchors, tc.issuer, AnchorStatement{Anchors: []Anchor{{Certificate: "certificate1", Hash: hexOf("c")}}, Events: hexOf("other"), Issuer: "moh"})
			return tc.tx(KindRecord, p0, p1)
		}, CodeAnchorMismatch},
		{"anchors signed by a facility", func(tc *testChain) []byte {
			p0 := tc.part(TypRecord, tc.fac["DEL010"], RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"})
			payload, _ := b64.DecodeString(p0.Payload)
			p1 := tc.part(TypAnchors, tc.fac["DEL010"], AnchorStatement{Anchors: []Anchor{{Certificate: "certificate1", Hash: hexOf("c")}}, Events: payloadDigest(payload), Issuer: "moh"})
			return tc.tx(KindRecord, p0, p1)
		}, CodeUnauthorized},
		{"unknown kind", func(tc *testChain) []byte {
			p := tc.part(TypRecord, tc.fac["DEL010"], RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"})
			return tc.tx("vaccination.record/v9", p)
		}, CodeUnknownKind},
		{"wrong part type", func(tc *testChain) []byte {
			p := tc.part(TypRevoke, tc.fac["DEL010"], RecordStatement{Events: []Event{tc.event("x", 1)}, Facility: "DEL010"})
			return tc.tx(KindRecord, p)
		}, CodeMalformed},
		{"not JSON", func(tc *testChain) []byte { return []byte("\x00\x01garbage") }, CodeMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tc := newTestChain(t)
			raw := c.build(tc)
			// CheckTx admits what only a block can judge: a facility's
			// status, and a signature ahead of the last block's time
			// (TestFreshSignatureAfterAnIdleSpell).
			admitted := c.code == CodeFacilityInactive || strings.Contains(c.name, "in the future")
			if r := tc.app.CheckTx(raw); !admitted && r.Code == OK {
				t.Fatalf("CheckTx accepted it")
			}
			res := tc.block(raw)
			if res[0].Code != c.code || res[0].Reason == "" {
				t.Fatalf("got %s (%s), want %s", res[0].Code, res[0].Reason, c.code)
			}
			if tot := tc.app.Committed().Totals(); tot.EventsAccepted != 0 || tot.TxRejected != 1 {
				t.Fatalf("a rejected transaction changed state: %+v", tot)
			}
		})
	}
}

// threat 3: the same signed batch submitted twice.
func TestRecordReplayIsRejected(t *testing.T) {
	tc := newTestChain(t)
	raw := tc.record("DEL010", []Event{tc.event("r", 1)}, true)
	mustOK(t, tc.block(raw)[0])
	if r := tc.app.CheckTx(raw); r.Code != CodeReplay {
		t.Fatalf("CheckTx of a replay: %s", r.Code)
	}
	if r := tc.block(raw)[0]; r.Code != CodeReplay {
		t.Fatalf("replay in a later block: %s %s", r.Code, r.Reason)
	}
	// Twice in one block: the second copy is the replay.
	raw2 := tc.record("DEL010", []Event{tc.event("s", 1)}, true)
	res := tc.block(raw2, raw2)
	if res[0].Code != OK || res[1].Code != CodeReplay {
		t.Fatalf("same tx twice in a block: %s, %s", res[0].Code, res[1].Code)
	}
}

// threat 2: a retired key is refused after its retirement height, and the
// batches it signed before stay on the ledger.
func TestRetiredFacilityKey(t *testing.T) {
	tc := newTestChain(t)
	old := tc.fac["DEL010"]
	mustOK(t, tc.block(tc.record("DEL010", []Event{tc.event("before", 1)}, true))[0])
	signedBefore := tc.height

	fresh := seedKey("DEL010 rotated")
	f := tc.genesis.Facilities[0].Facility
	rot := tc.part(TypRegisterFacility, tc.gov, RegisterFacilityStatement{Facility: f, Keys: []KeySpec{pubSpec(fresh, RoleFacility)}, Retire: []string{kidOf(old)}})
	mustOK(t, tc.block(tc.tx(KindRegisterFacility, rot))[0])

	res := tc.block(tc.record("DEL010", []Event{tc.event("after", 1)}, false))
	if res[0].Code != CodeUnauthorized {
		t.Fatalf("retired key accepted: %s", res[0].Code)
	}
	tc.fac["DEL010"] = fresh
	mustOK(t, tc.block(tc.record("DEL010", []Event{tc.event("after", 1)}, false))[0])

	k := tc.app.Committed().Key(kidOf(old))
	if k == nil || !k.ValidAt(signedBefore) || k.ValidAt(tc.height) {
		t.Fatalf("retired key window: %+v (signed at %d)", k, signedBefore)
	}
	if pub, _ := k.PublicKey(); !ed25519.PublicKey(pub).Equal(old.Public()) {
		t.Fatal("retired key record lost its public key")
	}
}

// After an idle spell (a node restarted, a network without quorum) the
// last block's time is older than the clock. A transaction signed now is
// admitted by CheckTx and accepted in the next block, whose time is
// current; the same signature in a block whose time is far behind it is
// refused (threat 29).
func TestFreshSignatureAfterAnIdleSpell(t *testing.T) {
	tc := newTestChain(t)
	last := tc.now
	tc.now = last.Add(time.Hour) // what the facility's clock says
	raw := tc.record("DEL010", []Event{tc.event("idle", 1)}, true)
	if r := tc.app.CheckTx(raw); r.Code != OK {
		t.Fatalf("CheckTx after an hour without blocks: %s %s", r.Code, r.Reason)
	}
	tc.now = last // the next block's time is a minute later: 59 minutes behind the signature
	if res := tc.block(raw); res[0].Code != CodeStale {
		t.Fatalf("in a block an hour behind the signature: %+v", res[0])
	}
	tc.now = last.Add(time.Hour) // the next block's time: a minute after the signature
	mustOK(t, tc.block(raw)[0])
}
