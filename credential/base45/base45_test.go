package base45

import (
	"bytes"
	"testing"
)

// The examples of RFC 9285 section 4.
func TestRFC9285Examples(t *testing.T) {
	cases := []struct{ plain, encoded string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
	}
	for _, c := range cases {
		if got := Encode([]byte(c.plain)); got != c.encoded {
			t.Errorf("Encode(%q) = %q, want %q", c.plain, got, c.encoded)
		}
		got, err := Decode(c.encoded)
		if err != nil || string(got) != c.plain {
			t.Errorf("Decode(%q) = %q, %v; want %q", c.encoded, got, err, c.plain)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, s := range []string{
		"GGW",   // 65535+1: RFC 9285 section 4.3's example of an invalid group
		"A",     // one character over
		"ab:",   // lower case is not in the alphabet
		"Z\x00", // control character
		":::",   // 44+44*45+44*2025 = 91124 > 65535
	} {
		if _, err := Decode(s); err == nil {
			t.Errorf("Decode(%q) accepted", s)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("Hello!!"))
	f.Add([]byte{0, 0xff, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decode(Encode(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %x: %x, %v", b, got, err)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add("%69 VD92EX0")
	f.Add("GGW")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Decode(s)
		if err == nil && Encode(b) != s {
			t.Fatalf("Decode(%q) accepted a non-canonical text", s)
		}
	})
}
