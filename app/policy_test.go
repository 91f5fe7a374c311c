package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
	"time"
)

// govern applies a governed change signed by the governance key (the test
// chain's threshold is 1).
func (tc *testChain) govern(kind string, stmt any) *TxResult {
	tc.t.Helper()
	r := tc.block(tc.tx(kind, tc.part(PartTypeOf(kind), tc.gov, stmt)))[0]
	if r.Code != OK || (len(r.Items) > 0 && r.Items[0].Code != OK) {
		tc.t.Fatalf("%s refused: %s %s %+v", kind, r.Code, r.Reason, r.Items)
	}
	return r
}

func (tc *testChain) programC19() Program { return tc.genesis.Programs[0] }

// dated is an event of recipient r, dose d, on a day relative to the
// chain's start (2026-12-01).
func (tc *testChain) dated(r string, d int, day int, vaccine string) Event {
	ev := tc.event(r, d)
	ev.Date = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day).Format(time.DateOnly)
	ev.Vaccine = vaccine
	return ev
}

// recordOne records events at DEL010 in one batch and returns their codes.
func (tc *testChain) codes(events ...Event) []Code {
	tc.t.Helper()
	r := tc.block(tc.record("DEL010", events, true))[0]
	if r.Code != OK {
		tc.t.Fatalf("batch refused: %s %s", r.Code, r.Reason)
	}
	out := make([]Code, len(r.Items))
	for i, it := range r.Items {
		out[i] = it.Code
	}
	return out
}

func wantCodes(t *testing.T, got []Code, want ...Code) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("codes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d: %s, want %s (all: %v)", i, got[i], want[i], got)
		}
	}
}

