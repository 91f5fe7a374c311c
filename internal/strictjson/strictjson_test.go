package strictjson

import (
	"errors"
	"testing"
)

func TestCheckNoDuplicateKeys(t *testing.T) {
	cases := []struct {
		in      string
		wantDup string
		wantErr bool
	}{
		{in: `{"a":1,"b":{"a":2}}`},
		{in: `[{"a":1},{"a":2}]`},
		{in: `{"a":1,"a":2}`, wantDup: "a", wantErr: true},
		{in: `{"x":[{"k":1,"k":1}]}`, wantDup: "k", wantErr: true},
		{in: `{"a":`, wantErr: true},
		{in: `{"a":1} {}`, wantErr: true},
		{in: `"plain"`},
	}
	for _, c := range cases {
		err := CheckNoDuplicateKeys([]byte(c.in))
		if (err != nil) != c.wantErr {
			t.Errorf("%s: err = %v, want error %v", c.in, err, c.wantErr)
			continue
		}
		var dup *ErrDuplicateKey
		if c.wantDup != "" && (!errors.As(err, &dup) || dup.Key != c.wantDup) {
			t.Errorf("%s: err = %v, want duplicate key %q", c.in, err, c.wantDup)
		}
	}
}

type sample struct {
	A string `json:"a"`
	B int    `json:"b"`
}

func TestUnmarshalCanonical(t *testing.T) {
	var s sample
	if err := UnmarshalCanonical([]byte(`{"a":"<x>","b":2}`), &s); err != nil {
		t.Fatalf("canonical input refused: %v", err)
	}
	for _, in := range []string{
		`{"b":2,"a":"x"}`,          // reordered
		`{"a":"x", "b":2}`,         // whitespace
		`{"a":"x","b":2,"c":1}`,    // unknown field
		`{"a":"x","a":"y","b":2}`,  // duplicate key
		`{"a":"\u0078","b":2}`,     // needless escape
		"{\"a\":\"\xff\",\"b\":2}", // invalid UTF-8
	} {
		if err := UnmarshalCanonical([]byte(in), &s); err == nil {
			t.Errorf("%s: accepted, want refusal", in)
		}
	}
}

func FuzzUnmarshalCanonical(f *testing.F) {
	f.Add([]byte(`{"a":"x","b":1}`))
	f.Add([]byte(`{"a":"x","a":"y"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s sample
		if err := UnmarshalCanonical(data, &s); err == nil {
			again, _ := Marshal(s)
			if string(again) != string(data) {
				t.Fatalf("accepted non-canonical input %q", data)
			}
		}
		_ = CheckNoDuplicateKeys(data)
	})
}
