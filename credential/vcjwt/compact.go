package vcjwt

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/divoc/divoc/credential/base45"
)

// CompactPrefix starts the compact form of a vc+jwt.
const CompactPrefix = "DV1:"

// Compact encodes a compact JWS for a QR code: the header and payload JSON
// and the signature, length-prefixed, DEFLATE-compressed (zlib) and base45
// encoded behind "DV1:". Every character is in the QR alphanumeric set and
// JSON compresses well, so the code is several versions smaller than one
// holding the JWS text. Expand gives back the exact JWS: base64url without
// padding is canonical, so the signature still verifies. The prefix and the
// base45 + zlib layers are those of the EU DCC's "HC1:".
func Compact(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("compact: not a compact JWS")
	}
	var raw bytes.Buffer
	for _, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return "", fmt.Errorf("compact: %w", err)
		}
		raw.Write(binary.AppendUvarint(nil, uint64(len(b))))
		raw.Write(b)
	}
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	w.Write(raw.Bytes())
	w.Close()
	out := CompactPrefix + base45.Encode(z.Bytes())
	if back, err := Expand(out); err != nil || back != token {
		return "", errors.New("compact: the token does not survive the round trip (non-canonical base64url)")
	}
	return out, nil
}

// Expand turns a compact form back into the compact JWS. Decompression
// stops at MaxTokenBytes (threat 17: a small QR code must not expand into
// gigabytes).
func Expand(s string) (string, error) {
	if !strings.HasPrefix(s, CompactPrefix) {
		return "", fail(CodeMalformed, "compact form must start with %q", CompactPrefix)
	}
	z, err := base45.Decode(s[len(CompactPrefix):])
	if err != nil {
		return "", failWrap(CodeMalformed, err, "compact form is not base45")
	}
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return "", failWrap(CodeMalformed, err, "compact form is not zlib")
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxTokenBytes+1))
	if err != nil {
		return "", failWrap(CodeMalformed, err, "compact form does not decompress")
	}
	if len(raw) > MaxTokenBytes {
		return "", fail(CodeTooLarge, "compact form expands beyond %d bytes", MaxTokenBytes)
	}
	var segs [3]string
	for i := range segs {
		n, k := binary.Uvarint(raw)
		if k <= 0 || n > uint64(len(raw)-k) {
			return "", fail(CodeMalformed, "compact form: segment %d is truncated", i)
		}
		segs[i] = base64.RawURLEncoding.EncodeToString(raw[k : k+int(n)])
		raw = raw[k+int(n):]
	}
	if len(raw) != 0 {
		return "", fail(CodeMalformed, "compact form: %d bytes after the signature", len(raw))
	}
	return segs[0] + "." + segs[1] + "." + segs[2], nil
}
