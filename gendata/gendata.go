// Package gendata generates realistic, reproducible data in DIVOC's formats:
// facilities and vaccinators (the registries a genesis is built from) and
// bulk certificate uploads, with deliberately bad rows mixed in when asked.
//
// The same Options give the same Dataset and byte-identical files. All names,
// numbers and addresses are made up; e-mail and web addresses use the
// reserved domain example.org.
package gendata

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/divoc/divoc/divocfmt"
)

// VaccineSpec is one vaccine of the catalogue.
type VaccineSpec struct {
	Name, Manufacturer string
	Doses              int // doses in the full course (totalDoses), 1 to divocfmt.MaxDoses
	MinIntervalDays    int // least days between two doses
}

// Options control Generate. Zero values take the defaults noted.
type Options struct {
	Seed                   int64
	Facilities             int           // default 20
	VaccinatorsPerFacility int           // default 3
	Certificates           int           // good rows (doses), default 10000
	Vaccines               []VaccineSpec // required: the genesis catalogue
	Start, End             time.Time     // required: vaccination dates are within [Start, End]; End is "today"
	BadRows                int           // bad or tricky rows mixed in, beyond Certificates (0 = none)
}

// Limits on Options.
const (
	MaxFacilities   = 10000
	MaxCertificates = 10000000
)

// Dataset is what Generate makes.
type Dataset struct {
	Options      Options // as used, defaults filled in
	Facilities   []divocfmt.Facility
	Vaccinators  []divocfmt.Vaccinator
	Certificates []divocfmt.Certificate // every row of certificates.csv in file order, bad and tricky rows included; Row is the line
	FacilityOf   []int                  // FacilityOf[i] is the index in Facilities of the facility that recorded Certificates[i]
	Bad          []BadRow               // rows that must be rejected, in file order
	Tricky       []BadRow               // rows that look hostile but are valid and must be accepted (Code and Stage empty)
	Recipients   int                    // distinct people in the good rows (bad and tricky rows are not counted)
}

// BadKind names a kind of deliberately bad (or tricky) row.
type BadKind string

// The kinds, in the order Generate cycles through them.
const (
	BadMissingName         BadKind = "missing_name"         // recipientName empty
	BadUnparseableDate     BadKind = "unparseable_date"     // vaccinationDate such as 31/12/2021
	BadFutureDate          BadKind = "future_date"          // vaccinationDate after Options.End
	BadDoseOverTotal       BadKind = "dose_over_total"      // vaccinationDose = totalDoses + 1
	BadUnknownVaccine      BadKind = "unknown_vaccine"      // vaccinationName not in the catalogue
	BadVaccinatorElsewhere BadKind = "vaccinator_elsewhere" // vaccinatorName of a vaccinator not attached to the facility
	BadDuplicateDose       BadKind = "duplicate_dose"       // exact copy of an earlier row: same person, same dose
	TrickyFormulaName      BadKind = "formula_name"         // recipientName =HYPERLINK(...): valid, stored as text
)

var badKinds = []BadKind{BadMissingName, BadUnparseableDate, BadFutureDate, BadDoseOverTotal,
	BadUnknownVaccine, BadVaccinatorElsewhere, BadDuplicateDose, TrickyFormulaName}

// Stage says who must reject a bad row.
type Stage string

const (
	StageParser Stage = "parser" // divocfmt.ParseBulkCSV returns a RowError with Code and Field
	StageLedger Stage = "ledger" // the row parses; the ledger's rules reject it with Code (the app's codes)
)

// BadRow locates one bad or tricky row and says what is wrong with it. For
// an unparseable date the Certificate cannot hold the bad value: it keeps a
// plausible date, and Raw holds the text the files carry.
type BadRow struct {
	Index        int    // in Dataset.Certificates
	Line         int    // line in certificates.csv (header is line 1)
	Facility     string // code of the facility whose certificates-<Facility>.csv holds the row too
	FacilityLine int    // line in certificates-<Facility>.csv
	Kind         BadKind
	Stage        Stage  // "" for a tricky row
	Code         string // the expected error code; "" for a tricky row
	Field        string // the CSV column at fault; "" when the whole row is (a duplicate)
	Raw          string // if not "", the text written in Field instead of the value in Certificates[Index]
	Note         string // what was done, for people
}

