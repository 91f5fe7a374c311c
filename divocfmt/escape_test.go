package divocfmt

import (
	"strings"
	"testing"
)

func TestEscapeCSVCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Bhaya Mitra", "Bhaya Mitra"},
		{"=1+1", "'=1+1"},
		{`=HYPERLINK("http://evil.example","x")`, `'=HYPERLINK("http://evil.example","x")`},
		{"+1+2", "'+1+2"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=cmd", "'\t=cmd"},
		{"\r=cmd", "'\r=cmd"},
		{"-", "'-"},
		{"+", "'+"},
		{"+919880414889", "+919880414889"}, // a number, not a formula
		{"-5", "-5"},
		{"-12.5", "-12.5"},
		{"+1.", "'+1."},
		{"'=1+1", "''=1+1"}, // already escaped by hand: one more, so that it reads back as typed
		{"'Neil", "'Neil"},
		{"a=b", "a=b"},
		{" =1", " =1"},
	}
	for _, tt := range tests {
		if got := EscapeCSVCell(tt.in); got != tt.want {
			t.Errorf("EscapeCSVCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := UnescapeCSVCell(tt.want); got != tt.in {
			t.Errorf("UnescapeCSVCell(%q) = %q, want %q", tt.want, got, tt.in)
		}
	}
}

func FuzzEscapeCSVCell(f *testing.F) {
	for _, s := range []string{"", "=1", "'=1", "''=1", "+91", "-", "'", "@x", "\tx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := EscapeCSVCell(s)
		if got := UnescapeCSVCell(e); got != s {
			t.Fatalf("UnescapeCSVCell(EscapeCSVCell(%q)) = %q", s, got)
		}
		if e != "" && strings.ContainsRune("=@\t\r", rune(e[0])) {
			t.Fatalf("EscapeCSVCell(%q) = %q still starts a formula", s, e)
		}
		if e != "" && (e[0] == '+' || e[0] == '-') && !isPlainNumber(e) {
			t.Fatalf("EscapeCSVCell(%q) = %q still starts a formula", s, e)
		}
	})
}
