package app

import (
	"crypto/ed25519"
	"fmt"
	"strings"
)

// Registry changes after genesis are signed by an authority holding the
// governance role. (M-of-N approval of policy changes is a later kind; these
// kinds take effect on one governance signature.) Each register kind creates
// or replaces one entry and can add keys and retire keys of its owner.
// A retired key keeps its record with valid_until set to the height of
// retirement, so signatures it made before stay checkable.

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
