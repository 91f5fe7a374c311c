package node

import (
	"fmt"
	"sort"
	"sync"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/vault"
)

// Analytics keeps running counts of the drive by day and by each
// dimension (state, district, facility, program, vaccine, dose, age band,
// gender, payment mode, batch, and for vaccinations the result code as
// "reason"), updated from each block's journal as it commits:
// a query sums a few hundred counters, it never scans events. At start it
// catches up from the journal in the index. Gender is the one dimension
// that is personal data; it comes from this node's vault and is only ever
// counted, never listed per person.
type Analytics struct {
	app   *app.App
	vault *vault.Vault

	mu     sync.RWMutex
	height int64
	// counts[dimension][value][day]
	counts map[string]map[string]map[string]*api.Counts
	total  api.Counts
	// registry lookups (facility code -> its place and payment mode)
	places map[string]place
}

type place struct{ state, district, payment string }

// Dimensions of the analytics.
var Dimensions = []string{"day", "state", "district", "facility", "program", "vaccine", "dose", "age_band", "gender", "payment_mode", "batch", "reason"}

// NewAnalytics builds the counts from the journal up to the committed
// height and follows the app's commits from then on.
func NewAnalytics(a *app.App, v *vault.Vault) (*Analytics, error) {
	an := newAnalytics(a, v)
	an.mu.Lock()
	defer an.mu.Unlock()
	// Blocks are counted off the consensus path: the listener only queues.
	queue := make(chan *app.CommittedBlock, 1024)
	a.OnCommit(func(b *app.CommittedBlock) { queue <- b })
	go func() {
		for b := range queue {
			an.committed(b)
		}
	}()
	snap := a.Committed()
	if snap == nil {
		return an, nil
	}
	err := a.Journal(snap, 1, snap.Height, func(h int64, evs []app.BlockEvent) bool {
		an.add(snap, evs)
		return true
	})
	an.height = snap.Height
	return an, err
}

func newAnalytics(a *app.App, v *vault.Vault) *Analytics {
	an := &Analytics{app: a, vault: v, counts: map[string]map[string]map[string]*api.Counts{}, places: map[string]place{}}
	for _, d := range Dimensions {
		an.counts[d] = map[string]map[string]*api.Counts{}
	}
	return an
}

func (an *Analytics) committed(b *app.CommittedBlock) {
	an.mu.Lock()
	defer an.mu.Unlock()
	if b.Height <= an.height {
		return
	}
	var snap *app.Snapshot
	if an.app != nil {
		snap = an.app.Committed()
	}
	an.add(snap, b.Events)
	an.height = b.Height
}

func (an *Analytics) placeOf(snap *app.Snapshot, facility string) place {
	if p, ok := an.places[facility]; ok {
		return p
	}
	var p place
	if snap != nil {
		if f := snap.Facility(facility); f != nil {
			p = place{state: f.State, district: f.District}
			if len(f.PaymentModes) > 0 {
				p.payment = f.PaymentModes[0]
			}
		}
	}
	an.places[facility] = p
	return p
}

func (an *Analytics) bump(dim, value, day string, f func(*api.Counts)) {
	if value == "" {
		value = "unknown"
	}
	byDay := an.counts[dim][value]
	if byDay == nil {
		byDay = map[string]*api.Counts{}
		an.counts[dim][value] = byDay
	}
	c := byDay[day]
	if c == nil {
		c = &api.Counts{}
		byDay[day] = c
	}
	f(c)
}

// add counts a block's journal (called with the lock held).
func (an *Analytics) add(snap *app.Snapshot, evs []app.BlockEvent) {
	for _, e := range evs {
		var inc func(*api.Counts)
		dims := map[string]string{}
		switch e.Kind {
		case app.EventVaccination:
			if e.Code != app.OK {
				inc = func(c *api.Counts) { c.Refused++ }
			} else {
				cert := e.Certificate != ""
				inc = func(c *api.Counts) {
					c.Doses++
					if cert {
						c.Certificates++
					}
				}
			}
			if ev := e.Event; ev != nil {
				dims["program"], dims["dose"], dims["age_band"] = ev.Program, fmt.Sprint(ev.Dose), ev.AgeBand
			}
			// reason: the result code, "ok" or why the ledger refused it.
			dims["reason"] = string(e.Code)
			if e.Code == app.OK && e.Certificate != "" && an.vault != nil {
				if r, err := an.vault.Record(e.Certificate); err == nil {
					dims["gender"] = r.Cert.Recipient.Gender
				}
			}
		case app.EventCertificate:
			inc = func(c *api.Counts) { c.Certificates++ }
		case app.EventRevocation:
			inc = func(c *api.Counts) { c.Revocations++ }
		case app.EventFeedback:
			inc = func(c *api.Counts) { c.Feedback++ }
		case app.EventAEFI:
			serious := e.Serious
			inc = func(c *api.Counts) {
				c.AEFI++
				if serious {
					c.SeriousAEFI++
				}
			}
		default:
			continue
		}
		p := an.placeOf(snap, e.Facility)
		dims["day"], dims["facility"], dims["vaccine"], dims["batch"] = e.Date, e.Facility, e.Vaccine, e.Batch
		dims["state"], dims["district"], dims["payment_mode"] = p.state, p.district, p.payment
		if e.District != "" {
			dims["district"] = e.District
		}
		for _, d := range Dimensions {
			v, ok := dims[d]
			if !ok {
				continue
			}
			an.bump(d, v, e.Date, inc)
		}
		inc(&an.total)
	}
}

// Summary implements api.Insights: counts by one dimension, for days from
// to to (inclusive, YYYY-MM-DD; empty: open).
func (an *Analytics) Summary(by, from, to string) (*api.Summary, error) {
	an.mu.RLock()
	defer an.mu.RUnlock()
	byDim, ok := an.counts[by]
	if !ok {
		return nil, fmt.Errorf("unknown dimension %q", by)
	}
	out := &api.Summary{By: by, From: from, To: to, Height: an.height, Rows: []api.SummaryRow{}}
	for value, days := range byDim {
		row := api.SummaryRow{Key: value}
		for day, c := range days {
			if (from != "" && day < from) || (to != "" && day > to) {
				continue
			}
			row.Counts.Add(*c)
		}
		if row.Counts != (api.Counts{}) {
			out.Rows = append(out.Rows, row)
			out.Total.Add(row.Counts)
		}
	}
	sort.Slice(out.Rows, func(i, j int) bool { return out.Rows[i].Key < out.Rows[j].Key })
	return out, nil
}

// Height is the last block counted.
func (an *Analytics) Height() int64 {
	an.mu.RLock()
	defer an.mu.RUnlock()
	return an.height
}
