// Package genesis builds the consortium genesis: the authorities and their
// keys, the programs and vaccines, and the facilities and vaccinators read
// from DIVOC's facilities.csv and vaccinators.csv. Personal data in those
// files (vaccinators' names, admins' phone numbers) is left out: a
// vaccinator is a code and a keyed commitment on the ledger.
package genesis

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/internal/strictjson"
)

// DefaultVaccines is the catalogue a new network starts with: the vaccines
// of India's COVID-19 drive and its measles-rubella campaign, with their
// schedules.
func DefaultVaccines() []app.Vaccine {
	return []app.Vaccine{
		{Code: "COVISHIELD", Name: "Covishield", Manufacturer: "Serum Institute of India", Doses: 2, Boosters: 1, MinIntervalDays: 84,
			EUProduct: "Covishield", ICD11: "XM9QW8", ValidityDays: 270, Status: app.StatusActive},
		{Code: "COVAXIN", Name: "Covaxin", Manufacturer: "Bharat Biotech", Doses: 2, Boosters: 1, MinIntervalDays: 28,
			EUProduct: "Covaxin", ICD11: "XM1NL1", ValidityDays: 270, Status: app.StatusActive},
		{Code: "CORBEVAX", Name: "Corbevax", Manufacturer: "Biological E", Doses: 2, Boosters: 1, MinIntervalDays: 28,
			ICD11: "XM5JC5", ValidityDays: 270, Status: app.StatusActive},
		{Code: "MRVAC", Name: "MR-VAC", Manufacturer: "Serum Institute of India", Doses: 2, MinIntervalDays: 28, Status: app.StatusActive},
	}
}

// DefaultPrograms are the programs a new network starts with.
func DefaultPrograms() []app.Program {
	return []app.Program{
		{ID: "C19", Name: "COVID-19 Vaccination Programme", Disease: "COVID-19", Vaccines: []string{"COVISHIELD", "COVAXIN", "CORBEVAX"}, Status: app.StatusActive,
			Phases: []app.Phase{
				{ID: "phase-1", Name: "Health and frontline workers, and people aged 60 and over", Groups: []string{app.GroupHealthWorker, app.GroupFrontlineWorker, app.Group60Plus}, Open: true},
				{ID: "phase-2", Name: "People aged 45 and over with comorbidities", Groups: []string{app.Group45PlusComorbid}, Open: true},
				{ID: "phase-3", Name: "All adults", Groups: []string{app.GroupAdult}, Open: true},
			}},
		{ID: "MR", Name: "Measles-Rubella Campaign", Disease: "Measles and rubella", Vaccines: []string{"MRVAC"}, Status: app.StatusActive},
	}
}

// Authority is an agency with its public keys by role.
type Authority struct {
	ID, Name string
	Roles    []string
	Keys     map[string]ed25519.PublicKey // role -> key
	// FormatKeys are its signer keys for other formats (EU DCC, SMART
	// Health Cards).
	FormatKeys []app.FormatKey
}

// Input is what a genesis is built from.
type Input struct {
	Params      app.Params
	Authorities []Authority
	Programs    []app.Program
	Vaccines    []app.Vaccine
	Facilities  []divocfmt.Facility
	// FacilityKeys holds each facility's initial signing key.
	FacilityKeys map[string]ed25519.PublicKey
	Vaccinators  []divocfmt.Vaccinator
	// CommitKey keys the vaccinators' commitments.
	CommitKey ingest.PseudonymKey
}

