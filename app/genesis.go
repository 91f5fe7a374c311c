package app

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Genesis is the consortium's starting state: the chain's parameters, the
// authorities and their keys, and the registries. It is the app_state of
// CometBFT's genesis file.
type Genesis struct {
	Authorities []GenesisAuthority `json:"authorities"`
	Districts   []District         `json:"districts,omitempty"`
	Facilities  []GenesisFacility  `json:"facilities"`
	Params      Params             `json:"params"`
	Programs    []Program          `json:"programs"`
	Vaccinators []Vaccinator       `json:"vaccinators"`
	Vaccines    []Vaccine          `json:"vaccines"`
}

// GenesisAuthority is an authority with its initial keys.
type GenesisAuthority struct {
	Authority  Authority   `json:"authority"`
	FormatKeys []FormatKey `json:"format_keys,omitempty"`
	Keys       []KeySpec   `json:"keys"`
}

// GenesisFacility is a facility with its initial keys.
type GenesisFacility struct {
	Facility Facility  `json:"facility"`
	Keys     []KeySpec `json:"keys"`
}

// ParseGenesis decodes and validates app_state.
func ParseGenesis(raw []byte) (*Genesis, error) {
	var g Genesis
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

// Validate checks the genesis is complete and consistent: unique ids, every
// reference resolves, every key is well-formed, at least one governance and
// one issuing authority with keys.
func (g *Genesis) Validate() error {
	p := g.Params
	if p.TimezoneOffsetMinutes < -12*60 || p.TimezoneOffsetMinutes > 14*60 {
		return fmt.Errorf("genesis params: timezone_offset_minutes must be within -720..840")
	}
	if p.MaxEventsPerTx < 1 || p.BackdateDays < 0 || p.TxValiditySeconds < 1 || p.MaxClockSkewSeconds < 0 {
		return fmt.Errorf("genesis params: max_events_per_tx ≥ 1, tx_validity_seconds ≥ 1, others ≥ 0")
	}
	vaccines := map[string]bool{}
	for i := range g.Vaccines {
		v := &g.Vaccines[i]
		if err := v.validate(); err != nil {
			return fmt.Errorf("genesis: %w", err)
		}
		if vaccines[v.Code] {
			return fmt.Errorf("genesis: vaccine %s listed twice", v.Code)
		}
		vaccines[v.Code] = true
	}
	programs := map[string]bool{}
	for i := range g.Programs {
		pr := &g.Programs[i]
		if err := pr.validate(); err != nil {
			return fmt.Errorf("genesis: %w", err)
		}
		if programs[pr.ID] {
			return fmt.Errorf("genesis: program %s listed twice", pr.ID)
		}
		programs[pr.ID] = true
		for _, v := range pr.Vaccines {
			if !vaccines[v] {
				return fmt.Errorf("genesis: program %s names unknown vaccine %s", pr.ID, v)
			}
		}
	}
	kids := map[string]bool{}
	addKeys := func(specs []KeySpec, owner string, roles []string) error {
		keys, e := checkKeys(specs, owner, roles)
		if e != nil {
			return fmt.Errorf("genesis: %s: %s", owner, e.Reason)
		}
		for _, k := range keys {
			if kids[k.KID] {
				return fmt.Errorf("genesis: key %s listed twice", k.KID)
			}
			kids[k.KID] = true
		}
		return nil
	}
	ids := map[string]bool{}
	roles := map[string]bool{}
	for i := range g.Authorities {
		a := &g.Authorities[i]
		if err := a.Authority.validate(); err != nil {
			return fmt.Errorf("genesis: %w", err)
		}
		if ids[a.Authority.ID] {
			return fmt.Errorf("genesis: authority %s listed twice", a.Authority.ID)
		}
		ids[a.Authority.ID] = true
		if err := addKeys(a.Keys, AuthorityOwner(a.Authority.ID), a.Authority.Roles); err != nil {
			return err
		}
		for _, k := range a.FormatKeys {
			k.Authority = a.Authority.ID
			if err := k.validate(); err != nil {
				return fmt.Errorf("genesis: authority %s: %w", a.Authority.ID, err)
			}
		}
		for _, k := range a.Keys {
			roles[k.Role] = true
		}
	}
	if !roles[RoleGovernance] || !roles[RoleIssuer] {
		return fmt.Errorf("genesis: at least one authority key with the governance role and one with the issuer role are required")
	}
	governors := 0
	for _, a := range g.Authorities {
		if contains(a.Authority.Roles, RoleGovernance) {
			governors++
		}
	}
	if m := g.Params.GovernanceThreshold; m < 0 || m > governors {
		return fmt.Errorf("genesis: governance threshold %d: between 0 and the %d governance authorities", m, governors)
	}
	districts := map[string]bool{}
	for i := range g.Districts {
		d := &g.Districts[i]
		if err := d.validate(); err != nil {
			return fmt.Errorf("genesis: %w", err)
		}
		if districts[d.State+"/"+d.District] {
			return fmt.Errorf("genesis: district %s/%s listed twice", d.State, d.District)
		}
		districts[d.State+"/"+d.District] = true
		for _, p := range capPrograms(d.Caps) {
			if !programs[p] {
				return fmt.Errorf("genesis: district %s/%s caps unknown program %s", d.State, d.District, p)
			}
		}
	}
	facilities := map[string]bool{}
	for i := range g.Facilities {
		f := &g.Facilities[i]
		if err := f.Facility.validate(); err != nil {
			return fmt.Errorf("genesis: %w", err)
		}
		if facilities[f.Facility.Code] {
			return fmt.Errorf("genesis: facility %s listed twice", f.Facility.Code)
		}
		facilities[f.Facility.Code] = true
		for _, p := range append(append([]string{}, f.Facility.Programs...), capPrograms(f.Facility.Caps)...) {
			if !programs[p] {
				return fmt.Errorf("genesis: facility %s names unknown program %s", f.Facility.Code, p)
			}
		}
		if err := addKeys(f.Keys, FacilityOwner(f.Facility.Code), []string{RoleFacility}); err != nil {
			return err
		}
	}
	vaccinators := map[string]bool{}
	for i := range g.Vaccinators {
		v := &g.Vaccinators[i]
		if err := v.validate(); err != nil {
			return fmt.Errorf("genesis: %w", err)
		}
		if vaccinators[v.Code] {
			return fmt.Errorf("genesis: vaccinator %s listed twice", v.Code)
		}
		vaccinators[v.Code] = true
		for _, f := range v.Facilities {
			if !facilities[f] {
				return fmt.Errorf("genesis: vaccinator %s names unknown facility %s", v.Code, f)
			}
		}
		for _, p := range v.Programs {
			if !programs[p] {
				return fmt.Errorf("genesis: vaccinator %s names unknown program %s", v.Code, p)
			}
		}
	}
	return nil
}

// apply writes the genesis into state. Keys are valid from height 0.
func (g *Genesis) apply(c *execCtx) {
	c.setJSON(kParams, g.Params)
	for _, v := range g.Vaccines {
		c.setJSON(kVaccine+v.Code, v)
	}
	for _, p := range g.Programs {
		c.setJSON(kProgram+p.ID, p)
	}
	writeKeys := func(specs []KeySpec, owner string, roles []string) {
		keys, _ := checkKeys(specs, owner, roles)
		sort.Slice(keys, func(i, j int) bool { return keys[i].KID < keys[j].KID })
		for _, k := range keys {
			c.setJSON(kKey+k.KID, k)
		}
	}
	for _, a := range g.Authorities {
		c.setJSON(kAuthority+a.Authority.ID, a.Authority)
		writeKeys(a.Keys, AuthorityOwner(a.Authority.ID), a.Authority.Roles)
		_ = applyFormatKeys(c, a.Authority.ID, a.FormatKeys) // validated above
	}
	for _, f := range g.Facilities {
		c.setJSON(kFacility+f.Facility.Code, f.Facility)
		writeKeys(f.Keys, FacilityOwner(f.Facility.Code), []string{RoleFacility})
	}
	for _, v := range g.Vaccinators {
		c.setJSON(kVaccinatr+v.Code, v)
	}
	for _, d := range g.Districts {
		c.setJSON(DistrictKey(d.State, d.District), d)
	}
}
