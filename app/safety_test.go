package app

import (
	"fmt"
	"strings"
	"testing"
)

func (tc *testChain) aefi(reports ...AEFIReport) *TxResult {
	tc.t.Helper()
	return tc.block(tc.tx(KindAEFI, tc.part(TypAEFI, tc.issuer, AEFIStatement{Issuer: "moh", Reports: reports})))[0]
}

func report(cert string, serious ...string) AEFIReport {
	return AEFIReport{Certificate: cert, Hash: hexOf("report " + cert + fmt.Sprint(serious)), Onset: 1, Outcome: "recovering",
		Reporter: "clinician", Seriousness: serious, Severity: "severe", Symptoms: []string{"fever", "allergic_reaction"}}
}

// The signal opens exactly when the serious rate reaches the threshold
// with enough doses, and not before; governance can then suspend the
// batch, and later doses from it are refused.
func TestBatchSafetySignalAndSuspension(t *testing.T) {
	tc := newTestChain(t)
	tc.govern(KindSetSafety, SetSafetyStatement{Policy: SafetyPolicy{MinDoses: 10, SeriousPerMillion: 200_000}}) // 20%
	var certs []string
	var evs []Event
	for i := 0; i < 10; i++ {
		evs = append(evs, tc.event(fmt.Sprintf("s%d", i), 1))
	}
	res := tc.block(tc.record("DEL010", evs, true))[0]
	for _, it := range res.Items {
		certs = append(certs, it.Certificate)
	}
	s := tc.app.Committed()
	bs := s.BatchSafeties()
	if len(bs) != 1 || bs[0].Doses != 10 || bs[0].Batch != "4121Z025" || bs[0].Vaccine != "COVISHIELD" {
		t.Fatalf("batch counters: %+v", bs)
	}
	// A non-serious report and one serious report: 10% < 20%, no signal.
	mustOK(t, tc.aefi(report(certs[0]), report(certs[1], "hospitalization")))
	if got := tc.app.Committed().Signals(); len(got) != 0 {
		t.Fatalf("signal before the threshold: %+v", got)
	}
	// The second serious report reaches 20%: the signal opens, once.
	r := tc.aefi(report(certs[2], "life_threatening", "hospitalization"))
	if len(tc.app.Committed().Signals()) != 1 || r.Items[0].Reason == "" {
		t.Fatalf("signal at the threshold: %+v, result %+v", tc.app.Committed().Signals(), r.Items)
	}
	tc.aefi(report(certs[3], "death"))
	sig := tc.app.Committed().Signals()
	if len(sig) != 1 || sig[0].Serious != 2 || sig[0].SeriousPerMillion != 200_000 {
		t.Fatalf("the signal opened twice or moved: %+v", sig)
	}
	b := tc.app.Committed().BatchSafeties()[0]
	if b.AEFI != 4 || b.Serious != 3 || b.Hospitalization != 2 || b.LifeThreatening != 1 || b.Death != 1 {
		t.Fatalf("AEFI counters: %+v", b)
	}
	// Reports name the batch of their certificate, whatever they say.
	if r := tc.aefi(report("nosuchcertificate")); r.Items[0].Code != CodeUnknownCert {
		t.Fatalf("report on an unknown certificate: %+v", r.Items[0])
	}
	if r := tc.aefi(AEFIReport{Certificate: certs[4], Hash: hexOf("x"), Outcome: "ok?", Reporter: "clinician", Severity: "mild", Symptoms: []string{"fever"}}); r.Items[0].Code != CodeMalformedEvent {
		t.Fatalf("report with a bad outcome: %+v", r.Items[0])
	}
	// Governance suspends the batch: a later dose from it is refused,
	// another batch is not.
	tc.govern(KindSetBatch, SetBatchStatement{Batch: BatchStatus{Vaccine: "COVISHIELD", Batch: "4121Z025", Status: StatusSuspended, Reason: "safety_signal"}})
	other := tc.event("t2", 1)
	other.Batch = "4121Z099"
	wantCodes(t, tc.codes(tc.event("t1", 1), other), CodeBatchSuspended, OK)
	if got := tc.app.Committed().SuspendedBatches(); len(got) != 1 {
		t.Fatalf("suspended batches: %+v", got)
	}
}

