package dcc

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/divoc/divoc/credential/base45"
)

// Prefix is the context identifier of an EU DCC: HC1 (health certificate,
// version 1).
const Prefix = "HC1:"

// Limits on what Verify decodes.
const (
	// MaxHC1Bytes bounds the text Verify reads. A version 40 QR code holds
	// 4,296 alphanumeric characters; twice that leaves room for a pasted
	// string and still refuses a flood before any decoding.
	MaxHC1Bytes = 8 << 10
	// MaxDecompressedBytes bounds the zlib output: a DCC is about 0.3 to 2
	// KB, so anything past 64 KiB is a decompression bomb.
	MaxDecompressedBytes = 64 << 10
)

// CBOR tags around a COSE_Sign1.
const (
	tagCOSESign1 = 18
	tagCWT       = 61
)

// CWT claim keys and the hcert keys of the EU DCC.
const (
	claimIss   = 1
	claimExp   = 4
	claimIat   = 6
	claimHCert = -260
	hcertV1    = 1
)

// COSE header labels and algorithms.
const (
	headerAlg  = 1
	headerCrit = 2
	headerKID  = 4

	algES256 = -7
	algPS256 = -37
)

// decMode decodes untrusted CBOR: duplicate map keys are refused (two
// decoders could read different values), nesting and sizes are bounded.
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  16,
		MaxArrayElements: 1024,
		MaxMapPairs:      1024,
		IndefLength:      cbor.IndefLengthAllowed, // several issuers write indefinite-length maps
		TagsMd:           cbor.TagsAllowed,
		IntDec:           cbor.IntDecConvertNone,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// encMode writes CBOR in the core deterministic encoding (RFC 8949 4.2).
var encMode = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// unprefix removes "HC1:". Another context identifier (HC2:, HL0:), none,
// or a second "HC1:" after the first is refused.
func unprefix(s string) (string, error) {
	if len(s) > MaxHC1Bytes {
		return "", fail(CodeTooLarge, "input is %d bytes, more than %d", len(s), MaxHC1Bytes)
	}
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		head := s
		if i := strings.IndexByte(head, ':'); i >= 0 && i < 8 {
			head = head[:i+1]
			return "", fail(CodeBadPrefix, "context identifier %q is not %q", head, Prefix)
		}
		return "", fail(CodeBadPrefix, "no %q context identifier", Prefix)
	}
	if strings.HasPrefix(rest, Prefix) {
		return "", fail(CodeDoubleEncoded, "%q twice: the text was prefixed (or encoded) twice", Prefix)
	}
	if rest == "" {
		return "", fail(CodeBadBase45, "nothing after %q", Prefix)
	}
	return rest, nil
}

func decodeBase45(s string) ([]byte, error) {
	b, err := base45.Decode(s)
	if err != nil {
		return nil, failWrap(CodeBadBase45, err, "not base45")
	}
	return b, nil
}

// inflate decompresses a zlib stream, stopping at MaxDecompressedBytes,
// and refuses a stream with bytes after its end.
func inflate(b []byte) ([]byte, error) {
	br := bytes.NewReader(b)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, failWrap(CodeBadCompression, err, "not a zlib stream")
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxDecompressedBytes+1))
	if err != nil {
		return nil, failWrap(CodeBadCompression, err, "zlib stream is broken")
	}
	if len(out) > MaxDecompressedBytes {
		return nil, fail(CodeDecompressionLimit, "zlib data expands to more than %d bytes (from %d)", MaxDecompressedBytes, len(b))
	}
	// Reading to EOF checked the Adler-32 sum. What is left was not part
	// of the stream.
	if n := br.Len(); n > 0 {
		return nil, fail(CodeBadCompression, "%d bytes after the end of the zlib stream", n)
	}
	return out, nil
}

// coseSign1 is a decoded COSE_Sign1 message.
type coseSign1 struct {
	Tags        []uint64 // the tags around it, outermost first: none, [18] or [61 18]
	Protected   []byte   // the protected header bucket as sent (a serialized map, or empty)
	Payload     []byte
	Signature   []byte
	Alg         int64
	AlgFound    bool
	AlgInUnprot bool // alg came from the unprotected bucket
	KID         []byte
	KIDInUnprot bool // kid came from the unprotected bucket
}

