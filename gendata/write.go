package gendata

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/divoc/divoc/divocfmt"
)

// Files WriteDir writes.
const (
	FacilitiesFile   = "facilities.csv"
	VaccinatorsFile  = "vaccinators.csv"
	CertificatesFile = "certificates.csv" // every row, from all facilities
	ReadmeFile       = "README.txt"
)

// FacilityCertificatesFile names the file of one facility's rows (an upload
// is made by one facility): certificates-<CODE>.csv.
func FacilityCertificatesFile(code string) string { return "certificates-" + code + ".csv" }

// WriteDir writes the dataset into dir (created if needed): facilities.csv,
// vaccinators.csv, certificates.csv, one certificates-<CODE>.csv per facility
// (header only if it has no rows) and README.txt.
func (ds *Dataset) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{FacilitiesFile, func(w io.Writer) error { return divocfmt.WriteFacilitiesCSV(w, ds.Facilities) }},
		{VaccinatorsFile, func(w io.Writer) error { return divocfmt.WriteVaccinatorsCSV(w, ds.Vaccinators) }},
		{CertificatesFile, func(w io.Writer) error { return ds.WriteCertificates(w, "") }},
		{ReadmeFile, ds.writeReadme},
	}
	for _, f := range ds.Facilities {
		files = append(files, struct {
			name  string
			write func(io.Writer) error
		}{FacilityCertificatesFile(f.Code), func(w io.Writer) error { return ds.WriteCertificates(w, f.Code) }})
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.write); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(file)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("gendata: writing %s: %w", path, err)
	}
	return nil
}

// WriteCertificates writes, as a DIVOC bulk upload, the rows of the facility
// with the given code, or every row when code is "". Cells are written the
// way a facility's spreadsheet would export them: a formula stays a formula
// (divocfmt.WriteBulkCSV would escape it), since such hostile input is what
// the tricky rows are for, and a bad row's Raw text replaces its field.
func (ds *Dataset) WriteCertificates(w io.Writer, code string) error {
	facility := -1
	if code != "" {
		facility = slices.IndexFunc(ds.Facilities, func(f divocfmt.Facility) bool { return f.Code == code })
		if facility < 0 {
			return fmt.Errorf("gendata: no facility %q", code)
		}
	}
	header := divocfmt.BulkCSVHeader()
	raw := map[int]BadRow{}
	for _, b := range ds.Bad {
		if b.Raw != "" {
			raw[b.Index] = b
		}
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	for i, c := range ds.Certificates {
		if facility >= 0 && ds.FacilityOf[i] != facility {
			continue
		}
		rec := divocfmt.BulkCSVRecord(c)
		if b, ok := raw[i]; ok {
			rec[slices.Index(header, b.Field)] = b.Raw
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (ds *Dataset) writeReadme(w io.Writer) error {
	o := ds.Options
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("DIVOC-format test data made by github.com/divoc/divoc/gendata. All of it is")
	p("made up; the same options give the same files, byte for byte.")
	p("")
	p("seed: %d", o.Seed)
	p("vaccination dates: %s to %s (UTC)", o.Start.Format(time.RFC3339), o.End.Format(time.RFC3339))
	p("facilities: %d (%s), %d vaccinators (%s)", len(ds.Facilities), FacilitiesFile, len(ds.Vaccinators), VaccinatorsFile)
	p("rows: %d in %s: %d good, %d bad, %d tricky but valid", len(ds.Certificates), CertificatesFile,
		len(ds.Certificates)-len(ds.Bad)-len(ds.Tricky), len(ds.Bad), len(ds.Tricky))
	p("      and each facility's rows in %s", FacilityCertificatesFile("<CODE>"))
	p("recipients: %d (in the good rows)", ds.Recipients)
	p("")
	p("Good rows by vaccine and dose:")
	special := map[int]bool{}
	for _, b := range append(slices.Clone(ds.Bad), ds.Tricky...) {
		special[b.Index] = true
	}
	for _, v := range o.Vaccines {
		perDose := make([]int, v.Doses+1)
		for i, c := range ds.Certificates {
			if !special[i] && c.Vaccination.Name == v.Name && c.Vaccination.Dose <= v.Doses {
				perDose[c.Vaccination.Dose]++
			}
		}
		p("  %s (%s), %d dose(s), at least %d days apart:", v.Name, v.Manufacturer, v.Doses, v.MinIntervalDays)
		for dose := 1; dose <= v.Doses; dose++ {
			p("    dose %d: %d", dose, perDose[dose])
		}
	}
	if len(ds.Bad) > 0 {
		p("")
		p("Bad rows: line in %s, the facility's file and line, kind, who must reject it, expected code:", CertificatesFile)
		for _, b := range ds.Bad {
			at := ""
			if b.Field != "" {
				at = " in " + b.Field
			}
			p("  line %d (%s line %d): %s: the %s rejects it with %s%s; %s", b.Line, FacilityCertificatesFile(b.Facility),
				b.FacilityLine, b.Kind, b.Stage, b.Code, at, b.Note)
		}
	}
	if len(ds.Tricky) > 0 {
		p("")
		p("Tricky rows, valid, to be accepted. Their formulas are written unescaped on")
		p("purpose, as a hostile upload would have them; store them as text, and escape")
		p("them in anything written back (divocfmt.EscapeCSVCell):")
		for _, b := range ds.Tricky {
			p("  line %d (%s line %d): %s: %s", b.Line, FacilityCertificatesFile(b.Facility), b.FacilityLine, b.Kind, b.Note)
		}
	}
	return nil
}
