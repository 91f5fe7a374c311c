package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/localnet"
	"github.com/divoc/divoc/node"
)

// benchNetwork is `bench ingest --validators N`: a fresh N-agency localnet
// (each validator its own `divoc start` process on free loopback ports),
// optionally preloaded, then the facilities' uploads spread over the N
// APIs (facility i uploads through node i mod N).
func benchNetwork(ctx context.Context, home string, validators, events, preload, facilities, parallel, chunk int, timeoutCommit time.Duration) error {
	if home == "" {
		d, err := os.MkdirTemp("", "divoc-bench-net-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		home = d
	}
	ports, err := freeLoopbackPorts(3 * validators)
	if err != nil {
		return err
	}
	cfg := localnet.Config{ChainID: "divoc-bench", GovernanceThreshold: (2*validators)/3 + 1, TimeoutCommit: timeoutCommit.String(),
		Facilities: facilities, Certificates: preload + events, Seed: 42}
	cfg.GovernanceThreshold = min(cfg.GovernanceThreshold, validators)
	for i := 0; i < validators; i++ {
		cfg.Agencies = append(cfg.Agencies, node.Agency{ID: fmt.Sprintf("agency%d", i+1), Name: fmt.Sprintf("Health Agency %d", i+1),
			P2PPort: ports[3*i], RPCPort: ports[3*i+1], APIPort: ports[3*i+2]})
	}
	fmt.Printf("generating %d rows for %d facilities, %d validators...\n", preload+events, facilities, validators)
	n, err := localnet.Init(home, cfg, io.Discard)
	if err != nil {
		return err
	}
	defer n.StopAll(30 * time.Second)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := n.StartAll(wctx, false); err != nil {
		return err
	}
	h := n.Nodes[0].Home
	ds, err := readFacilityCodes(h)
	if err != nil {
		return err
	}
	files, _, err := facilityFiles(n.GenData, ds)
	if err != nil {
		return err
	}
	pre, main := splitFiles(files, preload, preload+events)
	if preload > 0 {
		r, err := submitSpread(ctx, n, pre, parallel, chunk)
		if err != nil {
			return err
		}
		fmt.Printf("preload: %d events committed in %s (%.0f events/s)\n", r.Accepted, r.Elapsed.Round(time.Millisecond), float64(r.Accepted)/r.Elapsed.Seconds())
	}
	r, err := submitSpread(ctx, n, main, parallel, chunk)
	if err != nil {
		return err
	}
	fmt.Printf("%d events committed with certificates in %s on %d validators\n", r.Accepted, r.Elapsed.Round(time.Millisecond), validators)
	fmt.Printf("%.0f events/s\n", float64(r.Accepted)/r.Elapsed.Seconds())
	fmt.Printf("submit-to-commit per batch of %d: p50 %s, p99 %s (%d batches)\n", chunk, percentile(r.Latencies, 0.5).Round(time.Millisecond), percentile(r.Latencies, 0.99).Round(time.Millisecond), len(r.Latencies))
	for _, s := range n.Status(ctx) {
		fmt.Printf("%s (%s): height %d, app hash %s\n", s.Name, s.Agency, s.Height, s.AppHash)
	}
	return nil
}

// submitSpread submits each facility's file through node (index mod N),
// `parallel` facilities at a time over all nodes.
func submitSpread(ctx context.Context, n *localnet.Network, files map[string][]byte, parallel, chunk int) (*runResult, error) {
	codes := make([]string, 0, len(files))
	for c := range files {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	per := make([]map[string][]byte, len(n.Nodes))
	for i, c := range codes {
		k := i % len(n.Nodes)
		if per[k] == nil {
			per[k] = map[string][]byte{}
		}
		per[k][c] = files[c]
	}
	res := &runResult{ByCode: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var first error
	start := time.Now()
	for k, fs := range per {
		if len(fs) == 0 {
			continue
		}
		wg.Add(1)
		go func(k int, fs map[string][]byte) {
			defer wg.Done()
			r, err := submitFacilities(ctx, n.Nodes[k].Home, n.Nodes[k].API, fs, max(parallel/len(n.Nodes), 1), chunk, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = fmt.Errorf("%s: %w", n.Nodes[k].Name, err)
			}
			if r == nil {
				return
			}
			res.Rows += r.Rows
			res.Accepted += r.Accepted
			res.Rejected += r.Rejected
			res.Latencies = append(res.Latencies, r.Latencies...)
			for c, v := range r.ByCode {
				res.ByCode[c] += v
			}
		}(k, fs)
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res, first
}

func readFacilityCodes(h node.Home) ([]divocfmt.Facility, error) {
	f, err := os.Open(filepath.Join(h.Registry(), "facilities.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	facs, _, err := divocfmt.ParseFacilitiesCSV(f)
	return facs, err
}

func freeLoopbackPorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