// decodeCOSE reads a COSE_Sign1: tagged 18, untagged (seen in the wild),
// or tagged 61 (CWT) around tag 18. Nothing may follow it.
func decodeCOSE(data []byte) (*coseSign1, error) {
	msg := &coseSign1{}
	raw := cbor.RawMessage(data)
	if err := decMode.Wellformed(raw); err != nil {
		return nil, failWrap(CodeBadCOSE, err, "not one well-formed CBOR item")
	}
	for len(raw) > 0 && raw[0]>>5 == 6 {
		var tag cbor.RawTag
		if err := decMode.Unmarshal(raw, &tag); err != nil {
			return nil, failWrap(CodeBadCOSE, err, "bad tag")
		}
		msg.Tags = append(msg.Tags, tag.Number)
		raw = tag.Content
		if len(msg.Tags) > 2 {
			break
		}
	}
	switch {
	case len(msg.Tags) == 0:
	case len(msg.Tags) == 1 && msg.Tags[0] == tagCOSESign1:
	case len(msg.Tags) == 2 && msg.Tags[0] == tagCWT && msg.Tags[1] == tagCOSESign1:
	default:
		return nil, fail(CodeBadCOSE, "tags %v: want COSE_Sign1 (18), untagged, or CWT (61) around 18", msg.Tags)
	}
	if len(raw) == 0 || raw[0]>>5 != 4 {
		return nil, fail(CodeBadCOSE, "COSE_Sign1 is not an array")
	}
	var parts []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &parts); err != nil {
		return nil, failWrap(CodeBadCOSE, err, "COSE_Sign1 array")
	}
	if len(parts) != 4 {
		return nil, fail(CodeBadCOSE, "COSE_Sign1 has %d elements, want 4", len(parts))
	}
	var err error
	if msg.Protected, err = bstr(parts[0]); err != nil {
		return nil, failWrap(CodeBadCOSE, err, "protected header")
	}
	protected := map[any]cbor.RawMessage{}
	if len(msg.Protected) > 0 {
		if msg.Protected[0]>>5 != 5 {
			return nil, fail(CodeBadCOSE, "protected header is not a map")
		}
		if err := decMode.Unmarshal(msg.Protected, &protected); err != nil {
			return nil, failWrap(CodeBadCOSE, err, "protected header")
		}
	}
	if len(parts[1]) == 0 || parts[1][0]>>5 != 5 {
		return nil, fail(CodeBadCOSE, "unprotected header is not a map")
	}
	unprotected := map[any]cbor.RawMessage{}
	if err := decMode.Unmarshal(parts[1], &unprotected); err != nil {
		return nil, failWrap(CodeBadCOSE, err, "unprotected header")
	}
	if msg.Payload, err = bstr(parts[2]); err != nil {
		return nil, failWrap(CodeBadCOSE, err, "payload (a detached payload is not a DCC)")
	}
	if msg.Signature, err = bstr(parts[3]); err != nil {
		return nil, failWrap(CodeBadCOSE, err, "signature")
	}
	if _, ok := header(protected, headerCrit); ok {
		return nil, fail(CodeBadCOSE, "protected header lists critical parameters (crit), none of which a DCC defines")
	}
	// A parameter in the protected bucket wins; the unprotected one is a
	// fallback the DCC test data requires (common/CO19, CO20).
	for _, h := range []struct {
		label   int64
		decode  func(cbor.RawMessage) error
		unprot  *bool
		present *bool
	}{
		{headerAlg, func(r cbor.RawMessage) error { return decMode.Unmarshal(r, &msg.Alg) }, &msg.AlgInUnprot, &msg.AlgFound},
		{headerKID, func(r cbor.RawMessage) error {
			b, err := bstr(r)
			msg.KID = b
			return err
		}, &msg.KIDInUnprot, nil},
	} {
		r, ok := header(protected, h.label)
		if !ok {
			if r, ok = header(unprotected, h.label); ok {
				*h.unprot = true
			}
		}
		if !ok {
			continue
		}
		if err := h.decode(r); err != nil {
			return nil, failWrap(CodeBadCOSE, err, "header parameter %d", h.label)
		}
		if h.present != nil {
			*h.present = true
		}
	}
	return msg, nil
}

// header finds an integer header label in a decoded bucket.
func header(m map[any]cbor.RawMessage, label int64) (cbor.RawMessage, bool) {
	for k, v := range m {
		if n, ok := intKey(k); ok && n == label {
			return v, true
		}
	}
	return nil, false
}

// intKey reads a CBOR integer map key as decoded into an interface.
func intKey(k any) (int64, bool) {
	switch n := k.(type) {
	case int64:
		return n, true
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), true
		}
	}
	return 0, false
}

