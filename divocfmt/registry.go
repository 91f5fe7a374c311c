package divocfmt

import (
	"io"
	"slices"
	"strconv"
	"strings"
)

// Facility is one row of DIVOC's facilities.csv.
type Facility struct {
	Row                int // 1-based line in the file
	Code               string
	Name               string
	Category           string // GOVT or PRIVATE
	Type               string // e.g. Fixed location, Mobile, Outreach
	Status             string // e.g. Active
	Address            Address
	Contact            string
	Email              string
	OperatingHourStart string // hour of the day, 0 to 24, or ""
	OperatingHourEnd   string
	GeoLat, GeoLon     string // decimal degrees, or ""
	WebsiteURL         string
	AdminName          string
	AdminMobile        string
}

// Vaccinator is one row of DIVOC's vaccinators.csv.
type Vaccinator struct {
	Row                int // 1-based line in the file
	Code               string
	Name               string
	NationalIdentifier string
	Mobile             string
	Email              string
	Status             string
	FacilityCodes      []string // facilityIds: codes of the facilities where the vaccinator works
	Programs           []string // programs certified for: not a column of DIVOC's file, set through the API
}

// Facility categories.
const (
	CategoryGovt    = "GOVT"
	CategoryPrivate = "PRIVATE"
)

var facilitySpec = tableSpec{
	columns: []string{"facilityCode", "facilityName", "contact", "email", "operatingHourStart", "operatingHourEnd",
		"category", "type", "status", "addressLine1", "addressLine2", "district", "state", "pincode",
		"geoLocationLat", "geoLocationLon", "websiteURL", "adminName", "adminMobile"},
	required: []string{"facilityCode", "facilityName"},
}

var vaccinatorSpec = tableSpec{
	columns:  []string{"code", "name", "nationalIdentifier", "mobileNumber", "email", "status", "facilityIds"},
	required: []string{"code", "name", "facilityIds"},
}

// ParseFacilitiesCSV reads DIVOC's facilities.csv (header as in DIVOC's
// sample, any column order; facilityCode and facilityName required). Row
// errors: the checks every value gets (encoding, length), missing code or
// name, a category other than GOVT or PRIVATE, operating hours not within
// 0-24, coordinates out of range, and a code already used by an earlier row
// (compared without regard to case). At most DefaultMaxRows rows.
func ParseFacilitiesCSV(r io.Reader) ([]Facility, []RowError, error) {
	return parseRegistry(r, facilitySpec, "facilityCode", checkFacility)
}

// ParseVaccinatorsCSV reads DIVOC's vaccinators.csv. facilityIds is a
// comma-separated list of facility codes in one (quoted) cell; it must name
// at least one. Row errors as for ParseFacilitiesCSV, and a mobileNumber that
// is not 10-15 digits. Whether the facility codes exist is for the caller to
// check against its facilities.
func ParseVaccinatorsCSV(r io.Reader) ([]Vaccinator, []RowError, error) {
	return parseRegistry(r, vaccinatorSpec, "code", checkVaccinator)
}

