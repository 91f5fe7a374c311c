package receipt

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/crypto/secp256k1"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmtmath "github.com/cometbft/cometbft/libs/math"
	"github.com/cometbft/cometbft/types"
)

// Trust is what a verifier pins: the chain and its validators' public keys
// and voting powers (from genesis, or a later set it verified).
type Trust struct {
	ChainID    string
	Validators *types.ValidatorSet
	// Height and Source say where the set was taken from (informative).
	Height int64
	Source string
}

// trustJSON is validators.json. Its validators array has the format of
// genesis.json's (address, pub_key {type, value}, power, name), so a
// genesis.json is also a trust file.
type trustJSON struct {
	ChainID    string          `json:"chain_id"`
	Height     int64           `json:"height,omitempty"`
	Source     string          `json:"source,omitempty"`
	Validators json.RawMessage `json:"validators"`
}

// NewTrust pins a validator set.
func NewTrust(chainID string, vals *types.ValidatorSet, height int64, source string) *Trust {
	return &Trust{ChainID: chainID, Validators: vals, Height: height, Source: source}
}

// MarshalJSON writes validators.json.
func (t Trust) MarshalJSON() ([]byte, error) {
	var gv []types.GenesisValidator
	if t.Validators != nil {
		for _, v := range t.Validators.Validators {
			gv = append(gv, types.GenesisValidator{Address: v.Address, PubKey: v.PubKey, Power: v.VotingPower})
		}
	}
	vb, err := cmtjson.Marshal(gv)
	if err != nil {
		return nil, err
	}
	return json.Marshal(trustJSON{ChainID: t.ChainID, Height: t.Height, Source: t.Source, Validators: vb})
}

// UnmarshalJSON reads validators.json or a CometBFT genesis.json.
func (t *Trust) UnmarshalJSON(b []byte) error {
	// A genesis.json has more members (and a string initial_height):
	// read only what a trust file holds.
	var doc struct {
		ChainID    string          `json:"chain_id"`
		Height     json.RawMessage `json:"height"`
		Source     string          `json:"source"`
		Validators json.RawMessage `json:"validators"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	if doc.ChainID == "" {
		return errors.New("no chain_id")
	}
	if len(doc.Validators) == 0 || string(doc.Validators) == "null" {
		return errors.New("no validators")
	}
	var gv []types.GenesisValidator
	if err := cmtjson.Unmarshal(doc.Validators, &gv); err != nil {
		return fmt.Errorf("validators: %w", err)
	}
	vals := make([]*types.Validator, 0, len(gv))
	seen := map[string]bool{}
	var total int64
	for i, v := range gv {
		if v.PubKey == nil {
			return fmt.Errorf("validator %d has no pub_key", i)
		}
		switch pk := v.PubKey.(type) {
		case ed25519.PubKey:
			if len(pk) != ed25519.PubKeySize {
				return fmt.Errorf("validator %d: an Ed25519 pub_key has %d bytes, not %d", i, len(pk), ed25519.PubKeySize)
			}
		case secp256k1.PubKey:
			if len(pk) != secp256k1.PubKeySize {
				return fmt.Errorf("validator %d: a secp256k1 pub_key has %d bytes, not %d", i, len(pk), secp256k1.PubKeySize)
			}
		default:
			return fmt.Errorf("validator %d: pub_key type %s is not supported", i, v.PubKey.Type())
		}
		if v.Power <= 0 {
			return fmt.Errorf("validator %d has power %d", i, v.Power)
		}
		if len(v.Address) > 0 && string(v.Address) != string(v.PubKey.Address()) {
			return fmt.Errorf("validator %d: address %X is not its key's %X", i, v.Address, v.PubKey.Address())
		}
		if total += v.Power; v.Power > types.MaxTotalVotingPower || total > types.MaxTotalVotingPower {
			return fmt.Errorf("validators: total voting power is over CometBFT's maximum")
		}
		if seen[string(v.PubKey.Address())] {
			return fmt.Errorf("validator %d is listed twice", i)
		}
		seen[string(v.PubKey.Address())] = true
		vals = append(vals, types.NewValidator(v.PubKey, v.Power))
	}
	if len(vals) == 0 {
		return errors.New("no validators")
	}
	set := types.NewValidatorSet(vals)
	if err := set.ValidateBasic(); err != nil {
		return fmt.Errorf("validators: %w", err)
	}
	var h int64
	if len(doc.Height) > 0 {
		_ = json.Unmarshal(doc.Height, &h)
	}
	*t = Trust{ChainID: doc.ChainID, Validators: set, Height: h, Source: doc.Source}
	return nil
}

// ParseTrust reads a trust file: validators.json (GET /v1/trust/validators)
// or the chain's genesis.json.
func ParseTrust(data []byte) (*Trust, error) {
	var t Trust
	if err := checkNoDuplicateKeys(data); err != nil {
		return nil, fmt.Errorf("trust file: %w", err)
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("trust file: %w", err)
	}
	return &t, nil
}

// DefaultTrustLevel: when a block's validator set is not the pinned one,
// more than this share of the pinned set's voting power must have signed
// it. Two-thirds keeps the guarantee of a pinned set; CometBFT's light
// client skips with one-third (see Policy.TrustLevel).
var DefaultTrustLevel = cmtmath.Fraction{Numerator: 2, Denominator: 3}
