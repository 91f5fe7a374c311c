package app

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/divoc/divoc/internal/strictjson"
)

// Tx is the wire form of every transaction: a kind and one or more signed
// parts. Each part is a JWS in flattened JSON serialization (RFC 7515
// §7.2.2) whose payload is the canonical JSON of a statement, so any JOSE
// library can check a signature found on the ledger.
//
// The replay guard is in the signed bytes: every protected header names the
// chain, a nonce that the ledger remembers per key, and the time of signing.
type Tx struct {
	Kind  string `json:"kind"`
	Parts []Part `json:"parts"`
}

// Part is one signed statement.
type Part struct {
	Protected string `json:"protected"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// Header is the JWS protected header of a part.
type Header struct {
	Alg   string `json:"alg"`
	Chain string `json:"chain"`
	IAT   int64  `json:"iat"`
	KID   string `json:"kid"`
	Nonce string `json:"nonce"`
	Typ   string `json:"typ"`
}

// Algorithm is the only signature algorithm accepted on the ledger.
const Algorithm = "EdDSA"

var (
	b64     = base64.RawURLEncoding
	nonceRE = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)
	kidRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)
)

// SigningInput is the JWS signing input of a part.
func (p Part) SigningInput() []byte {
	return []byte(p.Protected + "." + p.Payload)
}

// DecodeTx parses the wire form. It checks shape only: sizes, base64,
// headers, canonical payloads are checked by the kind's decoder.
func DecodeTx(raw []byte, maxBytes int) (*Tx, *Error) {
	if maxBytes > 0 && len(raw) > maxBytes {
		return nil, reject(CodeTooLarge, fmt.Sprintf("transaction is %d bytes, the limit is %d", len(raw), maxBytes))
	}
	var tx Tx
	if err := strictjson.UnmarshalCanonical(raw, &tx); err != nil {
		return nil, reject(CodeMalformed, "transaction is not canonical JSON of {kind, parts}: "+err.Error())
	}
	if len(tx.Parts) == 0 || len(tx.Parts) > 4 {
		return nil, reject(CodeMalformed, "a transaction has 1 to 4 signed parts")
	}
	return &tx, nil
}

// Encode returns the canonical wire form.
func (tx *Tx) Encode() []byte {
	b, err := strictjson.Marshal(tx)
	if err != nil {
		panic(err) // only strings: cannot fail
	}
	return b
}

// Hash is the SHA-256 of the wire form, as CometBFT computes it.
func TxHash(raw []byte) string {
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:])
}

// signedPart is a part whose header and payload were decoded and whose
// signature has the right shape. The signature itself is checked against the
// registered key in verify, because the key is state.
type signedPart struct {
	Part
	Header    Header
	payload   []byte
	signature []byte
}

// decodePart decodes a part's header and payload into stmt (canonical JSON
// required) and checks the header's shape and type.
func decodePart(p Part, wantTyp string, stmt any) (*signedPart, *Error) {
	sp, e := decodePartRaw(p, wantTyp)
	if e != nil {
		return nil, e
	}
	if err := strictjson.UnmarshalCanonical(sp.payload, stmt); err != nil {
		return nil, reject(CodeNotCanonical, "payload of "+wantTyp+": "+err.Error())
	}
	return sp, nil
}

// decodePartRaw checks a part's header and decodes its payload bytes,
// leaving the statement to the caller.
func decodePartRaw(p Part, wantTyp string) (*signedPart, *Error) {
	hb, err := b64.DecodeString(p.Protected)
	if err != nil {
		return nil, reject(CodeMalformed, "protected header is not base64url")
	}
	if err := strictjson.CheckNoDuplicateKeys(hb); err != nil {
		return nil, reject(CodeMalformed, "protected header: "+err.Error())
	}
	var h Header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, reject(CodeMalformed, "protected header: "+err.Error())
	}
	var extra map[string]json.RawMessage
	_ = json.Unmarshal(hb, &extra)
	if _, crit := extra["crit"]; crit {
		return nil, reject(CodeMalformed, "protected header: crit parameters are not supported")
	}
	switch {
	case h.Alg != Algorithm:
		return nil, reject(CodeBadSignature, fmt.Sprintf("alg %q is not allowed; the ledger accepts only %s", h.Alg, Algorithm))
	case !kidRE.MatchString(h.KID):
		return nil, reject(CodeMalformed, "protected header: kid must be a JWK thumbprint")
	case !nonceRE.MatchString(h.Nonce):
		return nil, reject(CodeMalformed, "protected header: nonce must be 16-64 base64url characters")
	case h.Chain == "":
		return nil, reject(CodeMalformed, "protected header: chain is required")
	case h.Typ != wantTyp:
		return nil, reject(CodeMalformed, fmt.Sprintf("protected header: typ is %q, want %q", h.Typ, wantTyp))
	}
	payload, err := b64.DecodeString(p.Payload)
	if err != nil {
		return nil, reject(CodeMalformed, "payload is not base64url")
	}
	sig, err := b64.DecodeString(p.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, reject(CodeBadSignature, "signature is not a base64url Ed25519 signature")
	}
	return &signedPart{Part: p, Header: h, payload: payload, signature: sig}, nil
}

// SignPart builds a part: the canonical statement signed under a header
// naming the chain, the key, a nonce and the signing time.
func SignPart(typ, chain, kid, nonce string, iat int64, stmt any, sign func([]byte) ([]byte, error)) (Part, error) {
	payload, err := strictjson.Marshal(stmt)
	if err != nil {
		return Part{}, err
	}
	return SignPayload(Header{Alg: Algorithm, Chain: chain, IAT: iat, KID: kid, Nonce: nonce, Typ: typ}, payload, sign)
}

// SignPayload signs canonical payload bytes under the given header.
func SignPayload(h Header, payload []byte, sign func([]byte) ([]byte, error)) (Part, error) {
	hb, err := strictjson.Marshal(h)
	if err != nil {
		return Part{}, err
	}
	p := Part{Protected: b64.EncodeToString(hb), Payload: b64.EncodeToString(payload)}
	sig, err := sign(p.SigningInput())
	if err != nil {
		return Part{}, err
	}
	p.Signature = b64.EncodeToString(sig)
	return p, nil
}

// DetachedJWS is the compact serialization of a part with its payload left
// out (RFC 7515 Appendix F): "protected..signature". Facilities send it in
// the Divoc-Signature header; the payload is rebuilt from the request.
func (p Part) DetachedJWS() string { return p.Protected + ".." + p.Signature }

// PartFromDetached rebuilds a part from a detached JWS and its payload.
func PartFromDetached(jws string, payload []byte) (Part, error) {
	prot, sig, ok := strings.Cut(jws, "..")
	if !ok || prot == "" || sig == "" || strings.Contains(sig, ".") {
		return Part{}, fmt.Errorf("not a detached compact JWS (protected..signature)")
	}
	return Part{Protected: prot, Payload: b64.EncodeToString(payload), Signature: sig}, nil
}

// ParseHeader decodes the protected header of a compact or detached JWS.
func ParseHeader(protected string) (Header, error) {
	var h Header
	hb, err := b64.DecodeString(protected)
	if err != nil {
		return h, fmt.Errorf("protected header is not base64url")
	}
	if err := strictjson.CheckNoDuplicateKeys(hb); err != nil {
		return h, err
	}
	return h, json.Unmarshal(hb, &h)
}

// payloadDigest is the hex SHA-256 of a part's payload bytes; the issuer's
// anchor statement names the facility's statement by it.
func payloadDigest(p []byte) string {
	h := sha256.Sum256(p)
	return hex.EncodeToString(h[:])
}
