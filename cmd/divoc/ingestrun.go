package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/gendata"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/node"
)

// runResult aggregates the submission of many facilities' files.
type runResult struct {
	Rows, Accepted, Rejected int
	ByCode                   map[string]int
	Certificates             []string
	Latencies                []time.Duration
	Elapsed                  time.Duration
	// Reports are each facility's own.
	Reports map[string]*client.SubmitReport
}

// submitFacilities submits each facility's CSV, signed with its key from
// the home, `parallel` facilities at a time, as facilities would.
func submitFacilities(ctx context.Context, h node.Home, baseURL string, files map[string][]byte, parallel, chunk int, progress func(int)) (*runResult, error) {
	pk, err := ingest.LoadPseudonymKey(h.PseudonymKey())
	if err != nil {
		return nil, err
	}
	vf, err := os.Open(filepath.Join(h.Registry(), "vaccinators.csv"))
	if err != nil {
		return nil, err
	}
	vaccinators, _, err := divocfmt.ParseVaccinatorsCSV(vf)
	vf.Close()
	if err != nil {
		return nil, err
	}
	codes := make([]string, 0, len(files))
	for c := range files {
		codes = append(codes, c)
	}
	sort.Strings(codes)

	res := &runResult{ByCode: map[string]int{}, Reports: map[string]*client.SubmitReport{}}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		first   error
		settled = map[string]int{}
		sem     = make(chan struct{}, max(parallel, 1))
	)
	cl := client.New(baseURL, "")
	start := time.Now()
	for _, code := range codes {
		key, err := keys.Load(h.FacilityKey(code))
		if err != nil {
			return nil, err
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(code string, key *keys.Signer, body []byte) {
			defer wg.Done()
			defer func() { <-sem }()
			f := client.Facility{Code: code, Key: key, Pseudonym: pk, Vaccinators: vaccinators}
			rep, err := cl.SubmitCSV(ctx, f, body, client.SubmitOptions{ChunkRows: chunk, Concurrency: 1, Progress: func(n int) {
				mu.Lock()
				settled[code] = n
				total := 0
				for _, v := range settled {
					total += v
				}
				mu.Unlock()
				if progress != nil {
					progress(total)
				}
			}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			if rep == nil {
				return
			}
			res.Reports[code] = rep
			res.Rows += rep.Rows
			res.Accepted += rep.Accepted
			res.Rejected += rep.Rejected
			res.Latencies = append(res.Latencies, rep.Latencies...)
			seen := map[int]bool{}
			for _, e := range rep.Errors {
				if !seen[e.Row] {
					seen[e.Row] = true
					res.ByCode[e.Code]++
				}
			}
			for _, r := range rep.Results {
				if r.Code == "ok" {
					res.Certificates = append(res.Certificates, r.Certificate)
				} else {
					res.ByCode[r.Code]++
				}
			}
		}(code, key, files[code])
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res, first
}

// refusedRows rewrites, per facility, the rows of its file the ledger
// refused with one of the codes, as new CSVs (to submit them again).
func refusedRows(files map[string][]byte, reports map[string]*client.SubmitReport, codes ...string) (map[string][]byte, int, error) {
	out := map[string][]byte{}
	n := 0
	for fac, rep := range reports {
		lines := map[int]bool{}
		for _, r := range rep.Results {
			for _, c := range codes {
				if r.Code == c {
					lines[r.Row] = true
				}
			}
		}
		if len(lines) == 0 {
			continue
		}
		certs, _, err := divocfmt.ParseBulkCSV(bytes.NewReader(files[fac]), divocfmt.CSVOptions{MaxRows: -1})
		if err != nil {
			return nil, 0, err
		}
		var again []divocfmt.Certificate
		for _, c := range certs {
			if lines[c.Row] {
				again = append(again, c)
			}
		}
		var buf bytes.Buffer
		if err := divocfmt.WriteBulkCSV(&buf, again); err != nil {
			return nil, 0, err
		}
		out[fac] = buf.Bytes()
		n += len(again)
	}
	return out, n, nil
}

// facilityFiles reads the per-facility CSVs gen-data wrote.
func facilityFiles(dir string, facilities []divocfmt.Facility) (map[string][]byte, int, error) {
	out := map[string][]byte{}
	rows := 0
	for _, f := range facilities {
		b, err := os.ReadFile(filepath.Join(dir, gendata.FacilityCertificatesFile(f.Code)))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		out[f.Code] = b
		rows += bytes.Count(b, []byte("\n")) - 1
	}
	return out, rows, nil
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p)
	return s[i]
}
