package node_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/vault"
)

// The rollout through the API: a phase closed and opened by governance
// decides who is accepted, a facility's daily cap refuses the overflow,
// registries are uploaded as DIVOC CSVs, and a recipient's schedule says
// when the next dose is due.
func TestRolloutThroughHTTP(t *testing.T) {
	f := newBadInputFixture(t)
	admin := append([]string{"Content-Type", "application/json"}, bearerHdr(f.admin)...)
	post := func(path string, body any, want int) reply {
		t.Helper()
		b, _ := json.Marshal(body)
		r := f.send(t, "POST", path, bytes.NewReader(b), admin...)
		if r.status != want {
			t.Fatalf("POST %s: %s, want %d", path, r, want)
		}
		return r
	}
	upload := func(rows ...map[string]string) *vault.Upload {
		t.Helper()
		return wantJSON[vault.Upload](t, f.postCSV(t, "?wait=true", csvOf(t, f.header, rows...), bearerHdr(f.token)...), http.StatusOK)
	}

	// Close phase 3 (all adults): an adult is refused, a 70-year-old is not.
	res := wantJSON[api.GovernanceResult](t, post("/v1/programs/C19/phases/phase-3", map[string]bool{"open": false}, 200), 200)
	if res.Status != app.ProposalApplied || res.Kind != app.KindSetPhase {
		t.Fatalf("closing a phase: %+v", res)
	}
	adult := f.row(map[string]string{"recipientDOB": "1990-05-01", "vaccinationName": "Covishield", "vaccinationManufacturer": "Serum Institute of India"})
	senior := f.row(map[string]string{"recipientDOB": "1950-05-01", "vaccinationName": "Covishield", "vaccinationManufacturer": "Serum Institute of India"})
	up := upload(adult, senior)
	if up.Accepted != 1 || up.Results[0].Code != string(app.CodeNotEligible) || !strings.Contains(up.Results[0].Reason, "phase") {
		t.Fatalf("with phase 3 closed: %+v", up.Results)
	}
	// Open it again: the same person is accepted.
	post("/v1/programs/C19/phases/phase-3", map[string]bool{"open": true}, 200)
	if up := upload(adult); up.Accepted != 1 {
		t.Fatalf("after phase 3 opened: %+v", up.Results)
	}

	// A daily cap of 2 for the facility: the third dose of the day is refused.
	var reg api.Registry
	json.Unmarshal(f.send(t, "GET", "/v1/registry", nil).body, &reg)
	var fac app.Facility
	for _, x := range reg.Facilities {
		if x.Code == f.fac {
			fac = x
		}
	}
	fac.Caps = []app.Cap{{Program: "C19", Daily: 2}}
	post("/v1/facilities", app.RegisterFacilityStatement{Facility: fac, Keys: []app.KeySpec{}, Retire: []string{}}, 200)
	day := time.Now().UTC().Format(time.RFC3339)
	var rows []map[string]string
	for i := 0; i < 3; i++ {
		rows = append(rows, f.row(map[string]string{"vaccinationDate": day, "vaccinationName": "Covishield", "vaccinationManufacturer": "Serum Institute of India"}))
	}
	up = upload(rows...)
	if up.Accepted != 2 || up.Results[2].Code != string(app.CodeFacilityOverCap) || !strings.Contains(up.Results[2].Reason, "daily cap") {
		t.Fatalf("over the cap: %+v", up.Results)
	}

	// The recipient's schedule: dose 1 of Covishield, dose 2 due 84 days later.
	cert := wantJSON[api.Certificate](t, f.send(t, "GET", "/v1/certificates/"+up.Results[0].Certificate, nil), 200)
	sc := wantJSON[api.Schedule](t, f.send(t, "GET", "/v1/recipients/"+cert.Event.Recipient+"/schedule", nil), 200)
	if len(sc.Programs) != 1 || sc.Programs[0].Next == nil || sc.Programs[0].Next.Dose != 2 {
		t.Fatalf("schedule: %+v", sc)
	}
	// Dates are days in the consortium's time zone (UTC+05:30 by default).
	want := time.Now().In(app.DefaultParams().Zone()).AddDate(0, 0, 84).Format(time.DateOnly)
	if sc.Programs[0].Next.DueFrom != want {
		t.Fatalf("next dose due from %s, want %s", sc.Programs[0].Next.DueFrom, want)
	}
	wantProblem(t, f.send(t, "GET", "/v1/recipients/nothex/schedule", nil), 400, api.CodeBadRequest)

	// Registries from DIVOC's CSVs: a new facility (the node keeps its key
	// and a token) and a vaccinator there; a bad row is reported.
	facCSV := "facilityCode,facilityName,contact,email,operatingHourStart,operatingHourEnd,category,type,status,addressLine1,addressLine2,district,state,pincode,geoLocationLat,geoLocationLon,websiteURL,adminName,adminMobile\n" +
		"NEW001,New Clinic Nashik,9876543210,new@example.com,9,17,GOVT,Fixed location,Active,1 Main Road,,Nashik,Maharashtra,422001,,,,Asha Rao,9876500000\n" +
		"BAD001,Bad Clinic,9876543210,bad@example.com,9,17,NOTACATEGORY,Fixed location,Active,1 Main Road,,Nashik,Maharashtra,422001,,,,,\n"
	r := f.send(t, "POST", "/v1/facilities/upload", strings.NewReader(facCSV), append([]string{"Content-Type", "text/csv"}, bearerHdr(f.admin)...)...)
	ru := wantJSON[api.RegistryUpload](t, r, 200)
	if len(ru.Changes) != 1 || ru.Changes[0].Result == nil || ru.Changes[0].Key == "" || len(ru.Errors) == 0 || ru.Errors[0].Row != 3 {
		t.Fatalf("facilities upload: %+v", ru)
	}
	// Hostile codes: refused before anything touches the disk, with the
	// field and the rule; no key file or token for them anywhere; the good
	// row of the same file is registered, and the file can be sent again.
	hostile := "facilityCode,facilityName,contact,email,operatingHourStart,operatingHourEnd,category,type,status,addressLine1,addressLine2,district,state,pincode,geoLocationLat,geoLocationLon,websiteURL,adminName,adminMobile\n" +
		"../../../pwned,Evil,9876543210,e@example.com,9,17,GOVT,Fixed location,Active,1 Main Road,,Nashik,Maharashtra,422001,,,,,\n" +
		"../../config/evil,Evil,9876543210,e@example.com,9,17,GOVT,Fixed location,Active,1 Main Road,,Nashik,Maharashtra,422001,,,,,\n" +
		"=cmd|calc,Evil,9876543210,e@example.com,9,17,GOVT,Fixed location,Active,1 Main Road,,Nashik,Maharashtra,422001,,,,,\n" +
		"NEW002,Second Clinic,9876543210,n2@example.com,9,17,GOVT,Fixed location,Active,1 Main Road,,Nashik,Maharashtra,422001,,,,,\n"
	for round := 1; round <= 2; round++ {
		r = f.send(t, "POST", "/v1/facilities/upload", strings.NewReader(hostile), append([]string{"Content-Type", "text/csv"}, bearerHdr(f.admin)...)...)
		hu := wantJSON[api.RegistryUpload](t, r, 200)
		if len(hu.Changes) != 1 || hu.Changes[0].Result == nil || len(hu.Errors) != 3 {
			t.Fatalf("round %d: hostile facilities upload: %+v", round, hu)
		}
		for i, e := range hu.Errors {
			if e.Row != i+2 || e.Field != "facilityCode" || e.Code != string(app.CodeInvalidRegistry) || !strings.Contains(e.Message, "letters, digits") {
				t.Errorf("round %d: row error %+v", round, e)
			}
		}
	}
	for _, p := range []string{filepath.Join(filepath.Dir(f.home), "pwned.json"), filepath.Join(f.home, "pwned.json"), filepath.Join(f.home, "config", "evil.json"), filepath.Join(f.home, "keys", "pwned.json")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	if tokens, _ := os.ReadFile(filepath.Join(f.home, "keys", "facility-tokens.json")); bytes.Contains(tokens, []byte("evil")) || bytes.Contains(tokens, []byte("cmd")) || !bytes.Contains(tokens, []byte("NEW002")) {
		t.Errorf("facility tokens: %s", tokens)
	}
	if _, err := os.Stat(filepath.Join(f.home, "keys", "facilities", "NEW002.json")); err != nil {
		t.Errorf("the registered facility's key: %v", err)
	}

	vacCSV := "code,name,nationalIdentifier,mobileNumber,email,status,facilityIds\nNV1,Vikram Naik,QWERTY99,2111111199,v@v.com,Active,NEW001\n"
	r = f.send(t, "POST", "/v1/vaccinators/upload", strings.NewReader(vacCSV), append([]string{"Content-Type", "text/csv"}, bearerHdr(f.admin)...)...)
	if vu := wantJSON[api.RegistryUpload](t, r, 200); len(vu.Changes) != 1 || vu.Changes[0].Result == nil {
		t.Fatalf("vaccinators upload: %+v", vu)
	}
	var vs []app.Vaccinator
	json.Unmarshal(f.send(t, "GET", "/v1/vaccinators", nil).body, &vs)
	found := false
	for _, v := range vs {
		found = found || (v.Code == "NV1" && v.Facilities[0] == "NEW001" && len(v.Commitment) == 64)
	}
	if !found || bytes.Contains(f.send(t, "GET", "/v1/vaccinators", nil).body, []byte("Vikram")) {
		t.Fatalf("vaccinator on the ledger (by code, without a name): %+v", vs)
	}
	// The new facility records a dose with the token the node made for it.
	var tok string
	for k, v := range f.n.Service.FacilityTokens() {
		if v == "NEW001" {
			tok = k
		}
	}
	row := f.row(map[string]string{"vaccinatorName": "Vikram Naik", "facilityName": "New Clinic Nashik", "vaccinationName": "Covaxin", "vaccinationManufacturer": "Bharat Biotech"})
	up = wantJSON[vault.Upload](t, f.postCSV(t, "?wait=true", csvOf(t, f.header, row), bearerHdr(tok)...), 200)
	if up.Accepted != 1 || up.Facility != "NEW001" {
		t.Fatalf("upload by the new facility: %+v", up)
	}

	// Governance: the proposals are on the ledger, applied.
	var props []app.Proposal
	json.Unmarshal(f.send(t, "GET", "/v1/governance/proposals?status=applied", nil).body, &props)
	if len(props) < 5 {
		t.Fatalf("%d applied proposals", len(props))
	}
	// A generic change with an unknown kind, and approving an unknown proposal.
	wantProblem(t, post("/v1/governance/proposals", map[string]any{"kind": "nope/v1", "statement": map[string]any{}}, 400), 400, string(app.CodeUnknownKind))
	wantProblem(t, post("/v1/governance/proposals/9999-0/approve", nil, 404), 404, string(app.CodeUnknownProposal))
	// An invalid program is refused by the ledger's checks.
	wantProblem(t, post("/v1/programs", app.SetProgramStatement{Program: app.Program{ID: "X", Name: "x", Vaccines: []string{"NOPE"}, Status: app.StatusActive}}, 422), 422, string(app.CodeInvalidRegistry))
}
