// Package base45 is RFC 9285: bytes as text in the 45 characters of a QR
// code's alphanumeric mode, so that binary data (EU DCC, compact
// credentials) fits a smaller QR code than base64 would.
package base45

import (
	"fmt"
	"strings"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var values = func() [256]int8 {
	var v [256]int8
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		v[alphabet[i]] = int8(i)
	}
	return v
}()

// Encode returns the base45 text of b.
func Encode(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b)/2*3 + 2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])*256 + int(b[i+1])
		sb.WriteByte(alphabet[n%45])
		sb.WriteByte(alphabet[(n/45)%45])
		sb.WriteByte(alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		sb.WriteByte(alphabet[n%45])
		sb.WriteByte(alphabet[n/45])
	}
	return sb.String()
}

// Decode parses base45 text, refusing characters outside the alphabet, a
// dangling single character, and groups whose value does not fit.
func Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("base45: length %d leaves one character over", len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		end := min(i+3, len(s))
		n := 0
		for j := end - 1; j >= i; j-- {
			v := values[s[j]]
			if v < 0 {
				return nil, fmt.Errorf("base45: character %q at %d is not in the alphabet", s[j], j)
			}
			n = n*45 + int(v)
		}
		if end-i == 3 {
			if n > 0xFFFF {
				return nil, fmt.Errorf("base45: group at %d is %d, more than two bytes", i, n)
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xFF {
				return nil, fmt.Errorf("base45: final pair at %d is %d, more than one byte", i, n)
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
