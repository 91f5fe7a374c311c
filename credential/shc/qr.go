package shc

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/divoc/divoc/internal/strictjson"
)

// QR and file limits.
const (
	// QRPrefix starts the text of every SMART Health Card QR code.
	QRPrefix = "shc:/"
	// MaxSingleQRChars is the longest JWS the specification puts in one QR
	// code (version 22 at error correction level L, numeric mode).
	MaxSingleQRChars = 1195
	// MaxChunks bounds the deprecated multi-chunk form.
	MaxChunks = 10
	// MaxFileBytes bounds a .smart-health-card file ParseFile reads.
	MaxFileBytes = 1 << 20
	// MaxFileCards bounds the JWSs one file may hold.
	MaxFileCards = 100
	// FileMediaType is the media type of a .smart-health-card file.
	FileMediaType = "application/smart-health-card"
)

// numericOffset is subtracted from each JWS character to give two digits:
// '-' (45) is the smallest character of a compact JWS, 'z' (122) the
// largest, so every one becomes 00..77.
const numericOffset = '-'

// QRText renders a JWS as the text of a single numeric QR code:
// "shc:/" followed by two digits per character (the character's code
// minus 45). A JWS longer than MaxSingleQRChars is refused (CodeTooLarge):
// the multi-chunk form is deprecated, so such a card travels as a file.
//
// The specification encodes "shc:/" in byte mode and the digits in
// numeric mode, two QR segments; qr.EncodePNG renders the text in one
// byte-mode segment, which reads back the same but needs a larger symbol.
func QRText(jws string) (string, error) {
	if err := checkJWSChars(jws); err != nil {
		return "", err
	}
	if len(jws) > MaxSingleQRChars {
		return "", fail(CodeTooLarge, "JWS is %d characters; one QR code holds at most %d (the chunked form is deprecated: serve the .smart-health-card file)", len(jws), MaxSingleQRChars)
	}
	var b strings.Builder
	b.Grow(len(QRPrefix) + 2*len(jws))
	b.WriteString(QRPrefix)
	for i := 0; i < len(jws); i++ {
		v := jws[i] - numericOffset
		b.WriteByte('0' + v/10)
		b.WriteByte('0' + v%10)
	}
	return b.String(), nil
}

// checkJWSChars checks that s is a non-empty string of compact JWS
// characters (base64url and '.').
func checkJWSChars(s string) error {
	if s == "" {
		return fail(CodeMalformed, "empty JWS")
	}
	for i := 0; i < len(s); i++ {
		if !isJWSChar(s[i]) {
			return fail(CodeMalformed, "character %q at offset %d cannot appear in a compact JWS", s[i], i)
		}
	}
	return nil
}

func isJWSChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// ParseQR reads the JWS back from the text of one numeric QR code, or
// from the texts of all the chunks of the deprecated multi-chunk form
// ("shc:/C/N/..."), given in any order. A trailing newline is ignored;
// everything else must be exactly as the specification writes it.
func ParseQR(texts ...string) (string, error) {
	if len(texts) == 0 {
		return "", fail(CodeBadQR, "no QR text")
	}
	if len(texts) > MaxChunks {
		return "", fail(CodeBadChunks, "%d QR texts; at most %d chunks are read", len(texts), MaxChunks)
	}
	maxText := len(QRPrefix) + 8 + 2*MaxJWSBytes
	type chunk struct {
		c, n   int
		digits string
	}
	chunks := make([]chunk, len(texts))
	for i, t := range texts {
		if len(t) > maxText {
			return "", fail(CodeTooLarge, "QR text %d is %d characters, more than %d", i+1, len(t), maxText)
		}
		t = strings.TrimRight(t, "\r\n")
		if len(t) < len(QRPrefix) || !strings.EqualFold(t[:len(QRPrefix)], QRPrefix) {
			return "", fail(CodeBadQR, "QR text %d does not start with %q", i+1, QRPrefix)
		}
		rest := t[len(QRPrefix):]
		ch := chunk{c: 1, n: 1, digits: rest}
		if parts := strings.Split(rest, "/"); len(parts) != 1 {
			if len(parts) != 3 {
				return "", fail(CodeBadChunks, "QR text %d: after %q comes either digits or C/N/digits", i+1, QRPrefix)
			}
			var err error
			if ch.c, err = chunkNumber(parts[0]); err != nil {
				return "", failWrap(CodeBadChunks, err, "QR text %d: chunk index", i+1)
			}
			if ch.n, err = chunkNumber(parts[1]); err != nil {
				return "", failWrap(CodeBadChunks, err, "QR text %d: chunk count", i+1)
			}
			if ch.c > ch.n {
				return "", fail(CodeBadChunks, "QR text %d is chunk %d of %d", i+1, ch.c, ch.n)
			}
			ch.digits = parts[2]
		} else if len(texts) > 1 {
			return "", fail(CodeBadChunks, "QR text %d is a whole card, not a chunk, but %d texts were given", i+1, len(texts))
		}
		chunks[i] = ch
	}
	n := chunks[0].n
	if n > MaxChunks {
		return "", fail(CodeBadChunks, "card claims %d chunks; at most %d are read", n, MaxChunks)
	}
	ordered := make([]string, n)
	seen := make([]bool, n)
	for i, ch := range chunks {
		if ch.n != n {
			return "", fail(CodeBadChunks, "QR text %d says %d chunks, QR text 1 says %d", i+1, ch.n, n)
		}
		if seen[ch.c-1] {
			return "", fail(CodeBadChunks, "chunk %d of %d appears twice", ch.c, n)
		}
		seen[ch.c-1] = true
		ordered[ch.c-1] = ch.digits
	}
	for c, ok := range seen {
		if !ok {
			return "", fail(CodeBadChunks, "chunk %d of %d is missing", c+1, n)
		}
	}
	var jws strings.Builder
	for c, digits := range ordered {
		if err := decodeDigits(&jws, digits); err != nil {
			if n > 1 {
				return "", failWrap(CodeBadQR, err, "chunk %d of %d", c+1, n)
			}
			return "", failWrap(CodeBadQR, err, "numeric data")
		}
	}
	if jws.Len() > MaxJWSBytes {
		return "", fail(CodeTooLarge, "JWS is %d characters, more than %d", jws.Len(), MaxJWSBytes)
	}
	return jws.String(), nil
}

// chunkNumber reads a chunk index or count: 1..MaxChunks, decimal, no
// leading zeros.
func chunkNumber(s string) (int, error) {
	if s == "" || s[0] == '0' || len(s) > 2 {
		return 0, fail(CodeBadChunks, "%q is not a chunk number 1..%d", s, MaxChunks)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > MaxChunks {
		return 0, fail(CodeBadChunks, "%q is not a chunk number 1..%d", s, MaxChunks)
	}
	return v, nil
}

// decodeDigits appends the characters spelt by digit pairs.
func decodeDigits(out *strings.Builder, digits string) error {
	if digits == "" {
		return fail(CodeBadQR, "no digits")
	}
	if len(digits)%2 != 0 {
		return fail(CodeBadQR, "odd number of digits (%d)", len(digits))
	}
	for i := 0; i < len(digits); i += 2 {
		d1, d2 := digits[i], digits[i+1]
		if d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9' {
			return fail(CodeBadQR, "non-digit at offset %d", i)
		}
		c := (d1-'0')*10 + (d2 - '0') + numericOffset
		if !isJWSChar(c) {
			return fail(CodeBadQR, "digits %q at offset %d spell %q, which cannot appear in a JWS", digits[i:i+2], i, c)
		}
		out.WriteByte(c)
	}
	return nil
}

// File renders a .smart-health-card file: {"verifiableCredential":[jws...]}.
func File(jwss ...string) ([]byte, error) {
	if len(jwss) == 0 {
		return nil, fail(CodeBadInput, "a file holds at least one card")
	}
	for i, j := range jwss {
		if err := checkJWSChars(j); err != nil {
			return nil, failWrap(CodeBadInput, err, "card %d", i+1)
		}
	}
	return strictjson.Marshal(fileDoc{VerifiableCredential: jwss})
}

