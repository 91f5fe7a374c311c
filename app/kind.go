package app

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// Each transaction kind lives in its own file (record.go, revoke.go,
// supersede.go, register_*.go) and provides a decoder: it checks the kind's
// parts are canonical statements of the right type and returns a body that
// names who must have signed and applies the statement to state. Signatures,
// chain, freshness and nonces are checked here, the same way for every kind.

// Kind names, versioned: a change of a statement's shape is a new version.
const (
	KindRecord             = "vaccination.record/v1"
	KindRevoke             = "certificate.revoke/v1"
	KindSupersede          = "certificate.supersede/v1"
	KindRegisterAuthority  = "authority.register/v1"
	KindRegisterFacility   = "facility.register/v1"
	KindRegisterVaccinator = "vaccinator.register/v1"
)

type body interface {
	// parts returns the decoded signed parts, in order.
	parts() []*signedPart
	// authorize checks each part's key (already verified and valid at this
	// height) belongs to the owner and role that may sign it.
	authorize(c *execCtx, keys []*Key) *Error
	// apply changes state; rejections of single items are in the result.
	apply(c *execCtx, keys []*Key) *TxResult
}

func decodeBody(tx *Tx) (body, *Error) {
	switch tx.Kind {
	case KindRecord:
		return decodeRecord(tx)
	case KindRevoke:
		return decodeRevoke(tx)
	case KindSupersede:
		return decodeSupersede(tx)
	case KindAEFI:
		return decodeAEFI(tx)
	case KindFeedback:
		return decodeFeedback(tx)
	case KindPropose:
		return decodePropose(tx)
	case KindApprove:
		return decodeApprove(tx)
	}
	if ck, ok := lookupChange(tx.Kind); ok {
		return decodeGoverned(tx, ck)
	}
	return nil, reject(CodeUnknownKind, fmt.Sprintf("unknown transaction kind %q", tx.Kind))
}

