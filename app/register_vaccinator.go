package app

import "fmt"

// vaccinator.register/v1: create or replace a vaccinator: a pseudonymous
// code, a commitment to their details (kept in the vault), the facilities
// they work at and the programs they are certified for. Governed; part type
// "divoc-vaccinator+json".

// TypRegisterVaccinator is the part type.
const TypRegisterVaccinator = "divoc-vaccinator+json"

// RegisterVaccinatorStatement is what governance signs.
type RegisterVaccinatorStatement struct {
	Vaccinator Vaccinator `json:"vaccinator"`
}

type vaccinatorChange struct{ stmt *RegisterVaccinatorStatement }

func decodeVaccinatorChange(payload []byte) (change, *Error) {
	st, e := canonical[RegisterVaccinatorStatement](payload, TypRegisterVaccinator)
	if e != nil {
		return nil, e
	}
	if err := st.Vaccinator.validate(); err != nil {
		return nil, reject(CodeInvalidRegistry, err.Error())
	}
	return &vaccinatorChange{stmt: st}, nil
}

func (v *vaccinatorChange) apply(c *execCtx) *TxResult {
	vr := v.stmt.Vaccinator
	for _, f := range vr.Facilities {
		if fac, _ := c.facility(f); fac == nil {
			return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("vaccinator %s: facility %s is not registered", vr.Code, f)))
		}
	}
	for _, p := range vr.Programs {
		if prog, _ := c.program(p); prog == nil {
			return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("vaccinator %s: program %s is not registered", vr.Code, p)))
		}
	}
	c.setJSON(kVaccinatr+vr.Code, vr)
	return accepted(KindRegisterVaccinator)
}
