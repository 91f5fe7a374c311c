package app

import "fmt"

// vaccinator.register/v1: create or replace a vaccinator: a pseudonymous
// code, a commitment to their details (kept in the vault), the facilities
// they work at. Part 0, typ "divoc-vaccinator+json", governance-signed.

// TypRegisterVaccinator is the part type.
const TypRegisterVaccinator = "divoc-vaccinator+json"

// RegisterVaccinatorStatement is what governance signs.
type RegisterVaccinatorStatement struct {
	Vaccinator Vaccinator `json:"vaccinator"`
}

type registerVaccinatorTx struct {
	part *signedPart
	stmt RegisterVaccinatorStatement
}

func decodeRegisterVaccinator(tx *Tx) (body, *Error) {
	if len(tx.Parts) != 1 {
		return nil, reject(CodeMalformed, "a registration has exactly one part")
	}
	r := &registerVaccinatorTx{}
	var e *Error
	if r.part, e = decodePart(tx.Parts[0], TypRegisterVaccinator, &r.stmt); e != nil {
		return nil, e
	}
	if err := r.stmt.Vaccinator.validate(); err != nil {
		return nil, reject(CodeInvalidRegistry, err.Error())
	}
	return r, nil
}

func (r *registerVaccinatorTx) parts() []*signedPart { return []*signedPart{r.part} }

func (r *registerVaccinatorTx) authorize(c *execCtx, keys []*Key) *Error {
	return governanceOnly(c, keys[0])
}

func (r *registerVaccinatorTx) apply(c *execCtx, _ []*Key) *TxResult {
	for _, f := range r.stmt.Vaccinator.Facilities {
		if fac, _ := c.facility(f); fac == nil {
			return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("vaccinator %s: facility %s is not registered", r.stmt.Vaccinator.Code, f)))
		}
	}
	c.setJSON(kVaccinatr+r.stmt.Vaccinator.Code, r.stmt.Vaccinator)
	return &TxResult{Code: OK, Kind: KindRegisterVaccinator, Items: []ItemResult{{Code: OK}}}
}
