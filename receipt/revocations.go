package receipt

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// EncodingCrockford80 is the revocation snapshot's id encoding: each
// certificate id of 16 Crockford base32 characters (the node's ids: 80
// random bits) as its 10 bytes, sorted ascending and concatenated, so a
// verifier can binary-search the list as it is; ids of another form are
// listed as strings, sorted.
const EncodingCrockford80 = "crockford80-sorted"

// PackedIDSize is the size of one packed id.
const PackedIDSize = 10

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// packID returns the 10 bytes of a 16-character Crockford base32 id, or
// false if the id is not exactly such an id.
func packID(id string) ([]byte, bool) {
	if len(id) != 16 {
		return nil, false
	}
	b, err := crockford.DecodeString(id)
	if err != nil || len(b) != PackedIDSize || crockford.EncodeToString(b) != id {
		return nil, false
	}
	return b, true
}

// IDList is a set of certificate ids in the snapshot encoding.
type IDList struct {
	// Count is the number of ids: len(Packed)/10 + len(Other).
	Count int `json:"count"`
	// Packed is the sorted 10-byte ids, concatenated (base64 in JSON).
	Packed []byte `json:"packed"`
	// Other lists, sorted, the ids that are not 16 Crockford characters.
	Other []string `json:"other,omitempty"`
}

// NewIDList encodes a set of ids.
func NewIDList(ids []string) IDList {
	var packed [][]byte
	var other []string
	for _, id := range ids {
		if b, ok := packID(id); ok {
			packed = append(packed, b)
		} else {
			other = append(other, id)
		}
	}
	sort.Slice(packed, func(i, j int) bool { return bytes.Compare(packed[i], packed[j]) < 0 })
	sort.Strings(other)
	l := IDList{Count: len(ids), Packed: make([]byte, 0, PackedIDSize*len(packed)), Other: other}
	for _, b := range packed {
		l.Packed = append(l.Packed, b...)
	}
	return l
}

// check verifies the list is well formed: sorted, no duplicates, count.
func (l *IDList) check(name string) error {
	if len(l.Packed)%PackedIDSize != 0 {
		return fail(CodeMalformed, "%s: packed ids are %d bytes, not a multiple of %d", name, len(l.Packed), PackedIDSize)
	}
	n := len(l.Packed) / PackedIDSize
	if l.Count != n+len(l.Other) {
		return fail(CodeMalformed, "%s: count %d, but %d packed and %d other ids", name, l.Count, n, len(l.Other))
	}
	for i := 1; i < n; i++ {
		if bytes.Compare(l.Packed[(i-1)*PackedIDSize:i*PackedIDSize], l.Packed[i*PackedIDSize:(i+1)*PackedIDSize]) >= 0 {
			return fail(CodeMalformed, "%s: packed ids are not sorted and unique at %d", name, i)
		}
	}
	for i, id := range l.Other {
		if _, ok := packID(id); ok {
			return fail(CodeMalformed, "%s: %s belongs in the packed ids", name, id)
		}
		if i > 0 && l.Other[i-1] >= id {
			return fail(CodeMalformed, "%s: other ids are not sorted and unique at %d", name, i)
		}
	}
	return nil
}

// Contains reports whether id is in the list (a binary search).
func (l *IDList) Contains(id string) bool {
	if b, ok := packID(id); ok {
		n := len(l.Packed) / PackedIDSize
		i := sort.Search(n, func(i int) bool { return bytes.Compare(l.Packed[i*PackedIDSize:(i+1)*PackedIDSize], b) >= 0 })
		return i < n && bytes.Equal(l.Packed[i*PackedIDSize:(i+1)*PackedIDSize], b)
	}
	i := sort.SearchStrings(l.Other, id)
	return i < len(l.Other) && l.Other[i] == id
}

// IDs decodes the list.
func (l *IDList) IDs() []string {
	out := make([]string, 0, l.Count)
	for i := 0; i+PackedIDSize <= len(l.Packed); i += PackedIDSize {
		out = append(out, crockford.EncodeToString(l.Packed[i:i+PackedIDSize]))
	}
	return append(out, l.Other...)
}

