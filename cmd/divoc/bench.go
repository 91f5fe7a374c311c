package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/node"
)

func benchCmd() *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "Benchmarks on a local single-node network"}
	var events, preload, facilities, parallel, chunk, validators int
	var home, cpuProfile string
	var timeoutCommit time.Duration
	ingestCmd := &cobra.Command{
		Use:   "ingest [--events N] [--preload M]",
		Short: "Events committed per second, with certificates, and submit-to-commit latency",
		Long: `bench ingest starts a fresh single-node network, optionally preloads it with M
certificates, then uploads N more through the HTTP API as the facilities would
(signed batches) and reports events committed per second and the p50/p99
latency from submitting a batch to its commit.

With --validators N (e.g. 4) it starts a fresh N-agency localnet instead,
each validator a separate "divoc start" process on free loopback ports (the
localnet package's configuration), and spreads the facilities' uploads over
the N APIs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := context.Background()
			if validators > 1 {
				return benchNetwork(ctx, home, validators, events, preload, facilities, parallel, chunk, timeoutCommit)
			}
			if home == "" {
				d, err := os.MkdirTemp("", "divoc-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				home = d
			}
			h := node.Home(home)
			fmt.Printf("generating %d rows for %d facilities...\n", preload+events, facilities)
			ds, err := node.InitLocal(node.LocalOptions{Home: home, Seed: 42, Facilities: facilities, Certificates: preload + events,
				APIListen: "127.0.0.1:0", P2PListen: "tcp://127.0.0.1:0", RPCListen: ""})
			if err != nil {
				return err
			}
			n, err := node.Start(h)
			if err != nil {
				return err
			}
			defer n.Stop()
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := n.WaitHeight(wctx, 1); err != nil {
				return err
			}
			base := "http://" + n.APIAddr
			files, _, err := facilityFiles(filepath.Join(home, "gen-data"), ds.Facilities)
			if err != nil {
				return err
			}
			pre, main := splitFiles(files, preload, preload+events)
			if preload > 0 {
				r, err := submitFacilities(ctx, h, base, pre, parallel, chunk, nil)
				if err != nil {
					return err
				}
				fmt.Printf("preload: %d events committed in %s (%.0f events/s)\n", r.Accepted, r.Elapsed.Round(time.Millisecond), float64(r.Accepted)/r.Elapsed.Seconds())
			}
			if cpuProfile != "" {
				pf, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(pf); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			r, err := submitFacilities(ctx, h, base, main, parallel, chunk, nil)
			if err != nil {
				return err
			}
			st := n.App.Committed()
			fmt.Printf("%d events committed with certificates in %s\n", r.Accepted, r.Elapsed.Round(time.Millisecond))
			fmt.Printf("%.0f events/s\n", float64(r.Accepted)/r.Elapsed.Seconds())
			fmt.Printf("submit-to-commit per batch of %d: p50 %s, p99 %s (%d batches)\n", chunk, percentile(r.Latencies, 0.5).Round(time.Millisecond), percentile(r.Latencies, 0.99).Round(time.Millisecond), len(r.Latencies))
			fmt.Printf("certificates on the ledger: %d, height %d\n", st.Totals().Certificates, st.Height)
			return nil
		},
	}
	f := ingestCmd.Flags()
	f.IntVar(&events, "events", 50000, "events to measure")
	f.IntVar(&preload, "preload", 0, "certificates committed before measuring")
	f.IntVar(&facilities, "facilities", 20, "facilities (each uploads its own file)")
	f.IntVar(&parallel, "parallel", 8, "facilities uploading at once (each sends its batches in order)")
	f.IntVar(&chunk, "chunk", 1000, "rows per signed upload")
	f.StringVar(&home, "home", "", "home directory (default: a temporary one, removed after)")
	f.IntVar(&validators, "validators", 1, "validators: more than 1 starts a localnet of that many processes and spreads uploads over their APIs")
	f.DurationVar(&timeoutCommit, "timeout-commit", 200*time.Millisecond, "CometBFT's timeout_commit with --validators")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the measured phase (client and node share the process)")
	c.AddCommand(ingestCmd)
	return c
}

// splitFiles cuts each facility's CSV (header + rows) so that roughly the
// first `cut` of `total` rows go to the first map.
func splitFiles(files map[string][]byte, cut, total int) (map[string][]byte, map[string][]byte) {
	a, b := map[string][]byte{}, map[string][]byte{}
	for code, body := range files {
		lines := splitLines(body)
		if len(lines) < 2 {
			continue
		}
		header, rows := lines[0], lines[1:]
		k := len(rows) * cut / max(total, 1)
		if k > 0 {
			a[code] = joinLines(header, rows[:k])
		}
		if k < len(rows) {
			b[code] = joinLines(header, rows[k:])
		}
	}
	return a, b
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i+1])
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, append(b[start:], '\n'))
	}
	return out
}

func joinLines(header []byte, rows [][]byte) []byte {
	out := append([]byte(nil), header...)
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}
