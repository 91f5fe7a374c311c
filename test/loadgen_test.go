package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/vault"
)

// loadgen submits signed uploads through every node's API, as the
// facilities would, and records every row an API acknowledged as
// committed. Each facility's uploads are sent in file order, one at a
// time (a later dose must not reach the ledger before an earlier one): an
// upload that fails (its node died, or did not answer) goes back to the
// front of its facility's queue whole and is sent again, to any node, so a
// row whose first upload did commit comes back as a duplicate dose, never
// as a second certificate.
type loadgen struct {
	c     *cluster
	chunk int

	mu       sync.Mutex
	queues   map[string][]chunk
	inflight map[string]bool
	next     int // round-robin over facilities
	acked    map[string]ack
	verified map[string]bool
	maxH     int64
	resent   int
	dups     int
	unexpect []string
	perNode  []int

	// acks counts acknowledgements, for polling.
	acks atomic.Int64
}

type chunk struct {
	facility string
	rows     []divocfmt.Certificate
}

// ack is one acknowledged row: its certificate, the node whose API
// acknowledged it and the height it reported.
type ack struct {
	node     int
	height   int64
	facility string
	at       time.Time
}

func newLoadgen(c *cluster, chunkRows int) *loadgen {
	g := &loadgen{c: c, chunk: chunkRows, queues: map[string][]chunk{}, inflight: map[string]bool{}, acked: map[string]ack{}, verified: map[string]bool{}, perNode: make([]int, c.size())}
	for _, code := range c.codes {
		rows := c.rows[code]
		for lo := 0; lo < len(rows); lo += chunkRows {
			g.queues[code] = append(g.queues[code], chunk{facility: code, rows: rows[lo:min(lo+chunkRows, len(rows))]})
		}
	}
	return g
}

// run starts workersPerNode uploaders per node, each pausing `pace`
// between its uploads; the returned function stops them and waits.
func (g *loadgen) run(ctx context.Context, workersPerNode int, pace time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 0; i < g.c.size(); i++ {
		for w := 0; w < workersPerNode; w++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				g.worker(ctx, i, pace)
			}(i)
		}
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

func (g *loadgen) worker(ctx context.Context, i int, pace time.Duration) {
	cl := client.New(g.c.net.Nodes[i].API, "")
	cl.HTTP = &http.Client{Timeout: 3 * time.Minute}
	hc := &http.Client{Timeout: time.Second}
	for ctx.Err() == nil {
		// A node that does not answer is polled until it does.
		if !healthy(ctx, hc, g.c.net.Nodes[i].API) {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		ch, ok, busy := g.take()
		if !ok {
			if !busy {
				return // nothing left to send
			}
			sleepCtx(ctx, 10*time.Millisecond) // every facility has an upload in flight
			continue
		}
		up, err := g.c.upload(ctx, cl, g.c.facs[ch.facility], ch.rows)
		g.settle(i, ch, up, err)
		sleepCtx(ctx, pace)
	}
}

func healthy(ctx context.Context, hc *http.Client, base string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// take returns the next upload of a facility that has none in flight,
// rotating over facilities; busy reports that uploads remain but every
// facility that has some is busy.
func (g *loadgen) take() (c chunk, ok, busy bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(g.c.codes)
	for k := 0; k < n; k++ {
		code := g.c.codes[(g.next+k)%n]
		if len(g.queues[code]) == 0 {
			continue
		}
		if g.inflight[code] {
			busy = true
			continue
		}
		g.next = (g.next + k + 1) % n
		c = g.queues[code][0]
		g.queues[code] = g.queues[code][1:]
		g.inflight[code] = true
		return c, true, false
	}
	return chunk{}, false, busy
}

// settle records an upload's outcome.
func (g *loadgen) settle(node int, c chunk, up *vault.Upload, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.inflight, c.facility)
	if err != nil || up.Status == vault.UploadProcessing {
		var p *api.Problem
		if errors.As(err, &p) && p.Status < 500 && p.Status != http.StatusTooManyRequests {
			g.unexpect = append(g.unexpect, fmt.Sprintf("upload of %d rows of %s refused by %s: %v", len(c.rows), c.facility, g.c.net.Nodes[node].Name, err))
		}
		g.queues[c.facility] = append([]chunk{c}, g.queues[c.facility]...)
		g.resent++
		return
	}
	var again []divocfmt.Certificate
	for _, res := range up.Results {
		i := res.Row - 2
		if i < 0 || i >= len(c.rows) {
			g.unexpect = append(g.unexpect, fmt.Sprintf("upload %s: result for row %d of %d", up.ID, res.Row, len(c.rows)))
			continue
		}
		switch res.Code {
		case string(app.OK):
			if _, dup := g.acked[res.Certificate]; dup {
				g.unexpect = append(g.unexpect, "certificate "+res.Certificate+" acknowledged twice")
			}
			g.acked[res.Certificate] = ack{node: node, height: up.Height, facility: c.facility, at: time.Now()}
			g.perNode[node]++
			g.maxH = max(g.maxH, up.Height)
			g.acks.Add(1)
		case string(app.CodeDuplicateDose):
			// Committed by an earlier upload whose answer was lost.
			g.dups++
		case string(app.CodeRateLimited), api.CodeTimeout, "not_submitted":
			// Not committed (as far as this node saw): send again; a row
			// that did commit comes back as a duplicate.
			again = append(again, c.rows[i])
		default:
			g.unexpect = append(g.unexpect, fmt.Sprintf("upload %s via %s: row %d refused: %s %s", up.ID, g.c.net.Nodes[node].Name, res.Row, res.Code, res.Reason))
		}
	}
	if len(up.Results)+len(up.Errors) < len(c.rows) {
		g.unexpect = append(g.unexpect, fmt.Sprintf("upload %s: %d results and %d errors for %d rows", up.ID, len(up.Results), len(up.Errors), len(c.rows)))
	}
	if len(again) > 0 {
		g.queues[c.facility] = append([]chunk{{facility: c.facility, rows: again}}, g.queues[c.facility]...)
		g.resent++
	}
}

// waitAcks polls until n more rows than `from` are acknowledged.
func (g *loadgen) waitAcks(ctx context.Context, from int64, n int, within time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(within)
	for g.acks.Load() < from+int64(n) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Since(start), fmt.Errorf("%d rows acknowledged in %s, waited for %d", g.acks.Load()-from, within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start), nil
}

// snapshot returns the acknowledged rows.
func (g *loadgen) snapshot() map[string]ack {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]ack, len(g.acked))
	for k, v := range g.acked {
		out[k] = v
	}
	return out
}

