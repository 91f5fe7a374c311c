package divocfmt

import "strings"

// formulaTriggers are the first characters that make a spreadsheet read a
// cell as a formula (OWASP "CSV injection").
const formulaTriggers = "=+-@\t\r"

// EscapeCSVCell makes s safe to open in a spreadsheet: a value that a
// spreadsheet would read as a formula is prefixed with an apostrophe, which
// spreadsheets show as "this is text" and do not display.
//
// Plain numbers such as "+919880414889" or "-5" are left alone: a spreadsheet
// reads them as numbers, not formulas, and a mobile number keeps its "+".
// A value that already starts with apostrophes before a trigger gets one more,
// so that UnescapeCSVCell(EscapeCSVCell(s)) == s for every s.
func EscapeCSVCell(s string) string {
	if needsEscape(s) {
		return "'" + s
	}
	return s
}

// UnescapeCSVCell undoes EscapeCSVCell: it drops one leading apostrophe when
// what follows would need escaping. The parsers apply it to every cell, so a
// file written by this package reads back to the same values, and "'=1+1"
// typed into a spreadsheet reads as the text "=1+1", as the spreadsheet shows it.
func UnescapeCSVCell(s string) string {
	if strings.HasPrefix(s, "'") && needsEscape(s[1:]) {
		return s[1:]
	}
	return s
}

func needsEscape(s string) bool {
	t := strings.TrimLeft(s, "'")
	if t == "" || !strings.ContainsRune(formulaTriggers, rune(t[0])) {
		return false
	}
	return !isPlainNumber(t)
}

// isPlainNumber reports whether s is an optionally signed decimal number:
// [+-]digits[.digits].
func isPlainNumber(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasDot || allDigits(frac))
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
