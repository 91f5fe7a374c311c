package receipt_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/ from the synthetic chain")

// The example's files are what the synthetic chain produces (its keys,
// times and state are fixed): a change to the formats shows up here.
func TestTestdataIsCurrent(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(3)
	h := c.height()
	r, err := json.MarshalIndent(c.receipt(h, ids[1]), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	v, err := json.MarshalIndent(c.trust(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"testdata/receipt.json": r, "testdata/validators.json": v} {
		want = append(want, '\n')
		if *update {
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: go test ./receipt -run TestTestdataIsCurrent -update", name)
		}
	}
}
