package divocfmt

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFacilitiesCSVSample(t *testing.T) {
	facilities, errs, err := ParseFacilitiesCSV(bytes.NewReader(readSample(t, "facilities.csv")))
	if err != nil || len(errs) > 0 {
		t.Fatalf("err %v, row errors %v", err, errs)
	}
	var codes []string
	for _, f := range facilities {
		codes = append(codes, f.Code)
	}
	if want := []string{"DEL010", "BLR311", "PUN001", "BID001", "HYD111"}; !reflect.DeepEqual(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	want := Facility{
		Row: 3, Code: "BLR311", Name: "Chinmaya Mission Hospital", Category: CategoryPrivate,
		Type: "Fixed location", Status: "Active",
		Address: Address{Line1: "ER34", Line2: "My C,D,E", District: "Bengaluru", State: "Karnataka", Pincode: "560001"},
		Contact: "9876543210", Email: "aolo@mailinator.com", OperatingHourStart: "10", OperatingHourEnd: "17",
		GeoLat: "13", GeoLon: "75", WebsiteURL: "www.aolo.com", AdminName: "ramesh", AdminMobile: "1111111112",
	}
	if !reflect.DeepEqual(facilities[1], want) {
		t.Errorf("got  %+v\nwant %+v", facilities[1], want)
	}
	if got := facilities[4].Name; got != "St. Mary’s Medical Center" {
		t.Errorf("name %q", got)
	}
	if got := facilities[0].WebsiteURL; got != "www.awesome.com" {
		t.Errorf("website %q: want surrounding spaces trimmed", got)
	}
	if got := facilities[2].GeoLat; got != "" {
		t.Errorf("empty latitude read as %q", got)
	}
}

func TestParseVaccinatorsCSVSample(t *testing.T) {
	vaccinators, errs, err := ParseVaccinatorsCSV(bytes.NewReader(readSample(t, "vaccinators.csv")))
	if err != nil || len(errs) > 0 {
		t.Fatalf("err %v, row errors %v", err, errs)
	}
	want := []Vaccinator{
		{Row: 2, Code: "A1", Name: "Amar", NationalIdentifier: "QWERTY12", Mobile: "2111111111", Email: "a@v.com", Status: "Active", FacilityCodes: []string{"DEL010", "BLR311"}},
		{Row: 3, Code: "A2", Name: "Akbar", NationalIdentifier: "QWERTY13", Mobile: "2111111112", Email: "b@v.com", Status: "Active", FacilityCodes: []string{"PUN001"}},
		{Row: 4, Code: "A3", Name: "Anthony", NationalIdentifier: "QWERTY14", Mobile: "2111111113", Email: "c@v.com", Status: "Active", FacilityCodes: []string{"BID001"}},
	}
	if !reflect.DeepEqual(vaccinators, want) {
		t.Errorf("got  %+v\nwant %+v", vaccinators, want)
	}
}

func TestParseFacilitiesCSVRows(t *testing.T) {
	const header = "facilityCode,facilityName,category,operatingHourStart,geoLocationLat,geoLocationLon\n"
	tests := []struct {
		name string
		rows string
		want []RowError
	}{
		{"good", "PHC001,PHC Rampur,GOVT,9,28.6,77.2\n", nil},
		{"missing name", "PHC001,,GOVT,9,,\n", []RowError{{Row: 2, Field: "facilityName", Code: CodeMissingValue}}},
		{"bad category", "PHC001,PHC Rampur,govt,9,,\n", []RowError{{Row: 2, Field: "category", Code: CodeInvalidValue}}},
		{"hour 25", "PHC001,PHC Rampur,GOVT,25,,\n", []RowError{{Row: 2, Field: "operatingHourStart", Code: CodeInvalidValue}}},
		{"hour not a number", "PHC001,PHC Rampur,GOVT,9am,,\n", []RowError{{Row: 2, Field: "operatingHourStart", Code: CodeInvalidNumber}}},
		{"latitude 91", "PHC001,PHC Rampur,GOVT,9,91,77\n", []RowError{{Row: 2, Field: "geoLocationLat", Code: CodeInvalidValue}}},
		{"longitude text", "PHC001,PHC Rampur,GOVT,9,28,east\n", []RowError{{Row: 2, Field: "geoLocationLon", Code: CodeInvalidValue}}},
		{"duplicate code", "PHC001,PHC Rampur,GOVT,9,,\nphc001,PHC Sonapur,GOVT,9,,\nPHC002,CHC Devgaon,GOVT,9,,\n",
			[]RowError{{Row: 3, Field: "facilityCode", Code: CodeDuplicateCode}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			facilities, errs, err := ParseFacilitiesCSV(strings.NewReader(header + tt.rows))
			if err != nil {
				t.Fatal(err)
			}
			for i := range errs {
				errs[i].Message = ""
			}
			if !reflect.DeepEqual(errs, tt.want) {
				t.Errorf("row errors %v, want %v", errs, tt.want)
			}
			if rows := strings.Count(tt.rows, "\n"); len(facilities)+len(errs) != rows {
				t.Errorf("%d facilities and %d errors for %d rows", len(facilities), len(errs), rows)
			}
		})
	}
}

func TestParseVaccinatorsCSVRows(t *testing.T) {
	const header = "code,name,mobileNumber,facilityIds\n"
	tests := []struct {
		name  string
		rows  string
		want  []RowError
		codes []string // facility codes of the first vaccinator when good
	}{
		{"one facility", "V1,Asha Patil,9876543210,PHC001\n", nil, []string{"PHC001"}},
		{"list with spaces", "V1,Asha Patil,9876543210,\" PHC001 , CHC002,PHC001,\"\n", nil, []string{"PHC001", "CHC002"}},
		{"no facility", "V1,Asha Patil,9876543210,\n", []RowError{{Row: 2, Field: "facilityIds", Code: CodeMissingValue}}, nil},
		{"only commas", "V1,Asha Patil,9876543210,\",,\"\n", []RowError{{Row: 2, Field: "facilityIds", Code: CodeMissingValue}}, nil},
		{"bad mobile", "V1,Asha Patil,98765,PHC001\n", []RowError{{Row: 2, Field: "mobileNumber", Code: CodeInvalidMobile}}, nil},
		{"duplicate code", "V1,Asha Patil,,PHC001\nV1,Ravi Kumar,,PHC001\n", []RowError{{Row: 3, Field: "code", Code: CodeDuplicateCode}}, []string{"PHC001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vaccinators, errs, err := ParseVaccinatorsCSV(strings.NewReader(header + tt.rows))
			if err != nil {
				t.Fatal(err)
			}
			for i := range errs {
				errs[i].Message = ""
			}
			if !reflect.DeepEqual(errs, tt.want) {
				t.Errorf("row errors %v, want %v", errs, tt.want)
			}
			if tt.codes != nil && (len(vaccinators) == 0 || !reflect.DeepEqual(vaccinators[0].FacilityCodes, tt.codes)) {
				t.Errorf("vaccinators %+v, want facility codes %v", vaccinators, tt.codes)
			}
		})
	}
}

func TestRegistryHeaderErrors(t *testing.T) {
	_, _, err := ParseFacilitiesCSV(strings.NewReader("facilityCode,facilityName,beds\n"))
	checkFileError(t, err, CodeUnknownColumns, []string{"beds"})
	_, _, err = ParseVaccinatorsCSV(strings.NewReader("code,name\n"))
	checkFileError(t, err, CodeMissingColumns, []string{"facilityIds"})
}

func TestRegistryRoundTrip(t *testing.T) {
	facilities, _, err := ParseFacilitiesCSV(bytes.NewReader(readSample(t, "facilities.csv")))
	if err != nil {
		t.Fatal(err)
	}
	facilities[0].Name = "=HYPERLINK(\"x\")"
	var buf bytes.Buffer
	if err := WriteFacilitiesCSV(&buf, facilities); err != nil {
		t.Fatal(err)
	}
	assertNoFormulaCells(t, buf.Bytes())
	again, errs, err := ParseFacilitiesCSV(&buf)
	if err != nil || len(errs) > 0 || !reflect.DeepEqual(again, facilities) {
		t.Errorf("facilities round trip: err %v, %v\n got %+v\nwant %+v", err, errs, again, facilities)
	}

	vaccinators, _, err := ParseVaccinatorsCSV(bytes.NewReader(readSample(t, "vaccinators.csv")))
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := WriteVaccinatorsCSV(&buf, vaccinators); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), readSample(t, "vaccinators.csv")) {
		t.Errorf("vaccinators written\n%s\nwant the sample back\n%s", buf.Bytes(), readSample(t, "vaccinators.csv"))
	}
}

func TestAgeAt(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		dob    string
		on     string
		want   int
		wantOK bool
	}{
		{"1994-11-30", "2020-12-02", 26, true},
		{"1994-11-30", "2020-11-29", 25, true},
		{"1994-11-30", "2020-11-30", 26, true},
		{"2000-02-29", "2021-02-28", 20, true},
		{"2000-02-29", "2021-03-01", 21, true},
		{"2000-02-29", "2024-02-29", 24, true},
		{"2020-12-02", "2020-12-02", 0, true},
		{"2020-12-03", "2020-12-02", 0, false},
		{"1994-13-01", "2020-12-02", 0, false},
		{"", "2020-12-02", 0, false},
	}
	for _, tt := range tests {
		got, ok := AgeAt(tt.dob, day(tt.on))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("AgeAt(%q, %s) = %d, %v; want %d, %v", tt.dob, tt.on, got, ok, tt.want, tt.wantOK)
		}
	}
	// The calendar day of the time given counts, late in the day too.
	if got, _ := AgeAt("1994-11-30", time.Date(2020, 11, 29, 23, 59, 0, 0, time.UTC)); got != 25 {
		t.Errorf("AgeAt the day before the birthday, late = %d, want 25", got)
	}
}
