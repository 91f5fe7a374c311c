// Package divocfmt reads and writes the file formats of the DIVOC platform:
// the bulk certificate upload (CSV), the certify request (JSON), and the
// facility and vaccinator registries (CSV).
//
// Parsers never stop at the first bad row. They return every good row, and
// one RowError per problem in a bad row (at most one per field), so that a
// facility can fix its file in one go. Only problems with the file as a whole
// (a bad header, malformed JSON, duplicate JSON keys, too many rows) are
// fatal; those come back as a *FileError.
//
// Values are data, never code: a cell such as "=HYPERLINK(...)" is kept as
// text. Everything this package writes as CSV goes through EscapeCSVCell, so
// such a value cannot turn into a formula in a spreadsheet.
package divocfmt

import (
	"fmt"
	"strings"
	"time"
)

// Address is a postal address as DIVOC records it.
type Address struct {
	Line1, Line2, District, State, Pincode string
}

// Recipient is the person who was vaccinated. All of it is personal data.
type Recipient struct {
	Name        string
	Mobile      string
	DOB         string // YYYY-MM-DD, or "" if not given
	Age         int    // years at vaccination; 0 if unknown
	Gender      string
	Nationality string
	Identity    string // e.g. did:in.gov.uidai.aadhaar:123412341234
	Address     Address
}

// Vaccination is one dose given.
type Vaccination struct {
	Name           string
	Manufacturer   string
	Batch          string
	Date           time.Time // UTC
	Dose           int       // 1-based
	TotalDoses     int       // 0 if not given
	EffectiveStart string
	EffectiveUntil string
}

// Certificate is one vaccination as a facility uploads it: one row of the
// bulk CSV or one element of a certify request.
type Certificate struct {
	Row               int // CSV: 1-based line in the file (header is line 1); JSON: 0-based array index
	PreEnrollmentCode string
	ProgramID         string // certify JSON "programId"; "" for CSV
	Recipient         Recipient
	Vaccination       Vaccination
	VaccinatorName    string
	FacilityName      string
	FacilityAddress   Address
}

// RowError is one problem in one row (CSV) or array element (JSON).
type RowError struct {
	Row     int    `json:"row"`     // as Certificate.Row
	Field   string `json:"field"`   // CSV column name, or JSON path such as "[3].vaccination.dose"
	Code    string `json:"code"`    // stable snake_case code, one of the Code constants
	Message string `json:"message"` // the rule that failed, for people
}

func (e RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("row %d: %s: %s", e.Row, e.Code, e.Message)
	}
	return fmt.Sprintf("row %d: %s: %s: %s", e.Row, e.Field, e.Code, e.Message)
}

// Row error codes.
const (
	CodeWrongFieldCount     = "wrong_field_count"     // CSV row has more or fewer cells than the header
	CodeCSVSyntax           = "csv_syntax"            // CSV row with broken quoting
	CodeInvalidEncoding     = "invalid_encoding"      // value is not valid UTF-8
	CodeTooLong             = "too_long"              // value longer than MaxFieldLen bytes
	CodeControlChar         = "control_character"     // value holds a control character (escape, NUL, ...)
	CodeMissingValue        = "missing_value"         // a required value is empty
	CodeMissingContact      = "missing_contact"       // neither recipient identity nor mobile
	CodeInvalidDate         = "invalid_date"          // not RFC 3339 / YYYY-MM-DD
	CodeDOBAfterVaccination = "dob_after_vaccination" // born after the vaccination date
	CodeInvalidNumber       = "invalid_number"        // not a whole number
	CodeDoseOutOfRange      = "dose_out_of_range"     // dose < 1, dose > totalDoses, or above MaxDoses
	CodeAgeOutOfRange       = "age_out_of_range"      // age not within 0..150
	CodeInvalidMobile       = "invalid_mobile"        // not 10-15 digits with an optional leading +
	CodeInvalidType         = "invalid_type"          // JSON value of the wrong type
	CodeInvalidValue        = "invalid_value"         // registry value outside its allowed set or range
	CodeDuplicateCode       = "duplicate_code"        // registry code used by an earlier row
)

// File error codes (fatal: the whole input is rejected).
const (
	CodeEmptyFile        = "empty_file"
	CodeMissingColumns   = "missing_columns"
	CodeUnknownColumns   = "unknown_columns"
	CodeDuplicateColumns = "duplicate_columns"
	CodeTooManyRows      = "too_many_rows"
	CodeInvalidJSON      = "invalid_json"
	CodeDuplicateKey     = "duplicate_key"
	CodeNotAnArray       = "not_an_array"
	CodeTooManyItems     = "too_many_items"
	CodeTooDeep          = "too_deep"
	CodeReadFailed       = "read_failed"
	// CodeCSVSyntax (a header with broken quoting) and CodeInvalidEncoding
	// (UTF-16 CSV, JSON that is not UTF-8) are also used as file errors.
)

// Limits.
const (
	MaxFieldLen     = 256    // bytes per value
	MaxDoses        = 10     // highest dose number and totalDoses accepted
	MaxAge          = 150    // years
	DefaultMaxRows  = 100000 // CSVOptions.MaxRows when 0
	DefaultMaxItems = 10000  // JSONOptions.MaxItems when 0
	maxJSONDepth    = 32
)

// FileError is a fatal problem with the input as a whole. Build it with
// csvError or jsonError so that Offset is -1 where it does not apply.
type FileError struct {
	Code    string
	Message string
	Line    int      // CSV line concerned, 0 if none
	Offset  int64    // JSON byte offset concerned, -1 if none
	Names   []string // the columns or keys concerned
	Err     error    // the underlying error, if any (a read error such as *http.MaxBytesError)
}

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (byte %d)", e.Offset)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

func csvError(code string, line int, names []string, format string, args ...any) *FileError {
	return &FileError{Code: code, Message: fmt.Sprintf(format, args...), Line: line, Offset: -1, Names: names}
}

func jsonError(code string, offset int64, names []string, format string, args ...any) *FileError {
	return &FileError{Code: code, Message: fmt.Sprintf(format, args...), Offset: offset, Names: names}
}