// parseRegistry reads a registry table; codeCol names the column whose value
// must be unique.
func parseRegistry[T any](r io.Reader, spec tableSpec, codeCol string, check func(*rowChecker) T) ([]T, []RowError, error) {
	t, err := openTable(r, spec, 0)
	if err != nil {
		return nil, nil, err
	}
	var out []T
	var errs []RowError
	firstLine := map[string]int{} // upper-cased code -> line of its first use
	for {
		row, rowErr, err := t.next()
		if err == io.EOF {
			return out, errs, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if rowErr != nil {
			errs = append(errs, *rowErr)
			continue
		}
		c := rowChecker{row: row.line, get: row.get, field: columnName}
		item := check(&c)
		if code := strings.ToUpper(row.get(codeCol)); code != "" {
			if first, seen := firstLine[code]; seen {
				c.fail(codeCol, CodeDuplicateCode, "code %q is already used on line %d", row.get(codeCol), first)
			} else {
				firstLine[code] = row.line
			}
		}
		if len(c.errs) > 0 {
			errs = append(errs, c.errs...)
			continue
		}
		out = append(out, item)
	}
}

func checkFacility(c *rowChecker) Facility {
	f := Facility{Row: c.row}
	f.Code, _ = c.required("facilityCode")
	f.Name, _ = c.required("facilityName")
	f.Contact, _ = c.text("contact")
	f.Email, _ = c.text("email")
	f.OperatingHourStart = c.hour("operatingHourStart")
	f.OperatingHourEnd = c.hour("operatingHourEnd")
	f.Category = c.oneOf("category", CategoryGovt, CategoryPrivate)
	f.Type, _ = c.text("type")
	f.Status, _ = c.text("status")
	f.Address.Line1, _ = c.text("addressLine1")
	f.Address.Line2, _ = c.text("addressLine2")
	f.Address.District, _ = c.text("district")
	f.Address.State, _ = c.text("state")
	f.Address.Pincode, _ = c.text("pincode")
	f.GeoLat = c.degrees("geoLocationLat", 90)
	f.GeoLon = c.degrees("geoLocationLon", 180)
	f.WebsiteURL, _ = c.text("websiteURL")
	f.AdminName, _ = c.text("adminName")
	f.AdminMobile, _ = c.text("adminMobile")
	return f
}

func checkVaccinator(c *rowChecker) Vaccinator {
	v := Vaccinator{Row: c.row}
	v.Code, _ = c.required("code")
	v.Name, _ = c.required("name")
	v.NationalIdentifier, _ = c.text("nationalIdentifier")
	v.Mobile, _ = c.mobile("mobileNumber")
	v.Email, _ = c.text("email")
	v.Status, _ = c.text("status")
	ids, ok := c.required("facilityIds")
	if !ok {
		return v
	}
	for _, id := range strings.Split(ids, ",") {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(v.FacilityCodes, id) {
			v.FacilityCodes = append(v.FacilityCodes, id)
		}
	}
	if len(v.FacilityCodes) == 0 {
		c.fail("facilityIds", CodeMissingValue, "at least one facility code is required")
	}
	return v
}

// oneOf checks an optional value against its allowed set.
func (c *rowChecker) oneOf(col string, allowed ...string) string {
	v, ok := c.text(col)
	if !ok || v == "" || slices.Contains(allowed, v) {
		return v
	}
	c.fail(col, CodeInvalidValue, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return ""
}

// hour checks an optional hour of the day, 0 to 24.
func (c *rowChecker) hour(col string) string {
	n, present, ok := c.integer(col, false)
	if present && ok && (n < 0 || n > 24) {
		c.fail(col, CodeInvalidValue, "hour %d is not within 0 to 24", n)
		return ""
	}
	return c.get(col)
}

// degrees checks an optional coordinate within ±limit degrees.
func (c *rowChecker) degrees(col string, limit float64) string {
	v, ok := c.text(col)
	if !ok || v == "" {
		return v
	}
	d, err := strconv.ParseFloat(v, 64)
	if err != nil || d < -limit || d > limit {
		c.fail(col, CodeInvalidValue, "%q is not a number of degrees within -%g to %g", v, limit, limit)
		return ""
	}
	return v
}

// WriteFacilitiesCSV writes facilities in DIVOC's facilities.csv format,
// every cell escaped with EscapeCSVCell.
func WriteFacilitiesCSV(w io.Writer, facilities []Facility) error {
	rows := make([][]string, len(facilities))
	for i, f := range facilities {
		rows[i] = []string{f.Code, f.Name, f.Contact, f.Email, f.OperatingHourStart, f.OperatingHourEnd,
			f.Category, f.Type, f.Status, f.Address.Line1, f.Address.Line2, f.Address.District,
			f.Address.State, f.Address.Pincode, f.GeoLat, f.GeoLon, f.WebsiteURL, f.AdminName, f.AdminMobile}
	}
	return writeTable(w, facilitySpec.columns, rows)
}

// WriteVaccinatorsCSV writes vaccinators in DIVOC's vaccinators.csv format,
// the facility codes comma-separated in one cell, every cell escaped with
// EscapeCSVCell.
func WriteVaccinatorsCSV(w io.Writer, vaccinators []Vaccinator) error {
	rows := make([][]string, len(vaccinators))
	for i, v := range vaccinators {
		rows[i] = []string{v.Code, v.Name, v.NationalIdentifier, v.Mobile, v.Email, v.Status,
			strings.Join(v.FacilityCodes, ",")}
	}
	return writeTable(w, vaccinatorSpec.columns, rows)
}