// acksAfter returns the rows acknowledged after t.
func (g *loadgen) acksAfter(t time.Time) []ack {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []ack
	for _, a := range g.acked {
		if a.at.After(t) {
			out = append(out, a)
		}
	}
	return out
}

func (g *loadgen) problems() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.unexpect...)
}

// verifyNew checks that every acknowledged certificate not yet verified
// verifies: its credential read from the node that issued it (with that
// node's operator token), verified through another node's API (every node
// checks it against the ledger: the signature with the issuer key listed
// there, the anchor, the status). It returns how many it verified.
func (g *loadgen) verifyNew(ctx context.Context, t *testing.T, up []bool) int {
	t.Helper()
	type job struct {
		id string
		a  ack
	}
	var jobs []job
	g.mu.Lock()
	for id, a := range g.acked {
		if !g.verified[id] {
			jobs = append(jobs, job{id, a})
		}
	}
	g.mu.Unlock()
	n := g.c.size()
	// Every node that verifies must have committed what it is asked about.
	var top int64
	for _, j := range jobs {
		top = max(top, j.a.height)
	}
	for i := 0; i < n; i++ {
		if up[i] {
			if _, err := g.c.waitHeight(ctx, i, top, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	work := make(chan job)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				issuer := client.New(g.c.net.Nodes[j.a.node].API, g.c.admin[j.a.node])
				v := j.a.node
				for k := 1; k <= n; k++ { // another node that is up, if any
					if cand := (j.a.node + k) % n; up[cand] {
						v = cand
						break
					}
				}
				verifier := client.New(g.c.net.Nodes[v].API, "")
				cert, err := issuer.Certificate(ctx, j.id)
				if err == nil && cert.Credential == "" {
					err = errors.New("no credential")
				}
				var res *api.Verification
				if err == nil {
					res, err = verifier.Verify(ctx, cert.Credential)
				}
				mu.Lock()
				if err != nil || !res.Valid {
					failures = append(failures, fmt.Sprintf("certificate %s (acknowledged by %s at height %d, verified by %s): %+v %v", j.id, g.c.net.Nodes[j.a.node].Name, j.a.height, g.c.net.Nodes[v].Name, res, err))
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	for i, f := range failures {
		if i >= 10 {
			t.Errorf("... and %d more certificates that do not verify", len(failures)-10)
			break
		}
		t.Error(f)
	}
	g.mu.Lock()
	for _, j := range jobs {
		g.verified[j.id] = true
	}
	g.mu.Unlock()
	return len(jobs)
}

// maxAckHeight is the highest height an API reported for an
// acknowledged upload.
func (g *loadgen) maxAckHeight() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxH
}
