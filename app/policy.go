package app

import "fmt"

// Policy changes, all governed (see register.go):
//
//	program.set/v1   "divoc-program+json"  a program: dates, vaccines, phases, identity types, mixing
//	vaccine.set/v1   "divoc-vaccine+json"  a vaccine: schedule, boosters, validity, codes, status
//	district.set/v1  "divoc-district+json" a district's daily caps per program
//	phase.set/v1     "divoc-phase+json"    open or close one phase of a program

// Policy kinds and their part types.
const (
	KindSetProgram  = "program.set/v1"
	KindSetVaccine  = "vaccine.set/v1"
	KindSetDistrict = "district.set/v1"
	KindSetPhase    = "phase.set/v1"

	TypSetProgram  = "divoc-program+json"
	TypSetVaccine  = "divoc-vaccine+json"
	TypSetDistrict = "divoc-district+json"
	TypSetPhase    = "divoc-phase+json"
)

// SetProgramStatement creates or replaces a program.
type SetProgramStatement struct {
	Program Program `json:"program"`
}

// SetVaccineStatement creates or replaces a vaccine.
type SetVaccineStatement struct {
	Vaccine Vaccine `json:"vaccine"`
}

// SetDistrictStatement sets a district's caps.
type SetDistrictStatement struct {
	District District `json:"district"`
}

// SetPhaseStatement opens or closes a phase.
type SetPhaseStatement struct {
	Open    bool   `json:"open"`
	Phase   string `json:"phase"`
	Program string `json:"program"`
}

type programChange struct{ p Program }

func decodeProgramChange(payload []byte) (change, *Error) {
	st, e := canonical[SetProgramStatement](payload, TypSetProgram)
	if e != nil {
		return nil, e
	}
	if err := st.Program.validate(); err != nil {
		return nil, reject(CodeInvalidRegistry, err.Error())
	}
	return &programChange{p: st.Program}, nil
}

func (pc *programChange) apply(c *execCtx) *TxResult {
	for _, v := range pc.p.Vaccines {
		if vac, _ := c.vaccine(v); vac == nil {
			return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("program %s: vaccine %s is not registered", pc.p.ID, v)))
		}
	}
	c.setJSON(kProgram+pc.p.ID, pc.p)
	return accepted(KindSetProgram)
}

type vaccineChange struct{ v Vaccine }

func decodeVaccineChange(payload []byte) (change, *Error) {
	st, e := canonical[SetVaccineStatement](payload, TypSetVaccine)
	if e != nil {
		return nil, e
	}
	if err := st.Vaccine.validate(); err != nil {
		return nil, reject(CodeInvalidRegistry, err.Error())
	}
	return &vaccineChange{v: st.Vaccine}, nil
}

func (vc *vaccineChange) apply(c *execCtx) *TxResult {
	c.setJSON(kVaccine+vc.v.Code, vc.v)
	return accepted(KindSetVaccine)
}

type districtChange struct{ d District }

func decodeDistrictChange(payload []byte) (change, *Error) {
	st, e := canonical[SetDistrictStatement](payload, TypSetDistrict)
	if e != nil {
		return nil, e
	}
	if err := st.District.validate(); err != nil {
		return nil, reject(CodeInvalidRegistry, err.Error())
	}
	return &districtChange{d: st.District}, nil
}

func (dc *districtChange) apply(c *execCtx) *TxResult {
	for _, p := range capPrograms(dc.d.Caps) {
		if prog, _ := c.program(p); prog == nil {
			return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("district %s/%s: program %s is not registered", dc.d.State, dc.d.District, p)))
		}
	}
	c.setJSON(DistrictKey(dc.d.State, dc.d.District), dc.d)
	return accepted(KindSetDistrict)
}

type phaseChange struct{ s SetPhaseStatement }

func decodePhaseChange(payload []byte) (change, *Error) {
	st, e := canonical[SetPhaseStatement](payload, TypSetPhase)
	if e != nil {
		return nil, e
	}
	return &phaseChange{s: *st}, nil
}

func (pc *phaseChange) apply(c *execCtx) *TxResult {
	prog, _ := c.program(pc.s.Program)
	if prog == nil {
		return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("program %q is not registered", pc.s.Program)))
	}
	next := *prog
	next.Phases = append([]Phase(nil), prog.Phases...)
	for i := range next.Phases {
		if next.Phases[i].ID == pc.s.Phase {
			next.Phases[i].Open = pc.s.Open
			c.setJSON(kProgram+next.ID, next)
			return accepted(KindSetPhase)
		}
	}
	return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("program %s has no phase %q", prog.ID, pc.s.Phase)))
}
