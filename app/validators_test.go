package app

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
)

func TestValidatorChanges(t *testing.T) {
	v1 := seedKey("validator-1").Public().(ed25519.PublicKey)
	v2 := seedKey("validator-2").Public().(ed25519.PublicKey)
	tc := newTestChain(t) // no validators recorded in its state

	add := NewValidator(v2, 5, "state agency")
	r := tc.govern(KindSetValidator, SetValidatorStatement{Validator: add})
	if r.Code != OK {
		t.Fatalf("add: %+v", r)
	}
	// The block's update is reported for CometBFT, and the set is state.
	if got := tc.app.Committed().Validators(); len(got) != 1 || got[0].Address != add.Address || got[0].Power != 5 {
		t.Fatalf("validators after add: %+v", got)
	}
	// Removing an unknown validator, or the last one, is refused.
	unknown := NewValidator(v1, 0, "")
	if r := tc.block(tc.tx(KindSetValidator, tc.part(TypSetValidator, tc.gov, SetValidatorStatement{Validator: unknown})))[0]; r.Code != CodeInvalidRegistry {
		t.Fatalf("removing an unknown validator: %s %s", r.Code, r.Reason)
	}
	last := add
	last.Power = 0
	if r := tc.block(tc.tx(KindSetValidator, tc.part(TypSetValidator, tc.gov, SetValidatorStatement{Validator: last})))[0]; r.Code != CodeInvalidRegistry {
		t.Fatalf("removing the last validator: %s %s", r.Code, r.Reason)
	}
	// A wrong address or power is refused before any state is read.
	bad := add
	bad.Address = "00"
	if r := tc.block(tc.tx(KindSetValidator, tc.part(TypSetValidator, tc.gov, SetValidatorStatement{Validator: bad})))[0]; r.Code != CodeInvalidRegistry {
		t.Fatalf("wrong address: %s", r.Code)
	}
	// Only governance may change validators.
	if r := tc.block(tc.tx(KindSetValidator, tc.part(TypSetValidator, tc.issuer, SetValidatorStatement{Validator: NewValidator(v1, 1, "")})))[0]; r.Code != CodeUnauthorized {
		t.Fatalf("validator change by an issuer key: %s", r.Code)
	}
}

// InitChain records CometBFT's genesis validators, and the updates of a
// block are what FinalizeBlock left for CometBFT.
func TestGenesisValidatorsAndUpdates(t *testing.T) {
	v1 := seedKey("validator-1").Public().(ed25519.PublicKey)
	v2 := seedKey("validator-2").Public().(ed25519.PublicKey)
	tc := newTestChain(t)
	tc.app.Close()
	tc.dir = t.TempDir()
	tc.height = 0
	tc.open()
	gb, _ := json.Marshal(tc.genesis)
	if _, err := tc.app.InitChain(tc.chain, gb, tc.now, NewValidator(v1, 10, "moh")); err != nil {
		t.Fatal(err)
	}
	tc.block()
	if got := tc.app.Committed().Validators(); len(got) != 1 || got[0].Power != 10 {
		t.Fatalf("genesis validators: %+v", got)
	}
	tx := tc.tx(KindSetValidator, tc.part(TypSetValidator, tc.gov, SetValidatorStatement{Validator: NewValidator(v2, 3, "kar")}))
	tc.height++
	if _, _, err := tc.app.FinalizeBlock(Block{Height: tc.height, Time: tc.now, Txs: [][]byte{tx}}); err != nil {
		t.Fatal(err)
	}
	ups := tc.app.ValidatorUpdates()
	if len(ups) != 1 || ups[0].Power != 3 || ups[0].Address != ValidatorAddress(v2) {
		t.Fatalf("updates: %+v", ups)
	}
	if err := tc.app.Commit(); err != nil {
		t.Fatal(err)
	}
	// Removing v1 now leaves v2: allowed.
	rm := NewValidator(v1, 0, "")
	if r := tc.block(tc.tx(KindSetValidator, tc.part(TypSetValidator, tc.gov, SetValidatorStatement{Validator: rm})))[0]; r.Code != OK {
		t.Fatalf("remove: %s %s", r.Code, r.Reason)
	}
	if got := tc.app.Committed().Validators(); len(got) != 1 || got[0].Address != ValidatorAddress(v2) {
		t.Fatalf("after removal: %+v", got)
	}
}