// Build returns the app genesis, with a warning for each registry row that
// could not be used as is.
func Build(in Input) (*app.Genesis, []string, error) {
	g := &app.Genesis{Params: in.Params, Programs: in.Programs, Vaccines: in.Vaccines}
	var warnings []string
	programIDs := make([]string, len(in.Programs))
	for i, p := range in.Programs {
		programIDs[i] = p.ID
	}
	for _, a := range in.Authorities {
		ga := app.GenesisAuthority{Authority: app.Authority{ID: a.ID, Name: a.Name, Roles: a.Roles, Status: app.StatusActive}, FormatKeys: a.FormatKeys}
		for _, role := range a.Roles {
			if k, ok := a.Keys[role]; ok {
				ga.Keys = append(ga.Keys, app.KeySpec{Public: b64(k), Role: role})
			}
		}
		g.Authorities = append(g.Authorities, ga)
	}
	known := map[string]bool{}
	for _, f := range in.Facilities {
		k, ok := in.FacilityKeys[f.Code]
		if !ok {
			return nil, nil, fmt.Errorf("facility %s has no key", f.Code)
		}
		fac := FacilityFromDIVOC(f, programIDs)
		if fac.Status != app.StatusActive {
			warnings = append(warnings, fmt.Sprintf("facility %s: status %q, registered as suspended", f.Code, f.Status))
		}
		g.Facilities = append(g.Facilities, app.GenesisFacility{Facility: fac, Keys: []app.KeySpec{{Public: b64(k), Role: app.RoleFacility}}})
		known[f.Code] = true
	}
	for _, v := range in.Vaccinators {
		var at []string
		for _, f := range v.FacilityCodes {
			if known[f] {
				at = append(at, f)
			} else {
				warnings = append(warnings, fmt.Sprintf("vaccinator %s: facility %s is not in facilities.csv, dropped", v.Code, f))
			}
		}
		if len(at) == 0 {
			warnings = append(warnings, fmt.Sprintf("vaccinator %s: no known facility, left out", v.Code))
			continue
		}
		sort.Strings(at)
		g.Vaccinators = append(g.Vaccinators, VaccinatorFromDIVOC(v, at, in.CommitKey))
	}
	if err := g.Validate(); err != nil {
		return nil, warnings, err
	}
	return g, warnings, nil
}

// FacilityFromDIVOC is the ledger's entry for a row of DIVOC's
// facilities.csv, approved for the given programs. DIVOC's "Active" status
// is active; any other is suspended. Contact details stay off the ledger.
func FacilityFromDIVOC(f divocfmt.Facility, programs []string) app.Facility {
	status := app.StatusActive
	if !strings.EqualFold(f.Status, "active") {
		status = app.StatusSuspended
	}
	return app.Facility{
		Category: strings.ToUpper(f.Category), Code: f.Code, District: f.Address.District, Name: f.Name,
		PaymentModes: paymentModes(f.Category), Pincode: f.Address.Pincode, Programs: programs, State: f.Address.State, Status: status, Type: f.Type,
	}
}

// paymentModes: government facilities are government-paid; private ones
// take all three modes.
func paymentModes(category string) []string {
	if strings.EqualFold(category, divocfmt.CategoryGovt) {
		return []string{app.PayGovernment}
	}
	return []string{app.PayGovernment, app.PayEmployer, app.PaySelf}
}

// VaccinatorFromDIVOC is the ledger's entry for a row of DIVOC's
// vaccinators.csv at the given facilities: a code and a keyed commitment
// to the person's details.
func VaccinatorFromDIVOC(v divocfmt.Vaccinator, facilities []string, key ingest.PseudonymKey) app.Vaccinator {
	status := app.StatusActive
	if !strings.EqualFold(v.Status, "active") {
		status = app.StatusSuspended
	}
	return app.Vaccinator{Code: v.Code, Commitment: VaccinatorCommitment(key, v), Facilities: facilities, Status: status}
}

// VaccinatorCommitment is the keyed hash of a vaccinator's details.
func VaccinatorCommitment(key ingest.PseudonymKey, v divocfmt.Vaccinator) string {
	details := struct {
		Email, Mobile, Name, NationalIdentifier string
	}{v.Email, v.Mobile, v.Name, v.NationalIdentifier}
	b, _ := strictjson.Marshal(details)
	return key.Commitment(divocfmt.Certificate{PreEnrollmentCode: "vaccinator:" + v.Code, Recipient: divocfmt.Recipient{Name: string(b)}})
}

func b64(k ed25519.PublicKey) string { return base64.RawURLEncoding.EncodeToString(k) }
