package gendata

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/divocfmt"
)

// catalogue is a genesis-like vaccine list, with a three-dose and a
// single-dose vaccine.
var catalogue = []VaccineSpec{
	{Name: "Covishield", Manufacturer: "Serum Institute of India", Doses: 2, MinIntervalDays: 84},
	{Name: "Covaxin", Manufacturer: "Bharat Biotech", Doses: 2, MinIntervalDays: 28},
	{Name: "Corbevax", Manufacturer: "Biological E", Doses: 3, MinIntervalDays: 28},
	{Name: "Sputnik Light", Manufacturer: "Gamaleya", Doses: 1},
}

func options(seed int64) Options {
	return Options{
		Seed:     seed,
		Vaccines: catalogue,
		Start:    time.Date(2021, 1, 16, 0, 0, 0, 0, time.UTC),
		End:      time.Date(2021, 12, 31, 18, 0, 0, 0, time.UTC),
	}
}

func generate(t testing.TB, opts Options) *Dataset {
	t.Helper()
	ds, err := Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestGenerateDefaults(t *testing.T) {
	start := time.Now()
	ds := generate(t, options(1))
	if took := time.Since(start); took > time.Second {
		t.Errorf("10,000 rows took %v, want well under a second", took)
	}
	if len(ds.Facilities) != 20 || len(ds.Vaccinators) != 60 || len(ds.Certificates) != 10000 {
		t.Errorf("%d facilities, %d vaccinators, %d rows; want 20, 60, 10000",
			len(ds.Facilities), len(ds.Vaccinators), len(ds.Certificates))
	}
	if len(ds.Bad) != 0 || len(ds.Tricky) != 0 {
		t.Errorf("bad rows without BadRows: %v %v", ds.Bad, ds.Tricky)
	}
}

func TestGenerateOptionErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no vaccines", func(o *Options) { o.Vaccines = nil }, "Vaccines is required"},
		{"no dates", func(o *Options) { o.Start = time.Time{} }, "Start and End are required"},
		{"end before start", func(o *Options) { o.End = o.Start.Add(-time.Hour) }, "End must not be before Start"},
		{"zero doses", func(o *Options) { o.Vaccines = []VaccineSpec{{Name: "X", Doses: 0}} }, "Doses 0"},
		{"eleven doses", func(o *Options) { o.Vaccines = []VaccineSpec{{Name: "X", Doses: 11}} }, "Doses 11"},
		{"nameless vaccine", func(o *Options) { o.Vaccines = []VaccineSpec{{Doses: 1}} }, "no name"},
		{"vaccine twice", func(o *Options) { o.Vaccines = []VaccineSpec{{Name: "X", Doses: 1}, {Name: "x ", Doses: 2}} }, "listed twice"},
		{"negative interval", func(o *Options) { o.Vaccines = []VaccineSpec{{Name: "X", Doses: 2, MinIntervalDays: -1}} }, "negative"},
		{"negative facilities", func(o *Options) { o.Facilities = -1 }, "Facilities -1"},
		{"negative bad rows", func(o *Options) { o.BadRows = -1 }, "BadRows -1"},
		{"more bad rows than good", func(o *Options) { o.Certificates, o.BadRows = 5, 6 }, "BadRows 6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options(1)
			tt.change(&opts)
			_, err := Generate(opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestSameSeedSameFiles(t *testing.T) {
	opts := options(42)
	opts.BadRows = 16
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, dir := range dirs {
		if err := generate(t, opts).WriteDir(dir); err != nil {
			t.Fatal(err)
		}
	}
	a, b := readDir(t, dirs[0]), readDir(t, dirs[1])
	if len(a) != 4+20 {
		t.Errorf("wrote %d files, want 4 and one per facility", len(a))
	}
	if !reflect.DeepEqual(a, b) {
		for name := range a {
			if !bytes.Equal(a[name], b[name]) {
				t.Errorf("%s differs between two runs with the same seed", name)
			}
		}
	}
	other := t.TempDir()
	opts.Seed = 43
	if err := generate(t, opts).WriteDir(other); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(readDir(t, other)[CertificatesFile], a[CertificatesFile]) {
		t.Error("another seed gave the same certificates")
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

// TestFilesParse reads everything back with divocfmt: the registries have no
// errors, the parser reports exactly the parser-stage bad rows, and every
// other row comes back as generated, in the shared file and in its
// facility's file.
func TestFilesParse(t *testing.T) {
	opts := options(7)
	opts.BadRows = 24
	ds := generate(t, opts)
	dir := t.TempDir()
	if err := ds.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	files := readDir(t, dir)

	facilities, errs, err := divocfmt.ParseFacilitiesCSV(bytes.NewReader(files[FacilitiesFile]))
	if err != nil || len(errs) > 0 || !reflect.DeepEqual(facilities, ds.Facilities) {
		t.Errorf("facilities: err %v, row errors %v, equal %v", err, errs, reflect.DeepEqual(facilities, ds.Facilities))
	}
	vaccinators, errs, err := divocfmt.ParseVaccinatorsCSV(bytes.NewReader(files[VaccinatorsFile]))
	if err != nil || len(errs) > 0 || !reflect.DeepEqual(vaccinators, ds.Vaccinators) {
		t.Errorf("vaccinators: err %v, row errors %v, equal %v", err, errs, reflect.DeepEqual(vaccinators, ds.Vaccinators))
	}

	certs, errs, err := divocfmt.ParseBulkCSV(bytes.NewReader(files[CertificatesFile]), divocfmt.CSVOptions{MaxRows: -1})
	if err != nil {
		t.Fatal(err)
	}
	var wantErrs []divocfmt.RowError
	var wantCerts []divocfmt.Certificate
	parserBad := map[int]bool{}
	for _, b := range ds.Bad {
		if b.Stage == StageParser {
			parserBad[b.Index] = true
			wantErrs = append(wantErrs, divocfmt.RowError{Row: b.Line, Field: b.Field, Code: b.Code})
		}
	}
	for i, c := range ds.Certificates {
		if !parserBad[i] {
			wantCerts = append(wantCerts, c)
		}
	}
	for i := range errs {
		errs[i].Message = ""
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("row errors\n got %v\nwant %v", errs, wantErrs)
	}
	if !reflect.DeepEqual(certs, wantCerts) {
		t.Errorf("the parser did not give back the rows generated (%d, want %d)", len(certs), len(wantCerts))
	}

	total := 0
	for fi, f := range ds.Facilities {
		var want []divocfmt.Certificate
		for i, c := range ds.Certificates {
			if ds.FacilityOf[i] == fi && !parserBad[i] {
				want = append(want, c)
			}
		}
		got, errs, err := divocfmt.ParseBulkCSV(bytes.NewReader(files[FacilityCertificatesFile(f.Code)]), divocfmt.CSVOptions{MaxRows: -1})
		if err != nil {
			t.Fatal(err)
		}
		total += len(got) + len(errs)
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d", f.Code, len(got), len(want))
		}
		for i := range got {
			got[i].Row = want[i].Row
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rows differ from those generated", f.Code)
		}
	}
	if total != len(ds.Certificates) {
		t.Errorf("the facility files hold %d rows, want %d", total, len(ds.Certificates))
	}
}

var (
	facilityCodeRE = regexp.MustCompile(`^[A-Z]{3}[0-9]{3}$`)
	mobileRE       = regexp.MustCompile(`^[6-9][0-9]{9}$`)
	identityRE     = regexp.MustCompile(`^did:in\.gov\.(uidai\.aadhaar:[2-9][0-9]{11}|driverlicense:[A-Z]{2}[0-9]{2}(19|20)[0-9]{2}[0-9]{7}|passport:[A-Z][0-9]{7})$`)
)

func TestRegistriesLookReal(t *testing.T) {
	ds := generate(t, Options{Seed: 3, Facilities: 200, Certificates: 100, Vaccines: catalogue, Start: options(0).Start, End: options(0).End})
	codes, names, vaccinatorNames := map[string]bool{}, map[string]bool{}, map[string]bool{}
	categories := map[string]int{}
	for _, f := range ds.Facilities {
		if !facilityCodeRE.MatchString(f.Code) || codes[f.Code] || names[f.Name] {
			t.Errorf("facility code %q or name %q malformed or not unique", f.Code, f.Name)
		}
		codes[f.Code], names[f.Name] = true, true
		categories[f.Category]++
		if !slices.Contains([]string{"Fixed location", "Mobile", "Outreach"}, f.Type) {
			t.Errorf("%s: type %q", f.Code, f.Type)
		}
		if f.Type != "Fixed location" && f.Category != divocfmt.CategoryGovt {
			t.Errorf("%s: a private %s", f.Code, f.Type)
		}
		checkPlace(t, f.Code, f.Address)
	}
	if categories[divocfmt.CategoryGovt] < 100 || categories[divocfmt.CategoryPrivate] < 40 {
		t.Errorf("categories %v: want mostly GOVT, some PRIVATE", categories)
	}
	for _, v := range ds.Vaccinators {
		if vaccinatorNames[v.Name] || !mobileRE.MatchString(v.Mobile) || len(v.FacilityCodes) == 0 {
			t.Errorf("vaccinator %+v: name not unique, bad mobile or no facility", v)
		}
		vaccinatorNames[v.Name] = true
		for _, code := range v.FacilityCodes {
			if !codes[code] {
				t.Errorf("vaccinator %s at unknown facility %s", v.Code, code)
			}
		}
	}
}

// checkPlace checks that the district is in the state and the pincode
// belongs to the district.
func checkPlace(t *testing.T, who string, a divocfmt.Address) {
	t.Helper()
	for _, st := range states {
		for _, d := range st.districts {
			if d.name == a.District && st.name == a.State {
				if len(a.Pincode) != 6 || !strings.HasPrefix(a.Pincode, d.pin) {
					t.Errorf("%s: pincode %s is not one of %s", who, a.Pincode, d.name)
				}
				return
			}
		}
	}
	t.Errorf("%s: district %q is not in state %q", who, a.District, a.State)
}

// TestGoodRowsAreConsistent checks every good row against the registries,
// the catalogue and the dose rules, and the spread of the data.
func TestGoodRowsAreConsistent(t *testing.T) {
	opts := options(11)
	opts.BadRows = 16
	ds := generate(t, opts)
	special := map[int]bool{}
	for _, b := range append(ds.Bad, ds.Tricky...) {
		special[b.Index] = true
	}
	vaccinatorByName := map[string]divocfmt.Vaccinator{}
	for _, v := range ds.Vaccinators {
		vaccinatorByName[v.Name] = v
	}
	vaccineOf := map[string]VaccineSpec{}
	for _, v := range catalogue {
		vaccineOf[v.Name] = v
	}
	batchVaccine := map[string]string{}
	type dose struct {
		index int
		cert  divocfmt.Certificate
	}
	byPerson := map[string][]dose{}
	var aadhaar, ageSum, good int
	perDose := map[int]int{}
	genders := map[string]int{}
	for i, c := range ds.Certificates {
		if special[i] {
			continue
		}
		good++
		v, f := c.Vaccination, ds.Facilities[ds.FacilityOf[i]]
		spec, ok := vaccineOf[v.Name]
		switch {
		case !ok || spec.Manufacturer != v.Manufacturer || v.TotalDoses != spec.Doses:
			t.Errorf("row %d: vaccine %q %q %d doses is not in the catalogue", c.Row, v.Name, v.Manufacturer, v.TotalDoses)
		case v.Date.Before(opts.Start) || v.Date.After(opts.End):
			t.Errorf("row %d: date %v outside [Start, End]", c.Row, v.Date)
		case !slices.Contains(vaccinatorByName[c.VaccinatorName].FacilityCodes, f.Code):
			t.Errorf("row %d: vaccinator %q does not work at %s", c.Row, c.VaccinatorName, f.Code)
		case c.FacilityName != f.Name || c.FacilityAddress != f.Address:
			t.Errorf("row %d: facility name or address is not that of %s", c.Row, f.Code)
		case c.Recipient.Mobile != "" && !mobileRE.MatchString(c.Recipient.Mobile):
			t.Errorf("row %d: mobile %q", c.Row, c.Recipient.Mobile)
		case c.Recipient.Identity != "" && !identityRE.MatchString(c.Recipient.Identity):
			t.Errorf("row %d: identity %q", c.Row, c.Recipient.Identity)
		case c.Recipient.Identity == "" && c.Recipient.Mobile == "":
			t.Errorf("row %d: neither identity nor mobile", c.Row)
		case c.Recipient.Age < 18 || c.Recipient.Age > 91:
			t.Errorf("row %d: age %d", c.Row, c.Recipient.Age)
		case batchVaccine[v.Batch] != "" && batchVaccine[v.Batch] != v.Name:
			t.Errorf("row %d: batch %s used for two vaccines", c.Row, v.Batch)
		}
		if age, _ := divocfmt.AgeAt(c.Recipient.DOB, v.Date); age != c.Recipient.Age {
			t.Errorf("row %d: age %d, but born %s", c.Row, c.Recipient.Age, c.Recipient.DOB)
		}
		checkPlace(t, c.PreEnrollmentCode, c.Recipient.Address)
		batchVaccine[v.Batch] = v.Name
		byPerson[c.PreEnrollmentCode] = append(byPerson[c.PreEnrollmentCode], dose{i, c})
		if strings.HasPrefix(c.Recipient.Identity, "did:in.gov.uidai.aadhaar:") {
			aadhaar++
		}
		ageSum += c.Recipient.Age
		perDose[v.Dose]++
		genders[c.Recipient.Gender]++
	}
	if len(byPerson) != ds.Recipients {
		t.Errorf("%d people in the rows, Recipients says %d", len(byPerson), ds.Recipients)
	}
	for code, doses := range byPerson {
		first := doses[0].cert
		for n, d := range doses {
			c := d.cert
			if c.Vaccination.Dose != n+1 {
				t.Errorf("person %s: dose %d in position %d", code, c.Vaccination.Dose, n+1)
			}
			if c.Vaccination.Name != first.Vaccination.Name || ds.FacilityOf[d.index] != ds.FacilityOf[doses[0].index] ||
				c.Recipient.Identity != first.Recipient.Identity || c.Recipient.DOB != first.Recipient.DOB {
				t.Errorf("person %s: doses differ in vaccine, facility or person", code)
			}
			if n > 0 {
				prev := doses[n-1].cert.Vaccination.Date
				interval := vaccineOf[c.Vaccination.Name].MinIntervalDays
				if c.Vaccination.Date.Before(prev.AddDate(0, 0, interval)) {
					t.Errorf("person %s: dose %d on %v, under %d days after %v", code, n+1, c.Vaccination.Date, interval, prev)
				}
			}
		}
	}
	batches := map[string]int{}
	for _, vaccine := range batchVaccine {
		batches[vaccine]++
	}
	for name, n := range batches {
		if n < 2 || n > 8 {
			t.Errorf("%s: %d batches, want a handful", name, n)
		}
	}
	if share := float64(aadhaar) / float64(good); share < 0.75 || share > 0.95 {
		t.Errorf("Aadhaar share %.2f, want mostly Aadhaar", share)
	}
	if mean := float64(ageSum) / float64(good); mean < 30 || mean > 55 {
		t.Errorf("mean age %.1f", mean)
	}
	if perDose[2] < perDose[1]/3 || perDose[3] == 0 || perDose[4] != 0 {
		t.Errorf("doses %v: want many second doses, some third, no fourth", perDose)
	}
	if genders["Male"] < good/3 || genders["Female"] < good/3 {
		t.Errorf("genders %v", genders)
	}
}

func TestBadRows(t *testing.T) {
	opts := options(5)
	opts.BadRows = 3 * len(badKinds)
	ds := generate(t, opts)
	if len(ds.Bad)+len(ds.Tricky) != opts.BadRows || len(ds.Certificates) != ds.Options.Certificates+opts.BadRows {
		t.Fatalf("%d bad, %d tricky, %d rows", len(ds.Bad), len(ds.Tricky), len(ds.Certificates))
	}
	kinds := map[BadKind]int{}
	for _, b := range append(slices.Clone(ds.Bad), ds.Tricky...) {
		kinds[b.Kind]++
	}
	for _, k := range badKinds {
		if kinds[k] != 3 {
			t.Errorf("%d rows of kind %s, want 3", kinds[k], k)
		}
	}
	var buf bytes.Buffer
	if err := ds.WriteCertificates(&buf, ""); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := records[0]
	cell := func(line int, col string) string { return records[line-1][slices.Index(header, col)] }
	catalogueNames := map[string]bool{}
	for _, v := range catalogue {
		catalogueNames[v.Name] = true
	}
	allLines := fileLines(t, ds, "")
	for _, b := range append(slices.Clone(ds.Bad), ds.Tricky...) {
		c := ds.Certificates[b.Index]
		if c.Row != b.Line || ds.Facilities[ds.FacilityOf[b.Index]].Code != b.Facility || b.Note == "" {
			t.Errorf("%+v: line, facility or note wrong", b)
		}
		lines := fileLines(t, ds, b.Facility)
		if b.FacilityLine < 2 || b.FacilityLine > len(lines) || lines[b.FacilityLine-1] != allLines[b.Line-1] {
			t.Errorf("%+v: FacilityLine does not hold the row", b)
		}
		var ok bool
		switch b.Kind {
		case BadMissingName:
			ok = c.Recipient.Name == "" && cell(b.Line, "recipientName") == ""
		case BadUnparseableDate:
			_, perr := time.Parse(time.RFC3339, b.Raw)
			ok = b.Raw != "" && perr != nil && cell(b.Line, "vaccinationDate") == b.Raw
		case BadFutureDate:
			ok = c.Vaccination.Date.After(opts.End)
		case BadDoseOverTotal:
			ok = c.Vaccination.Dose > c.Vaccination.TotalDoses
		case BadUnknownVaccine:
			ok = !catalogueNames[c.Vaccination.Name] && c.Vaccination.Name != ""
		case BadVaccinatorElsewhere:
			for _, v := range ds.Vaccinators {
				if v.Name == c.VaccinatorName {
					ok = !slices.Contains(v.FacilityCodes, b.Facility)
				}
			}
		case BadDuplicateDose:
			for i := range b.Index {
				earlier := ds.Certificates[i]
				earlier.Row = c.Row
				if earlier == c && ds.FacilityOf[i] == ds.FacilityOf[b.Index] {
					ok = true
				}
			}
		case TrickyFormulaName:
			ok = strings.HasPrefix(c.Recipient.Name, "=HYPERLINK(") && cell(b.Line, "recipientName") == c.Recipient.Name &&
				b.Stage == "" && b.Code == ""
		}
		if !ok {
			t.Errorf("%s row at line %d is not what it says: %+v", b.Kind, b.Line, c)
		}
	}
}

// fileLines returns the lines of certificates.csv, or of one facility's file.
func fileLines(t *testing.T, ds *Dataset, facility string) []string {
	var buf bytes.Buffer
	if err := ds.WriteCertificates(&buf, facility); err != nil {
		t.Fatal(err)
	}
	return strings.Split(buf.String(), "\n")
}

func TestBadRowsSkipKindsThatCannotBe(t *testing.T) {
	opts := options(9)
	opts.Facilities, opts.Certificates, opts.BadRows = 1, 50, 16
	ds := generate(t, opts)
	if len(ds.Bad)+len(ds.Tricky) != 16 {
		t.Errorf("%d bad and tricky rows, want 16", len(ds.Bad)+len(ds.Tricky))
	}
	for _, b := range ds.Bad {
		if b.Kind == BadVaccinatorElsewhere {
			t.Errorf("vaccinator from elsewhere with one facility: %+v", b)
		}
	}
}

func TestWriteCertificatesUnknownFacility(t *testing.T) {
	ds := generate(t, Options{Certificates: 10, Vaccines: catalogue, Start: options(0).Start, End: options(0).End})
	if err := ds.WriteCertificates(&bytes.Buffer{}, "NOPE00"); err == nil {
		t.Error("no error for an unknown facility")
	}
}

func BenchmarkGenerate100k(b *testing.B) {
	opts := options(1)
	opts.Certificates, opts.BadRows = 100000, 100
	for b.Loop() {
		if _, err := Generate(opts); err != nil {
			b.Fatal(err)
		}
	}
}