// RevocationSnapshot lists every certificate revoked or superseded at
// Height, for verifiers that sync once a day. Totals is the ledger's
// running counts (meta/totals) with its ICS23 proof: the lists must hold
// exactly as many ids as the ledger has accepted revocations and
// supersessions.
type RevocationSnapshot struct {
	Type        string      `json:"type"`
	ChainID     string      `json:"chain_id"`
	Height      int64       `json:"height"`
	Encoding    string      `json:"encoding"`
	Revoked     IDList      `json:"revoked"`
	Superseded  IDList      `json:"superseded"`
	Totals      Entry       `json:"totals"`
	Attestation Attestation `json:"attestation"`
}

// ParseRevocationSnapshot decodes a revocation snapshot.
func ParseRevocationSnapshot(data []byte) (*RevocationSnapshot, error) {
	var s RevocationSnapshot
	if err := strictDecode(data, &s); err != nil {
		return nil, fail(CodeMalformed, "not a revocation snapshot: %v", err)
	}
	if s.Type != TypeRevocationSnapshot {
		return nil, fail(CodeMalformed, "type %q is not %s", s.Type, TypeRevocationSnapshot)
	}
	return &s, nil
}

// RevocationList is a verified revocation snapshot.
type RevocationList struct {
	ChainID    string
	Height     int64
	Time       time.Time
	Revoked    IDList
	Superseded IDList
}

// Status returns revoked or superseded if the list holds id, else active
// (as of Height: a certificate anchored later is not covered).
func (l *RevocationList) Status(id string) string {
	switch {
	case l.Revoked.Contains(id):
		return StatusRevoked
	case l.Superseded.Contains(id):
		return StatusSuperseded
	}
	return StatusActive
}

// VerifyRevocationSnapshot checks a snapshot against the trusted validators
// and the policy: the header, the proof of the ledger's totals, and that
// the lists are well formed and hold exactly as many ids as the ledger
// counts. That each listed id is revoked is the serving node's statement
// (every honest node serves the same bytes for a height); a receipt proves
// any single id.
func VerifyRevocationSnapshot(s *RevocationSnapshot, trust Trust, policy Policy) (res *RevocationList, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fail(CodeMalformed, "revocation snapshot: %v", p)
		}
	}()
	if s == nil || s.Type != TypeRevocationSnapshot {
		return nil, fail(CodeMalformed, "not a %s", TypeRevocationSnapshot)
	}
	if s.Encoding != EncodingCrockford80 {
		return nil, fail(CodeMalformed, "unknown encoding %q", s.Encoding)
	}
	c, err := s.Attestation.verify(&trust, policy.TrustLevel)
	if err != nil {
		return nil, err
	}
	if s.Height != c.StateHeight {
		return nil, fail(CodeHeightMismatch, "the snapshot is said to be of height %d, the header attests height %d", s.Height, c.StateHeight)
	}
	v, err := s.Totals.verify(c.AppHash, TotalsKey, CodeEntryProof)
	if err != nil {
		return nil, err
	}
	var totals struct {
		Revocations   int `json:"revocations"`
		Supersessions int `json:"supersessions"`
	}
	if v != nil {
		if err := json.Unmarshal(v, &totals); err != nil {
			return nil, fail(CodeMalformed, "totals: %v", err)
		}
	}
	if err := s.Revoked.check("revoked"); err != nil {
		return nil, err
	}
	if err := s.Superseded.check("superseded"); err != nil {
		return nil, err
	}
	if s.Revoked.Count != totals.Revocations || s.Superseded.Count != totals.Supersessions {
		return nil, fail(CodeEntryMismatch, "the snapshot lists %d revoked and %d superseded, the ledger counts %d and %d at height %d",
			s.Revoked.Count, s.Superseded.Count, totals.Revocations, totals.Supersessions, c.StateHeight)
	}
	if err := policy.timely(c); err != nil {
		return nil, err
	}
	return &RevocationList{ChainID: c.ChainID, Height: c.StateHeight, Time: c.Time, Revoked: s.Revoked, Superseded: s.Superseded}, nil
}

// Size is the snapshot's JSON size in bytes.
func (s *RevocationSnapshot) Size() int {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprint("revocation snapshot: ", err))
	}
	return len(b)
}
