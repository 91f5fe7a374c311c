package node

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

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
	// counts[dimension][value]: the value's counts per day, cumulative,
	// so that any range of days is two binary searches and a subtraction.
	counts map[string]*dimension
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
	an := &Analytics{app: a, vault: v, counts: map[string]*dimension{}, places: map[string]place{}}
	for _, d := range Dimensions {
		an.counts[d] = &dimension{index: map[string]*series{}}
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
	if snap != nil && b.Height > an.height+1 {
		// Blocks this node did not execute: it was restored from a state
		// sync snapshot. Their journal came with the snapshot.
		_ = an.app.Journal(snap, an.height+1, b.Height-1, func(_ int64, evs []app.BlockEvent) bool {
			an.add(snap, evs)
			return true
		})
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

func (an *Analytics) bump(dim, value string, day int32, delta api.Counts) {
	if value == "" {
		value = "unknown"
	}
	an.counts[dim].series(value).add(day, delta)
}

// dimension holds one dimension's values, each with its series, in key
// order so that a query neither sorts nor chases a map.
type dimension struct {
	index  map[string]*series
	sorted []*series
}

func (d *dimension) series(value string) *series {
	if sr := d.index[value]; sr != nil {
		return sr
	}
	sr := &series{key: value}
	d.index[value] = sr
	i, _ := slices.BinarySearchFunc(d.sorted, value, func(s *series, v string) int { return strings.Compare(s.key, v) })
	d.sorted = slices.Insert(d.sorted, i, sr)
	return sr
}

// series is one value's counts by day: days sorted, cum[i] the sum of
// days[0..i]. Blocks mostly bring today's events, which append or touch
// the last day; a backdated event updates the days after its own, at most
// the backdating window.
type series struct {
	key  string
	days []int32 // dayNumber
	cum  []api.Counts
}

// dayNumber is a YYYY-MM-DD date as days since 1970-01-01; no date (or a
// malformed one) sorts first.
func dayNumber(date string) int32 {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return math.MinInt32
	}
	return int32(t.Unix() / 86400)
}

func (sr *series) add(day int32, delta api.Counts) {
	i, _ := slices.BinarySearch(sr.days, day)
	if i == len(sr.days) || sr.days[i] != day {
		var base api.Counts
		if i > 0 {
			base = sr.cum[i-1]
		}
		sr.days = slices.Insert(sr.days, i, day)
		sr.cum = slices.Insert(sr.cum, i, base)
	}
	for k := i; k < len(sr.cum); k++ {
		sr.cum[k].Add(delta)
	}
}

// between sums the days from..to (inclusive).
func (sr *series) between(from, to int32) api.Counts {
	lo, _ := slices.BinarySearch(sr.days, from)
	hi, found := slices.BinarySearch(sr.days, to)
	if !found {
		hi--
	}
	if hi < lo {
		return api.Counts{}
	}
	c := sr.cum[hi]
	if lo > 0 {
		p := sr.cum[lo-1]
		c = api.Counts{Doses: c.Doses - p.Doses, Certificates: c.Certificates - p.Certificates, Refused: c.Refused - p.Refused,
			Revocations: c.Revocations - p.Revocations, Feedback: c.Feedback - p.Feedback, AEFI: c.AEFI - p.AEFI, SeriousAEFI: c.SeriousAEFI - p.SeriousAEFI}
	}
	return c
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
				if g, ok := an.vault.Gender(e.Certificate); ok {
					dims["gender"] = g
				}
			}
		case app.EventCertificate:
			inc = func(c *api.Counts) { c.Certificates++ }
		case app.EventRevocation:
			if e.Status == app.CertSuperseded {
				continue // a correction: its new certificate is counted as one
			}
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
		var delta api.Counts
		inc(&delta)
		day := dayNumber(e.Date)
		// Every event counts in every dimension ("unknown" where it has no
		// value there, such as a revocation's age band), so each
		// dimension's total is the same.
		for _, d := range Dimensions {
			an.bump(d, dims[d], day, delta)
		}
		an.total.Add(delta)
	}
}

// Summary implements api.Insights: counts by one dimension, for days from
// to to (inclusive, YYYY-MM-DD; empty: open).
func (an *Analytics) Summary(by, from, to string) (*api.Summary, error) {
	an.mu.RLock()
	defer an.mu.RUnlock()
	dim, ok := an.counts[by]
	if !ok {
		return nil, fmt.Errorf("unknown dimension %q", by)
	}
	lo, hi := int32(math.MinInt32), int32(math.MaxInt32)
	if from != "" {
		if lo = dayNumber(from); lo == math.MinInt32 {
			return nil, fmt.Errorf("from %q is not a date (YYYY-MM-DD)", from)
		}
	}
	if to != "" {
		if hi = dayNumber(to); hi == math.MinInt32 {
			return nil, fmt.Errorf("to %q is not a date (YYYY-MM-DD)", to)
		}
	}
	out := &api.Summary{By: by, From: from, To: to, Height: an.height, Rows: make([]api.SummaryRow, 0, len(dim.sorted))}
	for _, sr := range dim.sorted {
		row := api.SummaryRow{Key: sr.key, Counts: sr.between(lo, hi)}
		if row.Counts != (api.Counts{}) {
			out.Rows = append(out.Rows, row)
			out.Total.Add(row.Counts)
		}
	}
	return out, nil
}

// Height is the last block counted.
func (an *Analytics) Height() int64 {
	an.mu.RLock()
	defer an.mu.RUnlock()
	return an.height
}