// TxResult is the outcome of one transaction: accepted (Code ok, with the
// result of each item) or rejected as a whole.
type TxResult struct {
	Batch *BatchInfo   `json:"batch,omitempty"`
	Code  Code         `json:"code"`
	Items []ItemResult `json:"items,omitempty"`
	Kind  string       `json:"kind,omitempty"`
	// Proposal is the id of the proposal a governance transaction made or
	// approved.
	Proposal string `json:"proposal,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// BatchInfo names the batch commitment a transaction wrote.
type BatchInfo struct {
	Height int64  `json:"height"`
	Key    string `json:"key"`
	Root   string `json:"root"`
	Tx     int    `json:"tx"`
}

// ItemResult is the result of one event or item of a batch.
type ItemResult struct {
	Certificate string `json:"certificate,omitempty"`
	Code        Code   `json:"code"`
	Reason      string `json:"reason,omitempty"`
}

func rejected(e *Error) *TxResult { return &TxResult{Code: e.Code, Reason: e.Reason} }

// verifyParts checks every part's chain, freshness, key, signature and
// nonce, and returns the keys that signed.
func verifyParts(c *execCtx, b body) ([]*Key, *Error) {
	parts := b.parts()
	keys := make([]*Key, len(parts))
	for i, p := range parts {
		h := p.Header
		if h.Chain != c.chain {
			return nil, reject(CodeWrongChain, fmt.Sprintf("signed for chain %q, this is %q", h.Chain, c.chain))
		}
		signed := time.Unix(h.IAT, 0)
		if c.time.Sub(signed) > time.Duration(c.params.TxValiditySeconds)*time.Second {
			return nil, reject(CodeStale, fmt.Sprintf("signed at %s, more than %ds before block time %s", signed.UTC().Format(time.RFC3339), c.params.TxValiditySeconds, c.time.UTC().Format(time.RFC3339)))
		}
		// Ahead of block time: refused in a block, not in CheckTx. CheckTx
		// compares with the last block's time, which after an idle spell
		// (a node restarted, a network without quorum for a while) is
		// older than the clock: a fresh signature would be refused there,
		// and with every transaction refused no new block would bring the
		// time forward. The block the transaction lands in has a current
		// time (BFT time), and the rule is applied against it.
		if !c.check && signed.Sub(c.time) > time.Duration(c.params.MaxClockSkewSeconds)*time.Second {
			return nil, reject(CodeStale, fmt.Sprintf("signed at %s, more than %ds after block time %s", signed.UTC().Format(time.RFC3339), c.params.MaxClockSkewSeconds, c.time.UTC().Format(time.RFC3339)))
		}
		k, err := c.key(h.KID)
		if err != nil {
			return nil, reject(CodeMalformed, err.Error())
		}
		if k == nil {
			return nil, reject(CodeUnauthorized, fmt.Sprintf("key %s is not registered on the ledger", h.KID))
		}
		if !k.ValidAt(c.height) {
			return nil, reject(CodeUnauthorized, fmt.Sprintf("key %s of %s is valid for heights %d..%s, not at %d", k.KID, k.Owner, k.ValidFrom, until(k.ValidUntil), c.height))
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, reject(CodeUnauthorized, err.Error())
		}
		if !ed25519.Verify(pub, p.SigningInput(), p.signature) {
			return nil, reject(CodeBadSignature, fmt.Sprintf("signature of part %d does not verify with key %s", i, k.KID))
		}
		for j := 0; j < i; j++ {
			if parts[j].Header.KID == h.KID && parts[j].Header.Nonce == h.Nonce {
				return nil, reject(CodeReplay, "two parts share a key and nonce")
			}
		}
		used, err := c.get(nonceKey(h.KID, h.Nonce))
		if err != nil {
			return nil, reject(CodeMalformed, err.Error())
		}
		if used != nil {
			return nil, reject(CodeReplay, fmt.Sprintf("nonce %s of key %s was already used at height %s", h.Nonce, h.KID, used))
		}
		keys[i] = k
	}
	if e := b.authorize(c, keys); e != nil {
		return nil, e
	}
	return keys, nil
}

func nonceKey(kid, nonce string) string { return kNonce + kid + "/" + nonce }

// NonceKey is the IAVL key recording that a key used a nonce.
func NonceKey(kid, nonce string) string { return nonceKey(kid, nonce) }

func until(h int64) string {
	if h == 0 {
		return "∞"
	}
	return fmt.Sprint(h)
}

// ownerIs checks that k is a key of owner for role.
func ownerIs(k *Key, owner, role string) *Error {
	if k.Owner != owner || k.Role != role {
		return reject(CodeUnauthorized, fmt.Sprintf("key %s belongs to %s as %s; this part must be signed by %s as %s", k.KID, k.Owner, k.Role, owner, role))
	}
	return nil
}

// authorityWithRole checks that k is the key of an active authority that
// holds role, and returns the authority.
func authorityWithRole(c *execCtx, k *Key, role string) (*Authority, *Error) {
	if k.Role != role || len(k.Owner) < len("authority/") || k.Owner[:len("authority/")] != "authority/" {
		return nil, reject(CodeUnauthorized, fmt.Sprintf("key %s belongs to %s as %s, not to an authority as %s", k.KID, k.Owner, k.Role, role))
	}
	a, err := c.authority(k.Owner[len("authority/"):])
	if err != nil {
		return nil, reject(CodeMalformed, err.Error())
	}
	if a == nil || a.Status != StatusActive {
		return nil, reject(CodeUnauthorized, fmt.Sprintf("authority of key %s is not registered or not active", k.KID))
	}
	for _, r := range a.Roles {
		if r == role {
			return a, nil
		}
	}
	return nil, reject(CodeUnauthorized, fmt.Sprintf("authority %s does not hold the %s role", a.ID, role))
}

// FacilityOwner and AuthorityOwner name key owners.
func FacilityOwner(code string) string { return "facility/" + code }
func AuthorityOwner(id string) string  { return "authority/" + id }
