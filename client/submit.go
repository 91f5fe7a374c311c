package client

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/vault"
)

// Facility is who submits: a facility code and either its signing key (the
// facility signs each batch itself) or, with a nil Key, the client's token
// (the node signs for the facility).
type Facility struct {
	Code      string
	Key       *keys.Signer
	Pseudonym ingest.PseudonymKey
	// Vaccinators resolves the vaccinatorName column (the facility's own
	// list, DIVOC's vaccinators.csv).
	Vaccinators []divocfmt.Vaccinator
}

// SubmitOptions tune SubmitCSV.
type SubmitOptions struct {
	Program   string
	ChunkRows int // rows per upload (one signed transaction each); default 1000
	// Concurrency is how many uploads are in flight. The default, 1, keeps
	// the file's order: a person's later dose in a later upload reaches the
	// ledger after their earlier one (the ledger refuses a dose whose
	// predecessor it has not recorded). Use more only for files whose
	// uploads do not depend on each other.
	Concurrency int
	// Progress is called with the number of rows settled so far.
	Progress func(settled int)
}

// SubmitReport is the outcome of a whole file.
type SubmitReport struct {
	Rows, Accepted, Rejected int
	// Unknown rows were submitted but not seen to commit (a timeout): they
	// may still commit; sending them again is safe.
	Unknown int
	// Errors are the rows refused before the ledger, with their line in
	// the original file.
	Errors []divocfmt.RowError
	// Results are the outcomes of the rows that reached the ledger.
	Results   []vault.RowResult
	Uploads   []string
	Latencies []time.Duration // per upload, submit to commit
	Elapsed   time.Duration
}

// SubmitCSV parses a DIVOC bulk CSV, splits its valid rows into uploads,
// signs each (when the facility has a key) and sends them, waiting for
// every upload to commit. Row numbers in the report are the file's lines.
func (c *Client) SubmitCSV(ctx context.Context, f Facility, csv []byte, opts SubmitOptions) (*SubmitReport, error) {
	start := time.Now()
	certs, rowErrs, err := divocfmt.ParseBulkCSV(bytes.NewReader(csv), divocfmt.CSVOptions{MaxRows: -1})
	if err != nil {
		return nil, err
	}
	rep := &SubmitReport{Rows: len(certs) + distinctRows(rowErrs), Errors: rowErrs}
	rep.Rejected = distinctRows(rowErrs)
	var reg *api.Registry
	if f.Key != nil {
		if reg, err = c.Registry(ctx); err != nil {
			return nil, fmt.Errorf("read the registry to derive events: %w", err)
		}
	}
	size := opts.ChunkRows
	if size <= 0 {
		size = 1000
	}
	conc := max(opts.Concurrency, 1)
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		sem     = make(chan struct{}, conc)
		settled = rep.Rejected
		first   error
	)
	if opts.Progress != nil {
		opts.Progress(settled)
	}
	for lo := 0; lo < len(certs); lo += size {
		chunk := certs[lo:min(lo+size, len(certs))]
		sem <- struct{}{}
		wg.Add(1)
		go func(chunk []divocfmt.Certificate) {
			defer wg.Done()
			defer func() { <-sem }()
			up, took, err := c.submitChunk(ctx, f, reg, chunk, opts.Program)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			// The upload's rows are lines 2.. of the chunk's CSV.
			line := func(r int) int { return chunk[r-2].Row }
			for _, e := range up.Errors {
				e.Row = line(e.Row)
				rep.Errors = append(rep.Errors, e)
			}
			for _, r := range up.Results {
				r.Row = line(r.Row)
				rep.Results = append(rep.Results, r)
			}
			rep.Accepted += up.Accepted
			rep.Rejected += up.Rejected
			rep.Unknown += up.Unknown
			rep.Uploads = append(rep.Uploads, up.ID)
			rep.Latencies = append(rep.Latencies, took)
			settled += len(chunk)
			if opts.Progress != nil {
				opts.Progress(settled)
			}
		}(chunk)
	}
	wg.Wait()
	sort.Slice(rep.Errors, func(i, j int) bool { return rep.Errors[i].Row < rep.Errors[j].Row })
	sort.Slice(rep.Results, func(i, j int) bool { return rep.Results[i].Row < rep.Results[j].Row })
	rep.Elapsed = time.Since(start)
	return rep, first
}

func (c *Client) submitChunk(ctx context.Context, f Facility, reg *api.Registry, chunk []divocfmt.Certificate, program string) (*vault.Upload, time.Duration, error) {
	var buf bytes.Buffer
	if err := divocfmt.WriteBulkCSV(&buf, chunk); err != nil {
		return nil, 0, err
	}
	body := buf.Bytes()
	sig := ""
	if f.Key != nil {
		// Sign what the node will derive: the events of this very CSV.
		again, _, err := divocfmt.ParseBulkCSV(bytes.NewReader(body), divocfmt.CSVOptions{MaxRows: -1})
		if err != nil {
			return nil, 0, err
		}
		b := ingest.Prepare(f.Code, program, again, ingest.NewCatalog(reg.Vaccines, reg.Programs, f.Vaccinators).InZone(reg.TimezoneOffsetMinutes), f.Pseudonym)
		if len(b.Rows) > 0 {
			chain, err := c.chain(ctx)
			if err != nil {
				return nil, 0, err
			}
			part, err := b.Sign(chain, f.Key, time.Now())
			if err != nil {
				return nil, 0, err
			}
			sig = part.DetachedJWS()
		}
	}
	start := time.Now()
	up, err := c.BulkCertify(ctx, body, program, sig, true)
	if p, ok := err.(*api.Problem); ok && p.Code == api.CodeNoValidRows {
		return &vault.Upload{Errors: p.Errors, Rejected: distinctRows(p.Errors)}, time.Since(start), nil
	}
	return up, time.Since(start), err
}

func (c *Client) chain(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chainID == "" {
		st, err := c.Status(ctx)
		if err != nil {
			return "", err
		}
		c.chainID = st.ChainID
	}
	return c.chainID, nil
}

func distinctRows(errs []divocfmt.RowError) int {
	rows := map[int]bool{}
	for _, e := range errs {
		rows[e.Row] = true
	}
	return len(rows)
}
