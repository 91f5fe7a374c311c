package receipt_test

import (
	"fmt"
	"os"
	"time"

	"github.com/divoc/divoc/receipt"
)

// A verifier with no network: the validators' keys pinned once (from GET
// /v1/trust/validators or the chain's genesis.json), a receipt stapled to
// the certificate (from GET /v1/certificates/{id}/status?proof=true).
func ExampleVerify() {
	trustFile, _ := os.ReadFile("testdata/validators.json")
	trust, err := receipt.ParseTrust(trustFile)
	if err != nil {
		panic(err)
	}
	raw, _ := os.ReadFile("testdata/receipt.json")
	r, err := receipt.Parse(raw)
	if err != nil {
		panic(err)
	}
	policy := receipt.Policy{
		MaxAge: 7 * 24 * time.Hour,
		Now:    time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), // the verifier's clock; zero means time.Now()
	}
	res, err := receipt.Verify(r, *trust, policy)
	if err != nil {
		fmt.Println("refused:", receipt.CodeOf(err), err)
		return
	}
	fmt.Println(res.Certificate, res.Status, "at height", res.Height)
	fmt.Println("signed by", res.SignedPower, "of", res.TotalPower, "voting power")
	// The credential the holder presents must be the anchored one.
	fmt.Println(res.CheckCredential([]byte("credential "+res.Certificate)) == nil)

	// The same receipt a week later is too old for this policy.
	policy.Now = policy.Now.Add(8 * 24 * time.Hour)
	_, err = receipt.Verify(r, *trust, policy)
	fmt.Println(receipt.CodeOf(err))
	// Output:
	// X0ASM9YW1A57P3T0 active at height 2
	// signed by 40 of 40 voting power
	// true
	// too_old
}
