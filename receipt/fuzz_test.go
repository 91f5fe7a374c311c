package receipt_test

import (
	"os"
	"testing"
	"time"

	"github.com/divoc/divoc/receipt"
)

// The other documents a disconnected verifier reads: whatever the bytes,
// parsing and verifying return an error or a result, never panic, and a
// document with no signed header never verifies.

func fuzzTrust(f *testing.F) *receipt.Trust {
	f.Helper()
	b, err := os.ReadFile("testdata/validators.json")
	if err != nil {
		f.Fatal(err)
	}
	trust, err := receipt.ParseTrust(b)
	if err != nil {
		f.Fatal(err)
	}
	return trust
}

func FuzzParseTrust(f *testing.F) {
	b, _ := os.ReadFile("testdata/validators.json")
	f.Add(b)
	f.Add([]byte(`{"chain_id":"c","validators":[]}`))
	f.Add([]byte(`{"genesis_time":"2026-01-01T00:00:00Z","chain_id":"c","validators":[{"pub_key":{"type":"tendermint/PubKeyEd25519","value":"AAAA"},"power":"10"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := receipt.ParseTrust(data)
		if err == nil && tr == nil {
			t.Fatal("no error and no trust")
		}
	})
}

func FuzzVerifyTrustList(f *testing.F) {
	trust := fuzzTrust(f)
	f.Add([]byte(`{"type":"divoc.trust-list/v1","height":3,"keys":[]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[1,2`))
	policy := receipt.Policy{Now: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, data []byte) {
		tl, err := receipt.ParseTrustList(data)
		if err != nil {
			return
		}
		if _, err := receipt.VerifyTrustList(tl, *trust, policy); err == nil {
			t.Fatalf("a trust list without the chain's signed header verifies:\n%s", data)
		}
	})
}

func FuzzVerifyRevocationSnapshot(f *testing.F) {
	trust := fuzzTrust(f)
	f.Add([]byte(`{"type":"divoc.revocation-snapshot/v1","height":3,"revoked":{"count":0}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"revoked":{"encoding":"base64","ids":"!!"}}`))
	policy := receipt.Policy{Now: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := receipt.ParseRevocationSnapshot(data)
		if err != nil {
			return
		}
		if _, err := receipt.VerifyRevocationSnapshot(s, *trust, policy); err == nil {
			t.Fatalf("a revocation snapshot without the chain's signed header verifies:\n%s", data)
		}
	})
}
