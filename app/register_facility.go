package app

import "fmt"

// facility.register/v1: create or replace a facility and manage its
// signing keys (several may be valid at once, so keys rotate without
// downtime). Part 0, typ "divoc-facility+json", governance-signed.

// TypRegisterFacility is the part type.
const TypRegisterFacility = "divoc-facility+json"

// RegisterFacilityStatement is what governance signs.
type RegisterFacilityStatement struct {
	Facility Facility  `json:"facility"`
	Keys     []KeySpec `json:"keys"`
	Retire   []string  `json:"retire"`
}

type registerFacilityTx struct {
	part *signedPart
	stmt RegisterFacilityStatement
	keys []Key
}

func decodeRegisterFacility(tx *Tx) (body, *Error) {
	if len(tx.Parts) != 1 {
		return nil, reject(CodeMalformed, "a registration has exactly one part")
	}
	r := &registerFacilityTx{}
	var e *Error
	if r.part, e = decodePart(tx.Parts[0], TypRegisterFacility, &r.stmt); e != nil {
		return nil, e
	}
	if err := r.stmt.Facility.validate(); err != nil {
		return nil, reject(CodeInvalidRegistry, err.Error())
	}
	if r.keys, e = checkKeys(r.stmt.Keys, FacilityOwner(r.stmt.Facility.Code), []string{RoleFacility}); e != nil {
		return nil, e
	}
	return r, nil
}

func (r *registerFacilityTx) parts() []*signedPart { return []*signedPart{r.part} }

func (r *registerFacilityTx) authorize(c *execCtx, keys []*Key) *Error {
	return governanceOnly(c, keys[0])
}

func (r *registerFacilityTx) apply(c *execCtx, _ []*Key) *TxResult {
	for _, p := range r.stmt.Facility.Programs {
		if prog, _ := c.program(p); prog == nil {
			return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("facility %s: program %s is not registered", r.stmt.Facility.Code, p)))
		}
	}
	if e := applyKeys(c, FacilityOwner(r.stmt.Facility.Code), r.keys, r.stmt.Retire); e != nil {
		return rejected(e)
	}
	c.setJSON(kFacility+r.stmt.Facility.Code, r.stmt.Facility)
	return &TxResult{Code: OK, Kind: KindRegisterFacility, Items: []ItemResult{{Code: OK}}}
}