// Each rollout rule refuses the event that breaks it and lets its
// neighbour through.
func TestRolloutRules(t *testing.T) {
	t.Run("facility not approved for the program", func(t *testing.T) {
		tc := newTestChain(t)
		ok := tc.event("a", 1)
		ok.Vaccinator = "A2"
		mr := ok
		mr.Recipient, mr.Program, mr.Vaccine = hexOf("recipient b"), "MR", "MR"
		r := tc.block(tc.record("BLR311", []Event{ok, mr}, false))[0]
		wantCodes(t, []Code{r.Items[0].Code, r.Items[1].Code}, OK, CodeFacilityNotApproved)
	})
	t.Run("vaccinator not certified for the program", func(t *testing.T) {
		tc := newTestChain(t)
		tc.govern(KindRegisterVaccinator, RegisterVaccinatorStatement{Vaccinator: Vaccinator{Code: "A1", Facilities: []string{"DEL010", "BLR311"}, Programs: []string{"MR"}, Status: StatusActive}})
		mr := tc.event("a", 1)
		mr.Program, mr.Vaccine = "MR", "MR"
		wantCodes(t, tc.codes(mr, tc.event("b", 1)), OK, CodeVaccinatorNotCertified)
	})
	t.Run("priority group not in an open phase, then the phase opens", func(t *testing.T) {
		tc := newTestChain(t)
		p := tc.programC19()
		p.Phases = []Phase{{ID: "p1", Name: "Health workers", Groups: []string{GroupHealthWorker, GroupFrontlineWorker}, Open: true}, {ID: "p2", Name: "Over 60", Groups: []string{Group60Plus}}}
		tc.govern(KindSetProgram, SetProgramStatement{Program: p})
		hw, old := tc.event("hw", 1), tc.event("old", 1)
		hw.Priority, old.Priority = GroupHealthWorker, Group60Plus
		wantCodes(t, tc.codes(hw, old), OK, CodeNotEligible)
		tc.govern(KindSetPhase, SetPhaseStatement{Program: "C19", Phase: "p2", Open: true})
		wantCodes(t, tc.codes(old), OK)
	})
	t.Run("identity type not accepted", func(t *testing.T) {
		tc := newTestChain(t)
		p := tc.programC19()
		p.IDTypes = []string{IDNational, IDOtherGov}
		tc.govern(KindSetProgram, SetProgramStatement{Program: p})
		a, b := tc.event("a", 1), tc.event("b", 1)
		a.IDType, b.IDType = IDNational, IDMobile
		wantCodes(t, tc.codes(a, b), OK, CodeIDTypeNotAccepted)
	})
	t.Run("program not running", func(t *testing.T) {
		tc := newTestChain(t)
		p := tc.programC19()
		p.StartDate = "2026-11-01"
		tc.govern(KindSetProgram, SetProgramStatement{Program: p})
		wantCodes(t, tc.codes(tc.dated("a", 1, -10, "COVISHIELD"), tc.dated("b", 1, -40, "COVISHIELD")), OK, CodeProgramNotRunning)
	})
	t.Run("dose out of sequence", func(t *testing.T) {
		tc := newTestChain(t)
		wantCodes(t, tc.codes(tc.dated("a", 1, -200, "COVISHIELD"), tc.dated("b", 2, -100, "COVISHIELD")), OK, CodeDoseOutOfSequence)
	})
	t.Run("interval shorter than the minimum", func(t *testing.T) {
		tc := newTestChain(t)
		wantCodes(t, tc.codes(tc.dated("a", 1, -200, "COVISHIELD"), tc.dated("b", 1, -200, "COVISHIELD")), OK, OK)
		wantCodes(t, tc.codes(tc.dated("a", 2, -200+84, "COVISHIELD"), tc.dated("b", 2, -200+83, "COVISHIELD")), OK, CodeIntervalTooShort)
	})
	t.Run("interval longer than the maximum", func(t *testing.T) {
		tc := newTestChain(t)
		v := tc.genesis.Vaccines[0]
		v.MaxIntervalDays = 112
		tc.govern(KindSetVaccine, SetVaccineStatement{Vaccine: v})
		wantCodes(t, tc.codes(tc.dated("a", 1, -300, "COVISHIELD"), tc.dated("b", 1, -300, "COVISHIELD")), OK, OK)
		wantCodes(t, tc.codes(tc.dated("a", 2, -300+112, "COVISHIELD"), tc.dated("b", 2, -300+113, "COVISHIELD")), OK, CodeIntervalTooLong)
	})
	t.Run("mixed schedule, then allowed", func(t *testing.T) {
		tc := newTestChain(t)
		wantCodes(t, tc.codes(tc.dated("a", 1, -200, "COVISHIELD"), tc.dated("b", 1, -200, "COVISHIELD")), OK, OK)
		wantCodes(t, tc.codes(tc.dated("a", 2, -100, "COVISHIELD"), tc.dated("b", 2, -100, "COVAXIN")), OK, CodeMixedSchedule)
		p := tc.programC19()
		p.AllowMixed = true
		tc.govern(KindSetProgram, SetProgramStatement{Program: p})
		wantCodes(t, tc.codes(tc.dated("b", 2, -100, "COVAXIN")), OK)
	})
	t.Run("booster before it is due", func(t *testing.T) {
		tc := newTestChain(t)
		v := tc.genesis.Vaccines[0]
		v.BoosterIntervalDays = 180
		tc.govern(KindSetVaccine, SetVaccineStatement{Vaccine: v})
		wantCodes(t, tc.codes(tc.dated("a", 1, -360, "COVISHIELD"), tc.dated("b", 1, -360, "COVISHIELD")), OK, OK)
		wantCodes(t, tc.codes(tc.dated("a", 2, -270, "COVISHIELD"), tc.dated("b", 2, -270, "COVISHIELD")), OK, OK)
		wantCodes(t, tc.codes(tc.dated("a", 3, -90, "COVISHIELD"), tc.dated("b", 3, -91, "COVISHIELD")), OK, CodeBoosterNotDue)
	})
	t.Run("facility over its daily cap", func(t *testing.T) {
		tc := newTestChain(t)
		f := tc.genesis.Facilities[0].Facility
		f.Caps = []Cap{{Program: "C19", Daily: 2}}
		tc.govern(KindRegisterFacility, RegisterFacilityStatement{Facility: f})
		wantCodes(t, tc.codes(tc.dated("a", 1, -1, "COVISHIELD"), tc.dated("b", 1, -1, "COVISHIELD"), tc.dated("c", 1, -1, "COVISHIELD"), tc.dated("d", 1, -2, "COVISHIELD")),
			OK, OK, CodeFacilityOverCap, OK)
		// The cap holds across blocks, and a refused event used no capacity.
		wantCodes(t, tc.codes(tc.dated("e", 1, -1, "COVISHIELD"), tc.dated("f", 1, -2, "COVISHIELD")), CodeFacilityOverCap, OK)
	})
	t.Run("district over its daily cap", func(t *testing.T) {
		tc := newTestChain(t)
		tc.govern(KindSetDistrict, SetDistrictStatement{District: District{State: "Delhi", District: "Delhi", Caps: []Cap{{Program: "C19", Daily: 1}}}})
		wantCodes(t, tc.codes(tc.dated("a", 1, -1, "COVISHIELD"), tc.dated("b", 1, -1, "COVISHIELD")), OK, CodeDistrictOverCap)
		// Another district is not affected.
		ev := tc.dated("c", 1, -1, "COVISHIELD")
		ev.Vaccinator = "A2"
		if r := tc.block(tc.record("BLR311", []Event{ev}, false))[0]; r.Items[0].Code != OK {
			t.Fatalf("other district: %+v", r.Items[0])
		}
	})
}

