package divocfmt

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// rowChecker validates the values of one row and collects its RowErrors, at
// most one per field. Values are looked up by their bulk-CSV column name
// whatever the input format; field names the column in errors (the column
// itself for CSV, a JSON path for JSON).
type rowChecker struct {
	row   int
	get   func(col string) string
	field func(col string) string
	skip  map[string]bool // columns already reported (JSON type errors)
	errs  []RowError
}

func (c *rowChecker) fail(col, code, format string, args ...any) {
	c.errs = append(c.errs, RowError{Row: c.row, Field: c.field(col), Code: code, Message: fmt.Sprintf(format, args...)})
}

// text returns the value of col; ok is false when it failed the checks every
// value must pass (valid UTF-8, at most MaxFieldLen bytes), which are reported.
func (c *rowChecker) text(col string) (v string, ok bool) {
	if c.skip[col] {
		return "", false
	}
	v = c.get(col)
	switch {
	case !utf8.ValidString(v):
		c.fail(col, CodeInvalidEncoding, "the value is not valid UTF-8; save the file as CSV UTF-8")
		return "", false
	case len(v) > MaxFieldLen:
		c.fail(col, CodeTooLong, "the value is %d bytes long; at most %d are allowed", len(v), MaxFieldLen)
		return "", false
	case hasControl(v):
		c.fail(col, CodeControlChar, "the value holds a control character (such as a terminal escape or NUL), which no name, code or address has")
		return "", false
	}
	return v, true
}

