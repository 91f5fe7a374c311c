package app

import (
	"crypto/ed25519"
	"testing"
)

func TestRegisterFacilityAndVaccinatorThenRecord(t *testing.T) {
	tc := newTestChain(t)
	k := seedKey("PUN001")
	f := Facility{Code: "PUN001", Name: "Mobile Vaccination Center", Category: "GOVT", Type: "Mobile", State: "Maharashtra", District: "Pune", Pincode: "411001", Programs: []string{"C19"}, Status: StatusActive}
	res := tc.block(
		tc.tx(KindRegisterFacility, tc.part(TypRegisterFacility, tc.gov, RegisterFacilityStatement{Facility: f, Keys: []KeySpec{pubSpec(k, RoleFacility)}})),
		tc.tx(KindRegisterVaccinator, tc.part(TypRegisterVaccinator, tc.gov, RegisterVaccinatorStatement{Vaccinator: Vaccinator{Code: "P1", Facilities: []string{"PUN001"}, Status: StatusActive}})),
	)
	mustOK(t, res[0])
	mustOK(t, res[1])
	tc.fac["PUN001"] = k
	ev := tc.event("p", 1)
	ev.Vaccinator = "P1"
	res = tc.block(tc.record("PUN001", []Event{ev}, true))
	mustOK(t, res[0])
	if res[0].Items[0].Code != OK {
		t.Fatalf("event at new facility: %+v", res[0].Items[0])
	}
	if got := tc.app.Committed().Key(kidOf(k)); got == nil || got.ValidFrom != tc.height-1 {
		t.Fatalf("new key: %+v", got)
	}
}

func TestRegisterNeedsGovernance(t *testing.T) {
	tc := newTestChain(t)
	v := RegisterVaccinatorStatement{Vaccinator: Vaccinator{Code: "X1", Facilities: []string{"DEL010"}, Status: StatusActive}}
	for name, k := range map[string]ed25519.PrivateKey{"issuer": tc.issuer, "facility": tc.fac["DEL010"]} {
		r := tc.block(tc.tx(KindRegisterVaccinator, tc.part(TypRegisterVaccinator, k, v)))[0]
		if r.Code != CodeUnauthorized {
			t.Fatalf("%s registered a vaccinator: %s", name, r.Code)
		}
	}
	if tc.app.Committed().Vaccinator("X1") != nil {
		t.Fatal("vaccinator registered without governance")
	}
}

func TestRegisterRejectsInvalidEntries(t *testing.T) {
	tc := newTestChain(t)
	cases := []struct {
		name string
		tx   []byte
	}{
		{"vaccinator at unknown facility", tc.tx(KindRegisterVaccinator, tc.part(TypRegisterVaccinator, tc.gov, RegisterVaccinatorStatement{Vaccinator: Vaccinator{Code: "X1", Facilities: []string{"NOPE"}, Status: StatusActive}}))},
		{"facility with unknown program", tc.tx(KindRegisterFacility, tc.part(TypRegisterFacility, tc.gov, RegisterFacilityStatement{Facility: Facility{Code: "X2", Name: "x", Programs: []string{"NOPE"}, Status: StatusActive}}))},
		{"facility with bad status", tc.tx(KindRegisterFacility, tc.part(TypRegisterFacility, tc.gov, RegisterFacilityStatement{Facility: Facility{Code: "X3", Name: "x", Status: "open"}}))},
		{"facility key with issuer role", tc.tx(KindRegisterFacility, tc.part(TypRegisterFacility, tc.gov, RegisterFacilityStatement{Facility: Facility{Code: "X4", Name: "x", Status: StatusActive}, Keys: []KeySpec{pubSpec(seedKey("x4"), RoleIssuer)}}))},
		{"key already registered", tc.tx(KindRegisterAuthority, tc.part(TypRegisterAuthority, tc.gov, RegisterAuthorityStatement{Authority: Authority{ID: "other", Name: "Other", Roles: []string{RoleIssuer}, Status: StatusActive}, Keys: []KeySpec{pubSpec(tc.issuer, RoleIssuer)}}))},
	}
	for _, c := range cases {
		r := tc.block(c.tx)[0]
		if r.Code != CodeInvalidRegistry || r.Reason == "" {
			t.Errorf("%s: %s %s", c.name, r.Code, r.Reason)
		}
	}
	s := tc.app.Committed()
	if s.Vaccinator("X1") != nil || s.Facility("X2") != nil || s.Facility("X4") != nil || s.Authority("other") != nil {
		t.Fatal("an invalid registration changed state")
	}
}

func TestRegisterAuthorityAddsIssuer(t *testing.T) {
	tc := newTestChain(t)
	k := seedKey("state issuer")
	stmt := RegisterAuthorityStatement{Authority: Authority{ID: "kar-health", Name: "Karnataka Health Dept", Roles: []string{RoleIssuer}, Status: StatusActive}, Keys: []KeySpec{pubSpec(k, RoleIssuer)}}
	mustOK(t, tc.block(tc.tx(KindRegisterAuthority, tc.part(TypRegisterAuthority, tc.gov, stmt)))[0])
	// The new issuer anchors certificates.
	tc.issuer = k
	p0 := tc.part(TypRecord, tc.fac["DEL010"], RecordStatement{Events: []Event{tc.event("k", 1)}, Facility: "DEL010"})
	payload, _ := b64.DecodeString(p0.Payload)
	p1 := tc.part(TypAnchors, k, AnchorStatement{Anchors: []Anchor{{Certificate: "karcert0001", Hash: hexOf("c")}}, Events: payloadDigest(payload), Issuer: "kar-health"})
	res := tc.block(tc.tx(KindRecord, p0, p1))
	mustOK(t, res[0])
	if res[0].Items[0].Certificate != "karcert0001" {
		t.Fatalf("anchor by new issuer: %+v", res[0].Items[0])
	}
}

// Every governed kind has a statement type, and its canonical encoding
// decodes as a change of that kind.
func TestEveryGovernedKindHasAStatement(t *testing.T) {
	for _, k := range GovernedKinds {
		if NewStatement(k) == nil {
			t.Errorf("%s: no statement type", k)
		}
		if _, ok := lookupChange(k); !ok {
			t.Errorf("%s: no change definition", k)
		}
	}
	if NewStatement(KindRecord) != nil {
		t.Error("record/v1 is not governed")
	}
}
