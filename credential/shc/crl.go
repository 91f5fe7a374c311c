package shc

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/divoc/divoc/internal/strictjson"
)

// MaxCRLBytes bounds a revocation list ParseCRL reads.
const MaxCRLBytes = 16 << 20

// CRL is an issuer's card revocation list for one key, as published at
// <iss>/.well-known/crl/<kid>.json.
type CRL struct {
	KID    string   `json:"kid"`
	Method string   `json:"method"` // "rid"
	Ctr    int64    `json:"ctr"`    // update counter; the key's crlVersion in the JWKS
	RIDs   []string `json:"rids"`   // "rid" or "rid.timestamp"
}

var crlEntry = regexp.MustCompile(`^[A-Za-z0-9_-]{1,24}(\.[0-9]{1,12})?$`)

// ParseCRL reads a revocation list. It refuses duplicate member names, a
// method other than "rid", a ctr below 1, and entries that are not a rid
// (base64url, at most 24 characters) with an optional ".timestamp".
func ParseCRL(data []byte) (*CRL, error) {
	if len(data) > MaxCRLBytes {
		return nil, fail(CodeTooLarge, "revocation list is %d bytes, more than %d", len(data), MaxCRLBytes)
	}
	if err := strictObject(data); err != nil {
		return nil, failWrap(CodeBadCRL, err, "revocation list is not a strict JSON object")
	}
	var raw struct {
		KID    string          `json:"kid"`
		Method string          `json:"method"`
		Ctr    json.RawMessage `json:"ctr"`
		RIDs   []string        `json:"rids"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, failWrap(CodeBadCRL, err, "revocation list")
	}
	if raw.KID == "" {
		return nil, fail(CodeBadCRL, "revocation list has no kid")
	}
	if raw.Method != "rid" {
		return nil, fail(CodeBadCRL, "revocation method %q is not \"rid\"", raw.Method)
	}
	// The specification's template writes ctr as a string, its examples
	// as a number: take either, as long as it is a positive integer.
	ctrText := strings.Trim(string(raw.Ctr), `"`)
	ctr, err := strconv.ParseInt(ctrText, 10, 64)
	if err != nil || ctr < 1 {
		return nil, fail(CodeBadCRL, "ctr %s is not a positive integer", raw.Ctr)
	}
	for i, e := range raw.RIDs {
		if !crlEntry.MatchString(e) {
			return nil, fail(CodeBadCRL, "rids[%d] %q is not a rid with an optional .timestamp", i, e)
		}
	}
	return &CRL{KID: raw.KID, Method: raw.Method, Ctr: ctr, RIDs: raw.RIDs}, nil
}

// Revokes reports whether the list revokes a card with this rid issued at
// nbf, and the entry that does: "rid" revokes every such card, and
// "rid.timestamp" the ones issued before the timestamp.
func (c *CRL) Revokes(rid string, nbf time.Time) (string, bool) {
	if c == nil || rid == "" {
		return "", false
	}
	for _, e := range c.RIDs {
		id, ts, hasTS := strings.Cut(e, ".")
		if id != rid {
			continue
		}
		if !hasTS {
			return e, true
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			continue
		}
		if nbf.Before(time.Unix(sec, 0)) {
			return e, true
		}
	}
	return "", false
}

// Document renders the list as the JSON an issuer publishes.
func (c *CRL) Document() ([]byte, error) {
	out := *c
	if out.Method == "" {
		out.Method = "rid"
	}
	if out.RIDs == nil {
		out.RIDs = []string{}
	}
	return strictjson.Marshal(out)
}
