package node

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/divoc/divoc/app"
)

// analyticsAtOneMillion counts a million synthetic committed vaccinations
// spread like a national drive's: a year of days in time order, 36 states, 700
// districts, 20,000 facilities, 3 vaccines, 5,000 batches.
func analyticsAtOneMillion(b *testing.B) *Analytics {
	b.Helper()
	const events = 1_000_000
	rng := rand.New(rand.NewPCG(1, 2))
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vaccines := []string{"COVISHIELD", "COVAXIN", "SPUTNIK"}
	bands := []string{"18-44", "45-59", "60+"}
	// Blocks commit in time order; one event in twenty is backdated by up
	// to a week.
	day := func(i int) int {
		d := i * 365 / events
		if rng.IntN(20) == 0 {
			d = max(0, d-rng.IntN(8))
		}
		return d
	}
	an := newAnalytics(nil, nil)
	block := make([]app.BlockEvent, 0, 1000)
	for i := 0; i < events; i++ {
		fac := rng.IntN(20000)
		e := app.BlockEvent{Kind: app.EventVaccination, Code: app.OK, Certificate: fmt.Sprintf("C%d", i),
			Facility: fmt.Sprintf("F%05d", fac), District: fmt.Sprintf("D%03d", fac%700), State: fmt.Sprintf("S%02d", fac%36),
			Date: day0.AddDate(0, 0, day(i)).Format(time.DateOnly), Vaccine: vaccines[rng.IntN(3)], Batch: fmt.Sprintf("B%04d", rng.IntN(5000))}
		e.Event = &app.Event{Program: "C19", Dose: 1 + rng.IntN(2), AgeBand: bands[rng.IntN(3)], Vaccine: e.Vaccine, Batch: e.Batch, Date: e.Date}
		if rng.IntN(50) == 0 {
			e.Code, e.Certificate = app.CodeDuplicateDose, ""
		}
		block = append(block, e)
		if len(block) == cap(block) {
			an.add(nil, block)
			block = block[:0]
		}
	}
	an.add(nil, block)
	return an
}

// How long one analytics query takes with a million events counted, per
// dimension, over the whole year and over one month. Results in
// BENCHMARKS.md.
func BenchmarkAnalyticsSummaryAtOneMillion(b *testing.B) {
	start := time.Now()
	an := analyticsAtOneMillion(b)
	b.Logf("counted 1,000,000 events in %s", time.Since(start).Round(time.Millisecond))
	if an.total.Doses+an.total.Refused != 1_000_000 {
		b.Fatalf("counted %+v", an.total)
	}
	for _, by := range []string{"day", "district", "facility", "vaccine", "batch", "reason"} {
		for _, span := range []struct{ name, from, to string }{{"year", "", ""}, {"month", "2026-03-01", "2026-03-31"}} {
			b.Run(by+"/"+span.name, func(b *testing.B) {
				for b.Loop() {
					s, err := an.Summary(by, span.from, span.to)
					if err != nil || len(s.Rows) == 0 {
						b.Fatalf("%v %v", s, err)
					}
				}
			})
		}
	}
}