// Generate makes a dataset. Each person gets dose 1 and often more doses of
// the same vaccine, all at the same facility, each at least MinIntervalDays
// after the one before and none after End; Certificates counts doses, so the
// last person may be cut short. The bad rows are extra rows, each of one
// kind (cycling through the kinds), placed among the good ones by date.
func Generate(opts Options) (*Dataset, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	g := newGenerator(opts)
	g.makeFacilities()
	g.makeVaccinators()
	g.makeBatches()
	g.makeGoodRows()
	g.addBadRows()
	return g.dataset(), nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Facilities == 0 {
		o.Facilities = 20
	}
	if o.VaccinatorsPerFacility == 0 {
		o.VaccinatorsPerFacility = 3
	}
	if o.Certificates == 0 {
		o.Certificates = 10000
	}
	var problems []string
	if o.Facilities < 0 || o.Facilities > MaxFacilities {
		problems = append(problems, fmt.Sprintf("Facilities %d is not within 1 to %d", o.Facilities, MaxFacilities))
	}
	if o.VaccinatorsPerFacility < 0 || o.VaccinatorsPerFacility > 100 {
		problems = append(problems, fmt.Sprintf("VaccinatorsPerFacility %d is not within 1 to 100", o.VaccinatorsPerFacility))
	}
	if o.Certificates < 0 || o.Certificates > MaxCertificates {
		problems = append(problems, fmt.Sprintf("Certificates %d is not within 1 to %d", o.Certificates, MaxCertificates))
	}
	if o.BadRows < 0 || o.BadRows > o.Certificates {
		problems = append(problems, fmt.Sprintf("BadRows %d is not within 0 to Certificates", o.BadRows))
	}
	if o.Start.IsZero() || o.End.IsZero() || o.End.Before(o.Start) {
		problems = append(problems, "Start and End are required, and End must not be before Start")
	}
	if len(o.Vaccines) == 0 {
		problems = append(problems, "Vaccines is required (the catalogue)")
	}
	seen := map[string]bool{}
	for _, v := range o.Vaccines {
		key := strings.ToLower(strings.TrimSpace(v.Name))
		switch {
		case key == "":
			problems = append(problems, "a vaccine has no name")
		case seen[key]:
			problems = append(problems, fmt.Sprintf("vaccine %q is listed twice", v.Name))
		case v.Doses < 1 || v.Doses > divocfmt.MaxDoses:
			problems = append(problems, fmt.Sprintf("vaccine %q: Doses %d is not within 1 to %d", v.Name, v.Doses, divocfmt.MaxDoses))
		case v.MinIntervalDays < 0:
			problems = append(problems, fmt.Sprintf("vaccine %q: MinIntervalDays is negative", v.Name))
		}
		seen[key] = true
	}
	if len(problems) > 0 {
		return o, errors.New("gendata: " + strings.Join(problems, "; "))
	}
	o.Start, o.End = o.Start.UTC(), o.End.UTC()
	return o, nil
}

// generator holds the state of one Generate call.
type generator struct {
	opts              Options
	r                 *rng
	firstDay, lastDay time.Time // midnight UTC of Start and End
	days              int       // lastDay - firstDay, in days

	facilities  []divocfmt.Facility
	places      []place // of each facility
	facWeights  []int   // how busy each facility is
	facTotal    int
	vaccinators []divocfmt.Vaccinator
	atFacility  [][]int // facility index -> indices of its vaccinators
	vacWeights  []int
	vacTotal    int
	batches     [][]string // vaccine index -> batch numbers, in order of use
	used        map[string]bool

	rows       []*row
	recipients int
}

type place struct{ state, district int }

type row struct {
	cert     divocfmt.Certificate
	facility int
	sortAt   time.Time // where the row goes in the file
	bad      *BadRow
}

func newGenerator(opts Options) *generator {
	g := &generator{opts: opts, r: newRNG(opts.Seed), used: map[string]bool{}}
	g.firstDay = midnight(opts.Start)
	g.lastDay = midnight(opts.End)
	g.days = int(g.lastDay.Sub(g.firstDay) / (24 * time.Hour))
	for i := range opts.Vaccines { // the first vaccines of the catalogue are the most used
		w := len(opts.Vaccines) - i
		g.vacWeights = append(g.vacWeights, w*w)
		g.vacTotal += w * w
	}
	return g
}

func midnight(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// unique reports whether key was unused, and marks it used.
func (g *generator) unique(key string) bool {
	if g.used[key] {
		return false
	}
	g.used[key] = true
	return true
}

// dataset orders the rows by date and numbers them.
func (g *generator) dataset() *Dataset {
	slices.SortStableFunc(g.rows, func(a, b *row) int { return a.sortAt.Compare(b.sortAt) })
	ds := &Dataset{
		Options:      g.opts,
		Facilities:   g.facilities,
		Vaccinators:  g.vaccinators,
		Certificates: make([]divocfmt.Certificate, len(g.rows)),
		FacilityOf:   make([]int, len(g.rows)),
		Recipients:   g.recipients,
	}
	perFacility := make([]int, len(g.facilities))
	for i, r := range g.rows {
		perFacility[r.facility]++
		r.cert.Row = i + 2
		ds.Certificates[i] = r.cert
		ds.FacilityOf[i] = r.facility
		if b := r.bad; b != nil {
			b.Index, b.Line = i, i+2
			b.Facility, b.FacilityLine = g.facilities[r.facility].Code, perFacility[r.facility]+1
			if b.Stage == "" {
				ds.Tricky = append(ds.Tricky, *b)
			} else {
				ds.Bad = append(ds.Bad, *b)
			}
		}
	}
	return ds
}
