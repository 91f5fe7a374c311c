package app

// authority.register/v1: create or replace an authority (an issuer, a
// governance body, an auditor) and manage its keys.
// Part 0, typ "divoc-authority+json", governance-signed.

// TypRegisterAuthority is the part type.
const TypRegisterAuthority = "divoc-authority+json"

// RegisterAuthorityStatement is what governance signs.
type RegisterAuthorityStatement struct {
	Authority Authority `json:"authority"`
	Keys      []KeySpec `json:"keys"`
	Retire    []string  `json:"retire"`
}

type registerAuthorityTx struct {
	part *signedPart
	stmt RegisterAuthorityStatement
	keys []Key
}

func decodeRegisterAuthority(tx *Tx) (body, *Error) {
	if len(tx.Parts) != 1 {
		return nil, reject(CodeMalformed, "a registration has exactly one part")
	}
	r := &registerAuthorityTx{}
	var e *Error
	if r.part, e = decodePart(tx.Parts[0], TypRegisterAuthority, &r.stmt); e != nil {
		return nil, e
	}
	if err := r.stmt.Authority.validate(); err != nil {
		return nil, reject(CodeInvalidRegistry, err.Error())
	}
	if r.keys, e = checkKeys(r.stmt.Keys, AuthorityOwner(r.stmt.Authority.ID), r.stmt.Authority.Roles); e != nil {
		return nil, e
	}
	return r, nil
}

func (r *registerAuthorityTx) parts() []*signedPart { return []*signedPart{r.part} }

func (r *registerAuthorityTx) authorize(c *execCtx, keys []*Key) *Error {
	return governanceOnly(c, keys[0])
}

func (r *registerAuthorityTx) apply(c *execCtx, _ []*Key) *TxResult {
	if e := applyKeys(c, AuthorityOwner(r.stmt.Authority.ID), r.keys, r.stmt.Retire); e != nil {
		return rejected(e)
	}
	c.setJSON(kAuthority+r.stmt.Authority.ID, r.stmt.Authority)
	return &TxResult{Code: OK, Kind: KindRegisterAuthority, Items: []ItemResult{{Code: OK}}}
}
