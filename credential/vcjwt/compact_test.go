package vcjwt

import (
	"bytes"
	"compress/zlib"
	"strings"
	"testing"

	"github.com/divoc/divoc/credential/base45"
	"github.com/divoc/divoc/keys"
)

func TestCompactRoundTripVerifies(t *testing.T) {
	s := seededSigner(t, 0x21)
	token, err := Issue(credentialJSON(t), s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compact(token)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c, CompactPrefix) || len(c) >= len(token) {
		t.Fatalf("compact form is %d characters for a %d-character token", len(c), len(token))
	}
	t.Logf("token %d characters, compact %d characters", len(token), len(c))
	back, err := Expand(c)
	if err != nil || back != token {
		t.Fatalf("Expand: %v", err)
	}
	if _, err := Verify(back, KeysResolver(keys.PublicKeyInfo{Key: s.Public()}), VerifyOptions{}); err != nil {
		t.Fatalf("expanded token does not verify: %v", err)
	}
}

func TestExpandRejects(t *testing.T) {
	bomb := func() string {
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(make([]byte, 10<<20)) // 10 MiB of zeros, a few KiB compressed
		w.Close()
		return CompactPrefix + base45.Encode(z.Bytes())
	}()
	cases := map[string]struct {
		in   string
		code Code
	}{
		"no prefix":          {"HC1:ABC", CodeMalformed},
		"not base45":         {CompactPrefix + "abc", CodeMalformed},
		"not zlib":           {CompactPrefix + base45.Encode([]byte("plain")), CodeMalformed},
		"decompression bomb": {bomb, CodeTooLarge},
		"truncated":          {CompactPrefix + base45.Encode(zlibOf([]byte{200, 1})), CodeMalformed},
	}
	for name, c := range cases {
		if _, err := Expand(c.in); CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
}

func zlibOf(b []byte) []byte {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

func FuzzExpand(f *testing.F) {
	f.Add(CompactPrefix + base45.Encode(zlibOf([]byte{1, 'a', 1, 'b', 1, 'c'})))
	f.Add("DV1:")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Expand(s)
		if err == nil && len(tok) > 4*MaxTokenBytes {
			t.Fatalf("expanded to %d bytes", len(tok))
		}
	})
}
