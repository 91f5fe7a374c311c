package app

// authority.register/v1: create or replace an authority (an issuer, a
// governance body, an auditor) and manage its keys. Governed; part type
// "divoc-authority+json".

// TypRegisterAuthority is the part type.
const TypRegisterAuthority = "divoc-authority+json"

// RegisterAuthorityStatement is what governance signs.
type RegisterAuthorityStatement struct {
	Authority Authority `json:"authority"`
	// FormatKeys are signer keys for other formats (EU DCC, SMART Health
	// Cards); they are added, never replaced.
	FormatKeys []FormatKey `json:"format_keys,omitempty"`
	Keys       []KeySpec   `json:"keys"`
	Retire     []string    `json:"retire"`
}

type authorityChange struct {
	stmt *RegisterAuthorityStatement
	keys []Key
}

func decodeAuthorityChange(payload []byte) (change, *Error) {
	st, e := canonical[RegisterAuthorityStatement](payload, TypRegisterAuthority)
	if e != nil {
		return nil, e
	}
	if err := st.Authority.validate(); err != nil {
		return nil, reject(CodeInvalidRegistry, err.Error())
	}
	keys, e := checkKeys(st.Keys, AuthorityOwner(st.Authority.ID), st.Authority.Roles)
	if e != nil {
		return nil, e
	}
	for i := range st.FormatKeys {
		k := st.FormatKeys[i]
		k.Authority = st.Authority.ID
		if err := k.validate(); err != nil {
			return nil, reject(CodeInvalidRegistry, err.Error())
		}
	}
	return &authorityChange{stmt: st, keys: keys}, nil
}

func (a *authorityChange) apply(c *execCtx) *TxResult {
	if e := applyKeys(c, AuthorityOwner(a.stmt.Authority.ID), a.keys, a.stmt.Retire); e != nil {
		return rejected(e)
	}
	if e := applyFormatKeys(c, a.stmt.Authority.ID, a.stmt.FormatKeys); e != nil {
		return rejected(e)
	}
	c.setJSON(kAuthority+a.stmt.Authority.ID, a.stmt.Authority)
	return accepted(KindRegisterAuthority)
}