// Threat 28: with a threshold of 2, one authority alone changes nothing.
func TestGovernanceNeedsMOfN(t *testing.T) {
	gov2 := seedKey("gov2")
	tc := newTestChainWith(t, func(g *Genesis) {
		g.Params.GovernanceThreshold = 2
		g.Authorities = append(g.Authorities, GenesisAuthority{
			Authority: Authority{ID: "state-kar", Name: "Karnataka Health Department", Roles: []string{RoleGovernance}, Status: StatusActive},
			Keys:      []KeySpec{pubSpec(gov2, RoleGovernance)},
		})
	})
	p := tc.programC19()
	p.Phases = []Phase{{ID: "p1", Groups: []string{GroupHealthWorker}, Open: true}}
	stmt := SetProgramStatement{Program: p}

	// A direct change is refused.
	if r := tc.block(tc.tx(KindSetProgram, tc.part(TypSetProgram, tc.gov, stmt)))[0]; r.Code != CodeNeedsApproval {
		t.Fatalf("direct change on a 2-of-2 chain: %s", r.Code)
	}
	payload, _ := marshalStatement(stmt)
	prop := ProposeStatement{Change: ChangeRef{Kind: KindSetProgram, Statement: b64.EncodeToString(payload)}, Proposer: "moh"}
	r := tc.block(tc.tx(KindPropose, tc.part(TypPropose, tc.gov, prop)))[0]
	mustOK(t, r)
	id := fmt.Sprintf("%d-0", tc.height)
	if got := tc.app.Committed().Program("C19"); len(got.Phases) != 0 {
		t.Fatal("a proposal with one approval of two changed the program")
	}
	// The proposer approving again does not count twice.
	if r := tc.block(tc.tx(KindApprove, tc.part(TypApprove, tc.gov, ApproveStatement{Approver: "moh", Proposal: id})))[0]; r.Code != CodeAlreadyApproved {
		t.Fatalf("second approval by the proposer: %s", r.Code)
	}
	// A facility key cannot approve.
	if r := tc.block(tc.tx(KindApprove, tc.part(TypApprove, tc.fac["DEL010"], ApproveStatement{Approver: "moh", Proposal: id})))[0]; r.Code != CodeUnauthorized {
		t.Fatalf("approval by a facility: %s", r.Code)
	}
	// The second authority's approval applies it, at that height.
	r = tc.block(tc.tx(KindApprove, tc.part(TypApprove, gov2, ApproveStatement{Approver: "state-kar", Proposal: id})))[0]
	mustOK(t, r)
	s := tc.app.Committed()
	if got := s.Program("C19"); len(got.Phases) != 1 {
		t.Fatalf("approved change not applied: %+v (result %+v)", got, r)
	}
	var pr Proposal
	v, _ := s.Get(ProposalKey(id))
	json.Unmarshal(v, &pr)
	if pr.Status != ProposalApplied || pr.AppliedAt != tc.height || len(pr.Approvals) != 2 {
		t.Fatalf("proposal: %+v", pr)
	}
	// Closed proposals take no more approvals.
	if r := tc.block(tc.tx(KindApprove, tc.part(TypApprove, gov2, ApproveStatement{Approver: "state-kar", Proposal: id})))[0]; r.Code != CodeProposalClosed && r.Code != CodeAlreadyApproved {
		t.Fatalf("approval of an applied proposal: %s", r.Code)
	}
}

