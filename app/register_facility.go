package app

import "fmt"

// facility.register/v1: create or replace a facility (its programs, daily
// caps, payment modes, status) and manage its signing keys (several may be
// valid at once, so keys rotate without downtime). Governed; part type
// "divoc-facility+json".

// TypRegisterFacility is the part type.
const TypRegisterFacility = "divoc-facility+json"

// RegisterFacilityStatement is what governance signs.
type RegisterFacilityStatement struct {
	Facility Facility  `json:"facility"`
	Keys     []KeySpec `json:"keys"`
	Retire   []string  `json:"retire"`
}

type facilityChange struct {
	stmt *RegisterFacilityStatement
	keys []Key
}

func decodeFacilityChange(payload []byte) (change, *Error) {
	st, e := canonical[RegisterFacilityStatement](payload, TypRegisterFacility)
	if e != nil {
		return nil, e
	}
	if err := st.Facility.validate(); err != nil {
		return nil, reject(CodeInvalidRegistry, err.Error())
	}
	keys, e := checkKeys(st.Keys, FacilityOwner(st.Facility.Code), []string{RoleFacility})
	if e != nil {
		return nil, e
	}
	return &facilityChange{stmt: st, keys: keys}, nil
}

func (f *facilityChange) apply(c *execCtx) *TxResult {
	fac := f.stmt.Facility
	for _, p := range append(append([]string{}, fac.Programs...), capPrograms(fac.Caps)...) {
		if prog, _ := c.program(p); prog == nil {
			return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("facility %s: program %s is not registered", fac.Code, p)))
		}
	}
	if e := applyKeys(c, FacilityOwner(fac.Code), f.keys, f.stmt.Retire); e != nil {
		return rejected(e)
	}
	c.setJSON(kFacility+fac.Code, fac)
	return accepted(KindRegisterFacility)
}

func capPrograms(caps []Cap) []string {
	out := make([]string, len(caps))
	for i, c := range caps {
		out[i] = c.Program
	}
	return out
}
