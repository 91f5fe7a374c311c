package app

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
)

// validator.set/v1: add a validator, change its voting power, or remove it
// (power 0). Governed (see register.go): with M-of-N governance, no single
// agency changes who runs consensus. The change reaches CometBFT as a
// ValidatorUpdate at the end of the block it is applied in (and takes effect
// two blocks later, as CometBFT defines). The current set is state, under
// reg/validator/<address>, so that the ledger refuses a change CometBFT would
// reject (removing an unknown validator, or the last one).

// Validator kind and part type.
const (
	KindSetValidator = "validator.set/v1"
	TypSetValidator  = "divoc-validator+json"
	kValidator       = "reg/validator/"
	// MaxValidatorPower bounds one validator's voting power.
	MaxValidatorPower = 1_000_000
)

// Validator is a consensus validator: an agency's Ed25519 key and its power.
type Validator struct {
	Address string `json:"address"` // CometBFT address: first 20 bytes of SHA-256(pubkey), hex
	Name    string `json:"name"`
	Power   int64  `json:"power"`
	PubKey  string `json:"pub_key"` // base64url Ed25519 public key
}

// ValidatorAddress is CometBFT's address of an Ed25519 public key.
func ValidatorAddress(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return fmt.Sprintf("%X", h[:20])
}

// NewValidator describes a validator from its public key.
func NewValidator(pub ed25519.PublicKey, power int64, name string) Validator {
	return Validator{Address: ValidatorAddress(pub), Name: name, Power: power, PubKey: b64.EncodeToString(pub)}
}

// Key returns the validator's public key.
func (v *Validator) Key() (ed25519.PublicKey, error) {
	b, err := b64.DecodeString(v.PubKey)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("validator %s: pub_key is not a base64url Ed25519 key", v.Name)
	}
	return ed25519.PublicKey(b), nil
}

// SetValidatorStatement is what governance signs.
type SetValidatorStatement struct {
	Validator Validator `json:"validator"`
}

type validatorChange struct{ v Validator }

func decodeValidatorChange(payload []byte) (change, *Error) {
	st, e := canonical[SetValidatorStatement](payload, TypSetValidator)
	if e != nil {
		return nil, e
	}
	v := st.Validator
	pub, err := v.Key()
	if err != nil {
		return nil, reject(CodeInvalidRegistry, err.Error())
	}
	if v.Address != ValidatorAddress(pub) {
		return nil, reject(CodeInvalidRegistry, fmt.Sprintf("validator address %s is not the address of its key (%s)", v.Address, ValidatorAddress(pub)))
	}
	if v.Power < 0 || v.Power > MaxValidatorPower || len(v.Name) > 128 {
		return nil, reject(CodeInvalidRegistry, fmt.Sprintf("validator %s: power 0..%d (0 removes it), name at most 128 bytes", v.Address, MaxValidatorPower))
	}
	return &validatorChange{v: v}, nil
}

func (vc *validatorChange) apply(c *execCtx) *TxResult {
	key := kValidator + vc.v.Address
	cur, _ := getJSON[Validator](c, key)
	if vc.v.Power == 0 {
		if cur == nil {
			return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("%s is not a validator", vc.v.Address)))
		}
		left := 0
		for _, v := range c.validators() {
			if v.Address != vc.v.Address {
				left++
			}
		}
		if left == 0 {
			return rejected(reject(CodeInvalidRegistry, "cannot remove the last validator"))
		}
		c.remove(key)
	} else {
		c.setJSON(key, vc.v)
	}
	c.blk.validatorUpdates = append(c.blk.validatorUpdates, vc.v)
	return accepted(KindSetValidator)
}

// validators lists the current set from state, in address order.
func (c *execCtx) validators() []Validator {
	var out []Validator
	it, err := c.app.tree.Iterator([]byte(kValidator), prefixEnd([]byte(kValidator)), true)
	if err != nil {
		return nil
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if v, _ := getJSON[Validator](c, string(it.Key())); v != nil {
			out = append(out, *v)
		}
	}
	return out
}

// ValidatorUpdates are the validator changes of the block FinalizeBlock
// executed last, in the order they were applied.
func (a *App) ValidatorUpdates() []Validator {
	if a.pending == nil {
		return nil
	}
	return a.pending.blk.validatorUpdates
}

// Validators lists the validator set recorded at the snapshot.
func (s *Snapshot) Validators() []Validator { return List[Validator](s, kValidator) }
