package divocfmt

import (
	"io"
	"strconv"
	"time"
)

// bulkField is one column of DIVOC's bulk certificate upload and where the
// same value sits in a certify request.
type bulkField struct {
	col  string
	json string // dotted path inside one CertificationRequest
}

// bulkFields are the columns of header-certificates.csv, in DIVOC's order.
var bulkFields = []bulkField{
	{"preEnrollmentCode", "preEnrollmentCode"},
	{"recipientName", "recipient.name"},
	{"recipientMobileNumber", "recipient.contact"},
	{"recipientDOB", "recipient.dob"},
	{"recipientAge", "recipient.age"},
	{"recipientGender", "recipient.gender"},
	{"recipientNationality", "recipient.nationality"},
	{"recipientIdentity", "recipient.identity"},
	{"recipientAddressLine1", "recipient.address.addressLine1"},
	{"recipientAddressLine2", "recipient.address.addressLine2"},
	{"recipientDistrict", "recipient.address.district"},
	{"recipientState", "recipient.address.state"},
	{"recipientPincode", "recipient.address.pincode"},
	{"vaccinationBatch", "vaccination.batch"},
	{"vaccinationDate", "vaccination.date"},
	{"vaccinationDose", "vaccination.dose"},
	{"vaccinationTotalDoses", "vaccination.totalDoses"},
	{"vaccinationEffectiveStart", "vaccination.effectiveStart"},
	{"vaccinationEffectiveEnd", "vaccination.effectiveUntil"},
	{"vaccinationManufacturer", "vaccination.manufacturer"},
	{"vaccinationName", "vaccination.name"},
	{"vaccinatorName", "vaccinator.name"},
	{"facilityName", "facility.name"},
	{"facilityAddressLine1", "facility.address.addressLine1"},
	{"facilityAddressLine2", "facility.address.addressLine2"},
	{"facilityDistrict", "facility.address.district"},
	{"facilityState", "facility.address.state"},
	{"facilityPincode", "facility.address.pincode"},
}

// bulkSpec: every row must name the person, the vaccine, batch, dose, date
// and vaccinator, and identify the person by identity or mobile number.
var bulkSpec = tableSpec{
	columns: BulkCSVHeader(),
	required: []string{"recipientName", "vaccinationDate", "vaccinationDose",
		"vaccinationName", "vaccinationBatch", "vaccinatorName"},
	oneOf: [][]string{{"recipientIdentity", "recipientMobileNumber"}},
}

// BulkCSVHeader returns the columns of DIVOC's bulk certificate upload, in
// the order of header-certificates.csv.
func BulkCSVHeader() []string {
	cols := make([]string, len(bulkFields))
	for i, f := range bulkFields {
		cols[i] = f.col
	}
	return cols
}

// CSVOptions limits ParseBulkCSV.
type CSVOptions struct {
	// MaxRows is the most data rows accepted; one more is the fatal error
	// too_many_rows. 0 means DefaultMaxRows; a negative value, no limit.
	MaxRows int
}

// ParseBulkCSV reads DIVOC's bulk certificate upload. The header must hold
// the required columns, in any order, and no unknown column (a *FileError
// otherwise). Each data row becomes a Certificate or, when anything in it is
// wrong, RowErrors: all of its problems, at most one per column. Cells are
// trimmed of surrounding spaces and un-escaped (UnescapeCSVCell); a UTF-8 BOM
// and CRLF line endings are accepted; rows with only empty cells are skipped.
// When recipientAge is empty and recipientDOB is given, Age is the age on the
// vaccination date.
func ParseBulkCSV(r io.Reader, opts CSVOptions) ([]Certificate, []RowError, error) {
	t, err := openTable(r, bulkSpec, opts.MaxRows)
	if err != nil {
		return nil, nil, err
	}
	var certs []Certificate
	var errs []RowError
	for {
		row, rowErr, err := t.next()
		if err == io.EOF {
			return certs, errs, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if rowErr != nil {
			errs = append(errs, *rowErr)
			continue
		}
		c := rowChecker{row: row.line, get: row.get, field: columnName}
		cert := c.certificate()
		if len(c.errs) > 0 {
			errs = append(errs, c.errs...)
			continue
		}
		certs = append(certs, cert)
	}
}

func columnName(col string) string { return col }

// BulkCSVRecord returns the cells of c in BulkCSVHeader order, not escaped.
// Zero numbers and the zero time are written as empty cells, except an age
// of 0 beside a date of birth (else the reader would derive the age). ProgramID and
// Row have no column.
func BulkCSVRecord(c Certificate) []string {
	r, v := c.Recipient, c.Vaccination
	return []string{
		c.PreEnrollmentCode,
		r.Name, r.Mobile, r.DOB, ageCell(r), r.Gender, r.Nationality, r.Identity,
		r.Address.Line1, r.Address.Line2, r.Address.District, r.Address.State, r.Address.Pincode,
		v.Batch, formatTimestamp(v.Date), itoa(v.Dose), itoa(v.TotalDoses),
		v.EffectiveStart, v.EffectiveUntil, v.Manufacturer, v.Name,
		c.VaccinatorName,
		c.FacilityName,
		c.FacilityAddress.Line1, c.FacilityAddress.Line2, c.FacilityAddress.District,
		c.FacilityAddress.State, c.FacilityAddress.Pincode,
	}
}

// WriteBulkCSV writes certs as a DIVOC bulk certificate upload: the exact
// DIVOC header, then one row per certificate, every cell escaped with
// EscapeCSVCell. ParseBulkCSV reads it back to the same certificates (with
// Row set to the line numbers and ProgramID empty).
func WriteBulkCSV(w io.Writer, certs []Certificate) error {
	rows := make([][]string, len(certs))
	for i, c := range certs {
		rows[i] = BulkCSVRecord(c)
	}
	return writeTable(w, BulkCSVHeader(), rows)
}

// formatTimestamp writes t in UTC as RFC 3339, with fractional seconds only
// when t has them.
func formatTimestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func ageCell(r Recipient) string {
	if r.Age == 0 && r.DOB != "" {
		return "0"
	}
	return itoa(r.Age)
}
