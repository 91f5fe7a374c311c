package node

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
)

// The running counts equal a recount from the raw journal events, for
// every dimension and random day ranges, over random blocks.
func TestAnalyticsMatchRecount(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }

	an := newAnalytics(nil, nil)
	places := map[string]place{
		"F1": {state: "KA", district: "Bengaluru Urban", payment: "GOVT"},
		"F2": {state: "KA", district: "Mysuru", payment: "PRIVATE"},
		"F3": {state: "TN", district: "Chennai", payment: "GOVT"},
		"F4": {}, // a facility the registry does not know
	}
	for f, p := range places {
		an.places[f] = p
	}
	var all []app.BlockEvent
	for h := int64(1); h <= 300; h++ {
		var block []app.BlockEvent
		for range rng.IntN(12) {
			e := app.BlockEvent{Height: h, Facility: pick("F1", "F2", "F3", "F4"), Date: fmt.Sprintf("2021-03-%02d", 1+rng.IntN(20)),
				Vaccine: pick("COVISHIELD", "COVAXIN"), Batch: pick("B1", "B2", "B3")}
			switch rng.IntN(6) {
			case 0, 1, 2:
				e.Kind, e.Code = app.EventVaccination, app.OK
				if rng.IntN(5) == 0 {
					e.Code = app.CodeNotEligible
				} else if rng.IntN(4) > 0 {
					e.Certificate = fmt.Sprintf("C%d", rng.Int())
				}
				e.Event = &app.Event{Program: pick("C19", "HPV"), Dose: 1 + rng.IntN(3), AgeBand: pick("18-44", "45-59", "60+"), Vaccine: e.Vaccine, Batch: e.Batch, Date: e.Date}
			case 3:
				e.Kind = pick(app.EventRevocation, app.EventCertificate, app.EventFeedback)
				if e.Kind == app.EventRevocation {
					e.Status = pick(app.CertRevoked, app.CertSuperseded)
				}
			case 4:
				e.Kind = app.EventAEFI
				e.Serious = rng.IntN(3) == 0
				if rng.IntN(2) == 0 {
					e.District = "Reported district"
				}
			case 5:
				e.Kind = app.EventSignal // not counted
			}
			block = append(block, e)
		}
		an.committed(&app.CommittedBlock{Height: h, Events: block})
		all = append(all, block...)
	}

	// The recount: the dimension's value of an event, if it has one.
	valueOf := func(dim string, e app.BlockEvent) (string, bool) {
		orUnknown := func(s string) string {
			if s == "" {
				return "unknown"
			}
			return s
		}
		p := places[e.Facility]
		switch dim {
		case "day":
			return e.Date, true
		case "facility":
			return e.Facility, true
		case "vaccine":
			return e.Vaccine, true
		case "batch":
			return e.Batch, true
		case "state":
			return orUnknown(p.state), true
		case "payment_mode":
			return orUnknown(p.payment), true
		case "district":
			if e.District != "" {
				return e.District, true
			}
			return orUnknown(p.district), true
		case "reason":
			if e.Kind != app.EventVaccination {
				return "unknown", true
			}
			return orUnknown(string(e.Code)), true
		case "program", "dose", "age_band":
			if e.Kind != app.EventVaccination || e.Event == nil {
				return "unknown", true
			}
			return orUnknown(map[string]string{"program": e.Event.Program, "dose": fmt.Sprint(e.Event.Dose), "age_band": e.Event.AgeBand}[dim]), true
		}
		return "unknown", true // gender: from the vault, which this test has none of
	}
	count := func(c *api.Counts, e app.BlockEvent) bool {
		switch e.Kind {
		case app.EventVaccination:
			if e.Code != app.OK {
				c.Refused++
				return true
			}
			c.Doses++
			if e.Certificate != "" {
				c.Certificates++
			}
		case app.EventCertificate:
			c.Certificates++
		case app.EventRevocation:
			if e.Status == app.CertSuperseded {
				return false // a correction, not a revocation
			}
			c.Revocations++
		case app.EventFeedback:
			c.Feedback++
		case app.EventAEFI:
			c.AEFI++
			if e.Serious {
				c.SeriousAEFI++
			}
		default:
			return false
		}
		return true
	}

	for _, dim := range Dimensions {
		for range 5 {
			from, to := "", ""
			if rng.IntN(2) == 0 {
				from = fmt.Sprintf("2021-03-%02d", 1+rng.IntN(20))
			}
			if rng.IntN(2) == 0 {
				to = fmt.Sprintf("2021-03-%02d", 1+rng.IntN(20))
			}
			rows := map[string]*api.Counts{}
			var total api.Counts
			for _, e := range all {
				if (from != "" && e.Date < from) || (to != "" && e.Date > to) {
					continue
				}
				v, ok := valueOf(dim, e)
				if !ok {
					continue
				}
				if rows[v] == nil {
					rows[v] = &api.Counts{}
				}
				if count(rows[v], e) {
					count(&total, e)
				}
			}
			want := api.Summary{By: dim, From: from, To: to, Height: 300, Rows: []api.SummaryRow{}, Total: total}
			for k, c := range rows {
				if *c != (api.Counts{}) {
					want.Rows = append(want.Rows, api.SummaryRow{Key: k, Counts: *c})
				}
			}
			sort.Slice(want.Rows, func(i, j int) bool { return want.Rows[i].Key < want.Rows[j].Key })
			got, err := an.Summary(dim, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("by %s from %q to %q:\n got %+v\nwant %+v", dim, from, to, *got, want)
			}
		}
	}
	// A block seen twice (a replayed commit) is not counted twice.
	before, _ := an.Summary("day", "", "")
	an.committed(&app.CommittedBlock{Height: 300, Events: all[len(all)-3:]})
	if after, _ := an.Summary("day", "", ""); !reflect.DeepEqual(before, after) {
		t.Fatal("a block counted twice")
	}
	if _, err := an.Summary("shoe_size", "", ""); err == nil {
		t.Fatal("an unknown dimension answered")
	}
}