// bstr decodes a CBOR byte string (and only a byte string).
func bstr(raw cbor.RawMessage) ([]byte, error) {
	if len(raw) == 0 || raw[0]>>5 != 2 {
		return nil, errors.New("not a byte string")
	}
	var b []byte
	if err := decMode.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// sigStructure is the Sig_structure a COSE_Sign1 signs (RFC 9052 4.4),
// with the protected bucket exactly as sent and no external data.
func sigStructure(protected, payload []byte) ([]byte, error) {
	if protected == nil {
		protected = []byte{}
	}
	return encMode.Marshal([]any{"Signature1", protected, []byte{}, payload})
}

// cwt is the decoded CWT payload of a DCC.
type cwt struct {
	Issuer    string
	IssuedAt  time.Time
	HasIat    bool
	ExpiresAt time.Time
	HasExp    bool
	HCert     map[string]any // JSON-shaped: strings, json.Number, bool, nil, []any, map[string]any
	HCertJSON []byte
}

// decodeCWT reads the CWT claims: iss (1), exp (4), iat (6) and the hcert
// (-260 → 1). exp and iat are seconds, integer or (as some issuers write
// them) floating point.
func decodeCWT(payload []byte) (*cwt, error) {
	if len(payload) == 0 || payload[0]>>5 != 5 {
		return nil, fail(CodeBadCWT, "CWT payload is not a CBOR map")
	}
	claims := map[any]cbor.RawMessage{}
	if err := decMode.Unmarshal(payload, &claims); err != nil {
		return nil, failWrap(CodeBadCWT, err, "CWT payload")
	}
	c := &cwt{}
	if r, ok := header(claims, claimIss); ok {
		if err := decMode.Unmarshal(r, &c.Issuer); err != nil || r[0]>>5 != 3 {
			return nil, fail(CodeBadCWT, "claim iss (1) is not a text string")
		}
	}
	for _, t := range []struct {
		label int64
		name  string
		dst   *time.Time
		has   *bool
	}{{claimExp, "exp (4)", &c.ExpiresAt, &c.HasExp}, {claimIat, "iat (6)", &c.IssuedAt, &c.HasIat}} {
		r, ok := header(claims, t.label)
		if !ok {
			continue
		}
		at, err := numericDate(r)
		if err != nil {
			return nil, failWrap(CodeBadCWT, err, "claim %s", t.name)
		}
		*t.dst, *t.has = at, true
	}
	r, ok := header(claims, claimHCert)
	if !ok {
		return nil, fail(CodeBadCWT, "no hcert claim (-260)")
	}
	if len(r) == 0 || r[0]>>5 != 5 {
		return nil, fail(CodeBadCWT, "hcert claim (-260) is not a map")
	}
	hc := map[any]cbor.RawMessage{}
	if err := decMode.Unmarshal(r, &hc); err != nil {
		return nil, failWrap(CodeBadCWT, err, "hcert claim (-260)")
	}
	if len(hc) != 1 {
		return nil, fail(CodeBadCWT, "hcert claim (-260) has %d entries, want exactly the EU DCC (1)", len(hc))
	}
	dcc, ok := header(hc, hcertV1)
	if !ok {
		return nil, fail(CodeBadCWT, "hcert claim (-260) has no EU DCC (key 1)")
	}
	var err error
	if c.HCert, c.HCertJSON, err = hcertToJSON(dcc); err != nil {
		return nil, err
	}
	return c, nil
}

// numericDate reads a CWT NumericDate: an integer or a finite float.
func numericDate(r cbor.RawMessage) (time.Time, error) {
	var v any
	if err := decMode.Unmarshal(r, &v); err != nil {
		return time.Time{}, err
	}
	switch n := v.(type) {
	case uint64:
		if n > math.MaxInt64/2 {
			return time.Time{}, fmt.Errorf("%d is out of range", n)
		}
		return time.Unix(int64(n), 0).UTC(), nil
	case int64:
		return time.Unix(n, 0).UTC(), nil
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) || math.Abs(n) > 1e15 {
			return time.Time{}, fmt.Errorf("%v is not a date", n)
		}
		sec, frac := math.Modf(n)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%T is not a NumericDate", v)
}

// hcertToJSON decodes the hcert map and turns it into its JSON form: maps
// with text keys, arrays, text, numbers, booleans and null. Byte strings,
// tags and undefined have no JSON form and are refused.
func hcertToJSON(raw cbor.RawMessage) (map[string]any, []byte, error) {
	if len(raw) == 0 || raw[0]>>5 != 5 {
		return nil, nil, fail(CodeBadCWT, "the EU DCC (-260 → 1) is not a map")
	}
	var v any
	if err := decMode.Unmarshal(raw, &v); err != nil {
		return nil, nil, failWrap(CodeBadCWT, err, "the EU DCC (-260 → 1)")
	}
	j, err := jsonValue(v, "")
	if err != nil {
		return nil, nil, failWrap(CodeBadCWT, err, "the EU DCC has no JSON form")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return nil, nil, failWrap(CodeBadCWT, err, "the EU DCC has no JSON form")
	}
	return j.(map[string]any), bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func jsonValue(v any, path string) (any, error) {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: map key %v is not text", pathOr(path), k)
			}
			jv, err := jsonValue(val, path+"/"+ks)
			if err != nil {
				return nil, err
			}
			m[ks] = jv
		}
		return m, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			jv, err := jsonValue(e, fmt.Sprintf("%s/%d", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = jv
		}
		return out, nil
	case string, bool, nil:
		return x, nil
	case uint64:
		return json.Number(strconv.FormatUint(x, 10)), nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%s: %v has no JSON form", pathOr(path), x)
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case float32:
		return jsonValue(float64(x), path)
	}
	return nil, fmt.Errorf("%s: a %T has no JSON form", pathOr(path), v)
}

func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
