package receipt_test

import (
	"encoding/json"
	"testing"

	"github.com/divoc/divoc/receipt"
)

// Receipts verified per second, offline: parse the JSON and verify header,
// signatures, both ICS23 proofs and the Merkle path ("parse+verify"), or
// verify an already parsed receipt ("verify").
//
//	go test ./receipt -run XXX -bench Verify -benchtime 2s
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name string
		vals []string
	}{{"1-validator", []string{"a"}}, {"4-validators", []string{"a", "b", "c", "d"}}} {
		c := newTestChain(b, bc.vals...)
		ids := c.record(1000)
		for i := 0; i < 20; i++ {
			c.record(100) // a deeper tree
		}
		h := c.height()
		raw, err := json.Marshal(c.receipt(h, ids[500]))
		if err != nil {
			b.Fatal(err)
		}
		trust, pol := c.trust(), policyAt(h)
		b.Run(bc.name+"/parse+verify", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for i := 0; i < b.N; i++ {
				r, err := receipt.Parse(raw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := receipt.Verify(r, trust, pol); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
		})
		b.Run(bc.name+"/verify", func(b *testing.B) {
			r, err := receipt.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				if _, err := receipt.Verify(r, trust, pol); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
		})
	}
}
