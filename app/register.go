package app

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/divoc/divoc/internal/strictjson"
)

// Governed changes: registry entries (authorities, facilities, vaccinators,
// with their keys) and policies (programs with their phases, vaccines,
// district caps). Each change kind is a statement with its own checks and
// apply, in its own file. A change takes effect either
//   - directly, as a transaction of its kind signed by one governance key,
//     when the chain's governance threshold is 1; or
//   - through governance.propose/v1 and governance.approve/v1, applied at
//     the height its approvals reach the threshold (governance.go).

// change is a governed update, decoded and validated, ready to apply.
type change interface {
	// apply writes the change, checking what needs state first; a refused
	// change writes nothing.
	apply(c *execCtx) *TxResult
}

type changeKind struct {
	typ    string
	decode func(payload []byte) (change, *Error)
}

// changeKind returns the definition of a governed kind.
func lookupChange(kind string) (changeKind, bool) {
	switch kind {
	case KindRegisterAuthority:
		return changeKind{TypRegisterAuthority, decodeAuthorityChange}, true
	case KindRegisterFacility:
		return changeKind{TypRegisterFacility, decodeFacilityChange}, true
	case KindRegisterVaccinator:
		return changeKind{TypRegisterVaccinator, decodeVaccinatorChange}, true
	case KindSetProgram:
		return changeKind{TypSetProgram, decodeProgramChange}, true
	case KindSetVaccine:
		return changeKind{TypSetVaccine, decodeVaccineChange}, true
	case KindSetDistrict:
		return changeKind{TypSetDistrict, decodeDistrictChange}, true
	case KindSetPhase:
		return changeKind{TypSetPhase, decodePhaseChange}, true
	case KindSetValidator:
		return changeKind{TypSetValidator, decodeValidatorChange}, true
	case KindSetBatch:
		return changeKind{TypSetBatch, decodeBatchChange}, true
	case KindSetSafety:
		return changeKind{TypSetSafety, decodeSafetyChange}, true
	}
	return changeKind{}, false
}

// NewStatement returns a new, empty statement of a governed kind (nil for
// any other kind), for decoding one.
func NewStatement(kind string) any {
	switch kind {
	case KindRegisterAuthority:
		return &RegisterAuthorityStatement{}
	case KindRegisterFacility:
		return &RegisterFacilityStatement{}
	case KindRegisterVaccinator:
		return &RegisterVaccinatorStatement{}
	case KindSetProgram:
		return &SetProgramStatement{}
	case KindSetVaccine:
		return &SetVaccineStatement{}
	case KindSetDistrict:
		return &SetDistrictStatement{}
	case KindSetPhase:
		return &SetPhaseStatement{}
	case KindSetValidator:
		return &SetValidatorStatement{}
	case KindSetBatch:
		return &SetBatchStatement{}
	case KindSetSafety:
		return &SetSafetyStatement{}
	}
	return nil
}

// GovernedKinds lists the kinds governance changes can have.
var GovernedKinds = []string{KindRegisterAuthority, KindRegisterFacility, KindRegisterVaccinator, KindSetProgram, KindSetVaccine, KindSetDistrict, KindSetPhase, KindSetValidator, KindSetBatch, KindSetSafety}

// PartTypeOf returns the part type of a governed kind's statement.
func PartTypeOf(kind string) string {
	ck, _ := lookupChange(kind)
	return ck.typ
}

// canonical decodes a change statement (canonical JSON required).
func canonical[T any](payload []byte, typ string) (*T, *Error) {
	t := new(T)
	if err := strictjson.UnmarshalCanonical(payload, t); err != nil {
		return nil, reject(CodeNotCanonical, "statement of "+typ+": "+err.Error())
	}
	return t, nil
}

// governedTx is a change signed by one governance key.
type governedTx struct {
	kind string
	part *signedPart
	ch   change
}

func decodeGoverned(tx *Tx, ck changeKind) (body, *Error) {
	if len(tx.Parts) != 1 {
		return nil, reject(CodeMalformed, "a governance change has exactly one part")
	}
	p, e := decodePartRaw(tx.Parts[0], ck.typ)
	if e != nil {
		return nil, e
	}
	ch, e := ck.decode(p.payload)
	if e != nil {
		return nil, e
	}
	return &governedTx{kind: tx.Kind, part: p, ch: ch}, nil
}

func (g *governedTx) parts() []*signedPart { return []*signedPart{g.part} }

func (g *governedTx) authorize(c *execCtx, keys []*Key) *Error {
	if e := governanceOnly(c, keys[0]); e != nil {
		return e
	}
	if m := c.params.GovernanceThreshold; m > 1 {
		return reject(CodeNeedsApproval, fmt.Sprintf("changes need %d governance approvals on this chain: submit it as a %s", m, KindPropose))
	}
	return nil
}

func (g *governedTx) apply(c *execCtx, _ []*Key) *TxResult {
	res := g.ch.apply(c)
	res.Kind = g.kind
	return res
}

func accepted(kind string) *TxResult {
	return &TxResult{Code: OK, Kind: kind, Items: []ItemResult{{Code: OK}}}
}

// KeySpec is a public key to register; the ledger computes its kid and
// makes it valid from the height of the transaction.
type KeySpec struct {
	Public string `json:"public"`
	Role   string `json:"role"`
}

func governanceOnly(c *execCtx, k *Key) *Error {
	_, e := authorityWithRole(c, k, RoleGovernance)
	return e
}

// checkKeys validates key specs for owner and the roles it may hold.
func checkKeys(specs []KeySpec, owner string, roles []string) ([]Key, *Error) {
	keys := make([]Key, 0, len(specs))
	for _, s := range specs {
		pub, err := b64.DecodeString(s.Public)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, reject(CodeInvalidRegistry, "key: public must be a base64url Ed25519 public key")
		}
		if !contains(roles, s.Role) {
			return nil, reject(CodeInvalidRegistry, fmt.Sprintf("key: %s may hold keys for %s, not %q", owner, strings.Join(roles, ", "), s.Role))
		}
		keys = append(keys, NewKey(ed25519.PublicKey(pub), owner, s.Role, 0))
	}
	return keys, nil
}

// applyKeys registers new keys from this height and retires listed ones.
// It checks everything before it writes anything.
func applyKeys(c *execCtx, owner string, add []Key, retire []string) *Error {
	retired := make([]Key, 0, len(retire))
	for _, kid := range retire {
		k, err := c.key(kid)
		if err != nil || k == nil || k.Owner != owner {
			return reject(CodeInvalidRegistry, fmt.Sprintf("cannot retire key %s: not a key of %s", kid, owner))
		}
		if k.ValidUntil != 0 && k.ValidUntil < c.height {
			continue // already retired
		}
		r := *k
		r.ValidUntil = max(c.height-1, r.ValidFrom)
		retired = append(retired, r)
	}
	for i, k := range add {
		if old, _ := c.key(k.KID); old != nil {
			return reject(CodeInvalidRegistry, fmt.Sprintf("key %s is already registered to %s", k.KID, old.Owner))
		}
		for _, other := range add[:i] {
			if other.KID == k.KID {
				return reject(CodeInvalidRegistry, fmt.Sprintf("key %s is listed twice", k.KID))
			}
		}
	}
	for _, r := range retired {
		c.setJSON(kKey+r.KID, r)
	}
	for _, k := range add {
		k.ValidFrom = c.height
		c.setJSON(kKey+k.KID, k)
	}
	return nil
}