// hasControl reports a control character other than tab and newline (a
// cell typed with Alt+Enter in a spreadsheet has newlines): an escape
// sequence, a NUL, a carriage return that rewinds a terminal line.
func hasControl(s string) bool {
	for _, r := range s {
		if r != '\t' && r != '\n' && unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// required is text that must not be empty.
func (c *rowChecker) required(col string) (string, bool) {
	v, ok := c.text(col)
	if ok && v == "" {
		c.fail(col, CodeMissingValue, "a value is required")
		return "", false
	}
	return v, ok
}

// integer parses an optional whole number; present is false for "".
func (c *rowChecker) integer(col string, isRequired bool) (n int, present, ok bool) {
	v, ok := c.text(col)
	if isRequired && ok && v == "" {
		c.fail(col, CodeMissingValue, "a value is required")
		return 0, false, false
	}
	if !ok || v == "" {
		return 0, false, ok
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		c.fail(col, CodeInvalidNumber, "%q is not a whole number", v)
		return 0, true, false
	}
	return n, true, true
}

// day parses an optional YYYY-MM-DD date.
func (c *rowChecker) day(col string) (string, bool) {
	v, ok := c.text(col)
	if !ok || v == "" {
		return "", ok
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		c.fail(col, CodeInvalidDate, "%q is not a date in the form YYYY-MM-DD", v)
		return "", false
	}
	return v, true
}

// timestamp parses a required RFC 3339 timestamp or YYYY-MM-DD date, in UTC.
func (c *rowChecker) timestamp(col string) (time.Time, bool) {
	v, ok := c.required(col)
	if !ok {
		return time.Time{}, false
	}
	t, err := parseTimestamp(v)
	if err != nil {
		c.fail(col, CodeInvalidDate, "%q is neither an RFC 3339 timestamp (2021-03-01T10:30:00Z) nor a date (2021-03-01)", v)
		return time.Time{}, false
	}
	// Vaccinations happen in this era: a year like 0000 or 9999 is a
	// typo, not a date of birth problem.
	if t.Year() < MinVaccinationYear || t.Year() > MaxVaccinationYear {
		c.fail(col, CodeInvalidDate, "%q: the year is not within %d to %d", v, MinVaccinationYear, MaxVaccinationYear)
		return time.Time{}, false
	}
	return t, true
}

// The years a vaccination date may have.
const (
	MinVaccinationYear = 1950
	MaxVaccinationYear = 2199
)

func parseTimestamp(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Parse(time.DateOnly, v)
}

// mobile checks an optional mobile number: 10 to 15 digits, optionally after a +.
func (c *rowChecker) mobile(col string) (string, bool) {
	v, ok := c.text(col)
	if !ok || v == "" {
		return "", ok
	}
	if !validMobile(v) {
		c.fail(col, CodeInvalidMobile, "%q is not a mobile number: 10 to 15 digits, optionally after a +, no spaces", v)
		return "", false
	}
	return v, true
}

func validMobile(v string) bool {
	digits := v
	if len(digits) > 0 && digits[0] == '+' {
		digits = digits[1:]
	}
	return len(digits) >= 10 && len(digits) <= 15 && allDigits(digits)
}

// address reads the five address columns that start with prefix
// ("recipient" or "facility").
func (c *rowChecker) address(prefix string) Address {
	var a Address
	a.Line1, _ = c.text(prefix + "AddressLine1")
	a.Line2, _ = c.text(prefix + "AddressLine2")
	a.District, _ = c.text(prefix + "District")
	a.State, _ = c.text(prefix + "State")
	a.Pincode, _ = c.text(prefix + "Pincode")
	return a
}

// certificate checks every bulk-CSV column and builds the Certificate; the
// row is good when c.errs is empty afterwards.
func (c *rowChecker) certificate() Certificate {
	cert := Certificate{Row: c.row}
	cert.PreEnrollmentCode, _ = c.text("preEnrollmentCode")

	r := &cert.Recipient
	r.Name, _ = c.required("recipientName")
	mobile, mobileOK := c.mobile("recipientMobileNumber")
	identity, identityOK := c.text("recipientIdentity")
	if mobileOK && identityOK && mobile == "" && identity == "" {
		c.fail("recipientIdentity", CodeMissingContact, "one of recipientIdentity and recipientMobileNumber is required")
	}
	r.Mobile, r.Identity = mobile, identity
	dob, dobOK := c.day("recipientDOB")
	r.DOB = dob
	age, hasAge, ageOK := c.integer("recipientAge", false)
	if ageOK && hasAge && (age < 0 || age > MaxAge) {
		c.fail("recipientAge", CodeAgeOutOfRange, "age %d is not within 0 to %d", age, MaxAge)
	}
	r.Age = age
	r.Gender, _ = c.text("recipientGender")
	r.Nationality, _ = c.text("recipientNationality")
	r.Address = c.address("recipient")

	v := &cert.Vaccination
	v.Batch, _ = c.required("vaccinationBatch")
	date, dateOK := c.timestamp("vaccinationDate")
	v.Date = date
	v.Dose, v.TotalDoses = c.doses()
	start, startOK := c.day("vaccinationEffectiveStart")
	until, untilOK := c.day("vaccinationEffectiveEnd")
	v.EffectiveStart, v.EffectiveUntil = start, until
	if dateOK {
		// A certificate valid only before the vaccination (the vaccination's
		// day wherever it was given is at most a day before its UTC date).
		earliest := date.AddDate(0, 0, -1).Format(time.DateOnly)
		if until != "" && untilOK && until < earliest {
			c.fail("vaccinationEffectiveEnd", CodeInvalidDate, "effective end %s is before the vaccination date %s", until, date.Format(time.DateOnly))
			untilOK = false
		}
	}
	if start != "" && until != "" && startOK && untilOK && until < start {
		c.fail("vaccinationEffectiveEnd", CodeInvalidDate, "effective end %s is before the effective start %s", until, start)
	}
	v.Manufacturer, _ = c.text("vaccinationManufacturer")
	v.Name, _ = c.required("vaccinationName")

	cert.VaccinatorName, _ = c.required("vaccinatorName")
	cert.FacilityName, _ = c.text("facilityName")
	cert.FacilityAddress = c.address("facility")

	if dob != "" && dobOK && dateOK {
		c.checkBirth(r, dob, date, hasAge)
	}
	return cert
}

// doses checks vaccinationDose (required, 1..MaxDoses) and
// vaccinationTotalDoses (optional, 1..MaxDoses, not below the dose).
func (c *rowChecker) doses() (dose, total int) {
	total, hasTotal, totalOK := c.integer("vaccinationTotalDoses", false)
	if hasTotal && totalOK && (total < 1 || total > MaxDoses) {
		c.fail("vaccinationTotalDoses", CodeDoseOutOfRange, "totalDoses %d is not within 1 to %d", total, MaxDoses)
		totalOK = false
	}
	dose, _, doseOK := c.integer("vaccinationDose", true)
	switch {
	case !doseOK:
	case dose < 1:
		c.fail("vaccinationDose", CodeDoseOutOfRange, "dose %d is below 1; doses count from 1", dose)
	case hasTotal && totalOK && dose > total:
		c.fail("vaccinationDose", CodeDoseOutOfRange, "dose %d is above totalDoses %d", dose, total)
	case dose > MaxDoses:
		c.fail("vaccinationDose", CodeDoseOutOfRange, "dose %d is above the highest dose accepted, %d", dose, MaxDoses)
	}
	return dose, total
}

// checkBirth checks the date of birth against the vaccination date and, when
// no age was given, sets the age at vaccination from it.
func (c *rowChecker) checkBirth(r *Recipient, dob string, vaccinated time.Time, hasAge bool) {
	age, ok := AgeAt(dob, vaccinated)
	switch {
	case !ok:
		c.fail("recipientDOB", CodeDOBAfterVaccination, "date of birth %s is after the vaccination date %s", dob, vaccinated.Format(time.DateOnly))
	case age > MaxAge:
		c.fail("recipientDOB", CodeAgeOutOfRange, "date of birth %s gives an age of %d, above %d", dob, age, MaxAge)
	case !hasAge:
		r.Age = age
	}
}

// AgeAt returns the age in whole years on the calendar day of on, of a person
// born on dob (YYYY-MM-DD). A person born on 29 February turns a year older
// on 1 March in common years. ok is false when dob is not a valid date or is
// after that day.
func AgeAt(dob string, on time.Time) (age int, ok bool) {
	born, err := time.Parse(time.DateOnly, dob)
	if err != nil {
		return 0, false
	}
	y, m, d := on.Date()
	by, bm, bd := born.Date()
	if y < by || (y == by && (m < bm || (m == bm && d < bd))) {
		return 0, false
	}
	age = y - by
	if m < bm || (m == bm && d < bd) {
		age--
	}
	return age, true
}

// CheckRecipient applies the upload rules to a recipient's details outside
// a file (a correction through the API): a name, every value valid UTF-8
// of at most MaxFieldLen bytes without control characters, a date of birth
// as YYYY-MM-DD not after the vaccination, a plausible mobile number.
func CheckRecipient(r Recipient, vaccinated time.Time) []RowError {
	var errs []RowError
	fail := func(field, code, format string, args ...any) {
		errs = append(errs, RowError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	for _, f := range []struct{ name, v string }{
		{"name", r.Name}, {"mobile", r.Mobile}, {"dob", r.DOB}, {"gender", r.Gender},
		{"nationality", r.Nationality}, {"identity", r.Identity},
	} {
		switch {
		case !utf8.ValidString(f.v):
			fail(f.name, CodeInvalidEncoding, "the value is not valid UTF-8")
		case len(f.v) > MaxFieldLen:
			fail(f.name, CodeTooLong, "the value is %d bytes long; at most %d are allowed", len(f.v), MaxFieldLen)
		case hasControl(f.v):
			fail(f.name, CodeControlChar, "the value holds a control character")
		}
	}
	if strings.TrimSpace(r.Name) == "" {
		fail("name", CodeMissingValue, "a name is required")
	}
	if r.Mobile != "" && !validMobile(r.Mobile) {
		fail("mobile", CodeInvalidMobile, "a mobile number has 10 to 15 digits, with an optional leading +")
	}
	if r.DOB != "" {
		dob, err := time.Parse(time.DateOnly, r.DOB)
		switch {
		case err != nil:
			fail("dob", CodeInvalidDate, "a date of birth is YYYY-MM-DD")
		case !vaccinated.IsZero() && dob.After(vaccinated):
			fail("dob", CodeDOBAfterVaccination, "the date of birth %s is after the vaccination", r.DOB)
		}
	}
	return errs
}