// One holder repeating a serious report cannot raise a batch's rate: a
// further report from the same kind of reporter on the same certificate is
// a follow-up that counts only the seriousness criteria it adds; another
// kind of reporter opens its own case.
func TestAEFIFollowUpsCountOnce(t *testing.T) {
	tc := newTestChain(t)
	res := tc.block(tc.record("DEL010", []Event{tc.event("a", 1), tc.event("b", 1)}, true))[0]
	cert := res.Items[0].Certificate
	for i := 0; i < 5; i++ {
		r := report(cert, "death")
		r.Hash = hexOf(fmt.Sprint("repeat", i))
		mustOK(t, tc.aefi(r))
	}
	b := tc.app.Committed().BatchSafeties()[0]
	if b.AEFI != 1 || b.Serious != 1 || b.Death != 1 {
		t.Fatalf("five identical reports from the holder: %+v", b)
	}
	// A follow-up that adds hospitalization counts that criterion only.
	r := report(cert, "death", "hospitalization")
	r.Hash = hexOf("follow-up")
	if res := tc.aefi(r); res.Items[0].Code != OK || !strings.Contains(res.Items[0].Reason, "follow-up") {
		t.Fatalf("follow-up: %+v", res.Items[0])
	}
	b = tc.app.Committed().BatchSafeties()[0]
	if b.AEFI != 1 || b.Serious != 1 || b.Death != 1 || b.Hospitalization != 1 {
		t.Fatalf("after a follow-up adding hospitalization: %+v", b)
	}
	// A non-serious first report later followed by a serious one: the
	// case becomes serious once.
	other := res.Items[1].Certificate
	mustOK(t, tc.aefi(report(other)))
	r = report(other, "hospitalization")
	r.Hash = hexOf("other follow-up")
	mustOK(t, tc.aefi(r))
	b = tc.app.Committed().BatchSafeties()[0]
	if b.AEFI != 2 || b.Serious != 2 || b.Hospitalization != 2 {
		t.Fatalf("after a non-serious case turned serious: %+v", b)
	}
	// The recipient's own report on the first certificate (the others
	// were the clinician's) is a case of its own.
	r = report(cert, "death")
	r.Reporter, r.Hash = "recipient", hexOf("recipient")
	mustOK(t, tc.aefi(r))
	if b = tc.app.Committed().BatchSafeties()[0]; b.AEFI != 3 || b.Serious != 3 || b.Death != 2 {
		t.Fatalf("after the recipient's report: %+v", b)
	}
}

// Feedback needs an anchored certificate, once per certificate.
func TestFeedback(t *testing.T) {
	tc := newTestChain(t)
	res := tc.block(tc.record("DEL010", []Event{tc.event("f", 1)}, true))[0]
	cert := res.Items[0].Certificate
	fb := func(c string, rating int) *TxResult {
		return tc.block(tc.tx(KindFeedback, tc.part(TypFeedback, tc.issuer, FeedbackStatement{Issuer: "moh", Feedback: []Feedback{{Certificate: c, Courtesy: 4, Hash: hexOf(c), Rating: rating, Wait: "15_30m"}}})))[0]
	}
	if r := fb(cert, 5); r.Items[0].Code != OK {
		t.Fatalf("feedback: %+v", r.Items[0])
	}
	if r := fb(cert, 1); r.Items[0].Code != CodeFeedbackExists {
		t.Fatalf("second feedback: %+v", r.Items[0])
	}
	if r := fb("nosuchcertificate", 3); r.Items[0].Code != CodeUnknownCert {
		t.Fatalf("feedback on an unknown certificate: %+v", r.Items[0])
	}
	if r := fb(cert, 9); r.Items[0].Code != CodeMalformedEvent {
		t.Fatalf("rating 9: %+v", r.Items[0])
	}
}

// The journal lists each block's vaccinations, certificates and
// revocations in order, and reads back from any height.
func TestJournal(t *testing.T) {
	tc := newTestChain(t)
	res := tc.block(tc.record("DEL010", []Event{tc.event("j1", 1), tc.event("j1", 1)}, true))[0]
	first := tc.height
	tc.block(tc.tx(KindRevoke, tc.part(TypRevoke, tc.issuer, RevokeStatement{Issuer: "moh", Revocations: []Revocation{{Certificate: res.Items[0].Certificate, Reason: "duplicate"}}})))
	var kinds []string
	var codes []Code
	err := tc.app.Journal(tc.app.Committed(), first, tc.height, func(h int64, evs []BlockEvent) bool {
		for _, e := range evs {
			if e.Height != h {
				t.Fatalf("entry of height %d in block %d", e.Height, h)
			}
			kinds = append(kinds, e.Kind)
			codes = append(codes, e.Code)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(kinds) != "[vaccination vaccination revocation]" || codes[0] != OK || codes[1] != CodeDuplicateDose {
		t.Fatalf("journal: %v %v", kinds, codes)
	}
}