type fileDoc struct {
	VerifiableCredential []string `json:"verifiableCredential"`
}

// ParseFile reads the JWSs of a .smart-health-card file. It refuses files
// over MaxFileBytes, duplicate member names, and a verifiableCredential
// that is missing, empty or holds anything but JWS strings. Other members
// are ignored.
func ParseFile(data []byte) ([]string, error) {
	if len(data) > MaxFileBytes {
		return nil, fail(CodeTooLarge, "file is %d bytes, more than %d", len(data), MaxFileBytes)
	}
	if err := strictjson.CheckNoDuplicateKeys(data); err != nil {
		return nil, failWrap(CodeMalformed, err, "file is not strict JSON")
	}
	var doc struct {
		VerifiableCredential *[]json.RawMessage `json:"verifiableCredential"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, failWrap(CodeMalformed, err, "file is not a JSON object")
	}
	if doc.VerifiableCredential == nil || len(*doc.VerifiableCredential) == 0 {
		return nil, fail(CodeMalformed, "file has no verifiableCredential array, or it is empty")
	}
	vcs := *doc.VerifiableCredential
	if len(vcs) > MaxFileCards {
		return nil, fail(CodeTooLarge, "file holds %d cards, more than %d", len(vcs), MaxFileCards)
	}
	out := make([]string, len(vcs))
	for i, raw := range vcs {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fail(CodeMalformed, "verifiableCredential[%d] is not a string", i)
		}
		if err := checkJWSChars(out[i]); err != nil {
			return nil, failWrap(CodeMalformed, err, "verifiableCredential[%d]", i)
		}
	}
	return out, nil
}

// Extract returns the JWSs in any form a health card is presented in: the
// text of a numeric QR code (or the texts of all its chunks, one per line),
// a .smart-health-card file, or a bare compact JWS. Surrounding white
// space is ignored.
func Extract(data []byte) ([]string, error) {
	s := strings.TrimSpace(string(data))
	switch {
	case len(s) >= len(QRPrefix) && strings.EqualFold(s[:len(QRPrefix)], QRPrefix):
		jws, err := ParseQR(strings.Fields(s)...)
		if err != nil {
			return nil, err
		}
		return []string{jws}, nil
	case strings.HasPrefix(s, "{"):
		return ParseFile([]byte(s))
	default:
		if len(s) > MaxJWSBytes {
			return nil, fail(CodeTooLarge, "JWS is %d bytes, more than %d", len(s), MaxJWSBytes)
		}
		if err := checkJWSChars(s); err != nil || strings.Count(s, ".") != 2 {
			return nil, fail(CodeMalformed, "neither a shc:/ QR text, a .smart-health-card file nor a compact JWS")
		}
		return []string{s}, nil
	}
}

// Recognize reports whether data looks like a SMART Health Card in one of
// the forms Extract reads, without verifying it: a "shc:/" QR text, a JSON
// object with a verifiableCredential member, or a compact JWS whose header
// says "zip":"DEF". A node that accepts several formats uses it to pick
// this package.
func Recognize(data []byte) bool {
	s := strings.TrimSpace(string(data))
	if len(s) >= len(QRPrefix) && strings.EqualFold(s[:len(QRPrefix)], QRPrefix) {
		return true
	}
	if strings.HasPrefix(s, "{") {
		var probe struct {
			VC json.RawMessage `json:"verifiableCredential"`
		}
		return len(s) <= MaxFileBytes && json.Unmarshal([]byte(s), &probe) == nil && len(probe.VC) > 0
	}
	head, _, ok := strings.Cut(s, ".")
	if !ok || len(head) > 1024 {
		return false
	}
	h, err := decodeSegment(head)
	if err != nil {
		return false
	}
	var hdr struct {
		Zip string `json:"zip"`
	}
	return json.Unmarshal(h, &hdr) == nil && hdr.Zip == "DEF"
}