func marshalStatement(v any) ([]byte, error) { return json.Marshal(v) }

// Property: random sequences of governance changes and vaccination events,
// applied on two independent instances, give the same app hash and the
// same per-event results at every height.
func TestRandomGovernanceAndEventsAreDeterministic(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		a, b := newTestChain(t), newTestChain(t)
		rng := rand.New(rand.NewSource(seed))
		people := 40
		for blk := 0; blk < 25; blk++ {
			var txs [][]byte
			for n := rng.Intn(4); n >= 0; n-- {
				txs = append(txs, randomTx(a, rng, people))
			}
			ra := a.block(txs...)
			b.height++
			b.now = a.now
			rb, hb, err := b.app.FinalizeBlock(Block{Height: b.height, Time: b.now, Txs: txs})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.app.Commit(); err != nil {
				t.Fatal(err)
			}
			ja, _ := json.Marshal(ra)
			jb, _ := json.Marshal(rb)
			if !bytes.Equal(ja, jb) {
				t.Fatalf("seed %d block %d: results differ\n%s\n%s", seed, blk, ja, jb)
			}
			if !bytes.Equal(a.app.Committed().AppHash, hb) {
				t.Fatalf("seed %d block %d: app hashes differ", seed, blk)
			}
		}
	}
}

// randomTx is a random governance change or a batch of random events.
func randomTx(tc *testChain, rng *rand.Rand, people int) []byte {
	vaccines := []string{"COVISHIELD", "COVAXIN"}
	switch rng.Intn(6) {
	case 0:
		p := tc.programC19()
		p.AllowMixed = rng.Intn(2) == 0
		p.Phases = []Phase{{ID: "p1", Groups: []string{GroupHealthWorker}, Open: true}, {ID: "p2", Groups: []string{GroupAdult, Group60Plus}, Open: rng.Intn(2) == 0}}
		return tc.tx(KindSetProgram, tc.part(TypSetProgram, tc.gov, SetProgramStatement{Program: p}))
	case 1:
		v := tc.genesis.Vaccines[rng.Intn(2)]
		v.MinIntervalDays = rng.Intn(60)
		v.MaxIntervalDays = []int{0, 90, 200}[rng.Intn(3)]
		return tc.tx(KindSetVaccine, tc.part(TypSetVaccine, tc.gov, SetVaccineStatement{Vaccine: v}))
	case 2:
		f := tc.genesis.Facilities[0].Facility
		f.Caps = []Cap{{Program: "C19", Daily: rng.Intn(5)}}
		return tc.tx(KindRegisterFacility, tc.part(TypRegisterFacility, tc.gov, RegisterFacilityStatement{Facility: f}))
	}
	var evs []Event
	for n := 1 + rng.Intn(8); n > 0; n-- {
		ev := tc.dated(fmt.Sprintf("p%d", rng.Intn(people)), 1+rng.Intn(3), -rng.Intn(300), vaccines[rng.Intn(2)])
		ev.Priority = []string{GroupHealthWorker, GroupAdult, Group60Plus, ""}[rng.Intn(4)]
		evs = append(evs, ev)
	}
	return tc.record("DEL010", evs, rng.Intn(2) == 0)
}

// "Today" is the consortium's date: at 19:57 UTC on 1 December it is
// already 2 December in India, and a dose given that day is not in the
// future; a day later still is.
func TestEventDatesUseTheConsortiumTimeZone(t *testing.T) {
	tc := newTestChain(t) // genesis params: UTC+05:30
	tc.now = time.Date(2026, 12, 1, 19, 56, 0, 0, time.UTC)
	wantCodes(t, tc.codes(tc.dated("a", 1, 1, "COVISHIELD"), tc.dated("b", 1, 2, "COVISHIELD")), OK, CodeFutureDate)

	utc := newTestChainWith(t, func(g *Genesis) { g.Params.TimezoneOffsetMinutes = 0 })
	utc.now = time.Date(2026, 12, 1, 19, 56, 0, 0, time.UTC)
	wantCodes(t, utc.codes(utc.dated("a", 1, 1, "COVISHIELD")), CodeFutureDate)
}
