package app

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkFinalizeCommit measures the state machine alone: blocks of
// signed record batches (with anchors) executed and committed, on a state
// that already holds DIVOC_BENCH_PRELOAD events (default 0). Run:
//
//	DIVOC_BENCH_PRELOAD=1000000 go test -run XXX -bench FinalizeCommit -benchtime 100000x ./app/
//
// b.N is the number of events measured; the events/s metric is reported.
func BenchmarkFinalizeCommit(b *testing.B) {
	preload, _ := strconv.Atoi(os.Getenv("DIVOC_BENCH_PRELOAD"))
	const perTx, txsPerBlock = 1000, 5
	tc := newTestChain(b)
	person := 0
	block := func(events int) {
		var txs [][]byte
		for events > 0 {
			n := min(perTx, events)
			evs := make([]Event, n)
			for i := range evs {
				person++
				evs[i] = tc.event(fmt.Sprintf("p%d", person), 1)
			}
			txs = append(txs, tc.record("DEL010", evs, true))
			events -= n
		}
		res := tc.block(txs...)
		for _, r := range res {
			if r.Code != OK {
				b.Fatalf("tx refused: %s %s", r.Code, r.Reason)
			}
		}
	}
	start := time.Now()
	for done := 0; done < preload; done += perTx * txsPerBlock {
		block(min(perTx*txsPerBlock, preload-done))
		if done%100000 == 0 && done > 0 {
			b.Logf("preloaded %d events, %.0f events/s", done, float64(done)/time.Since(start).Seconds())
		}
	}
	b.ResetTimer()
	t0 := time.Now()
	for done := 0; done < b.N; done += perTx * txsPerBlock {
		block(min(perTx*txsPerBlock, b.N-done))
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "events/s")
}
