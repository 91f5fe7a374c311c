package app

import "testing"

// Key ids on the ledger are RFC 7638 thumbprints, as keys.Ed25519KID and
// every JOSE library compute them (RFC 8037 appendix A.3).
func TestEd25519KIDKnownAnswer(t *testing.T) {
	x, err := b64.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Ed25519KID(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("Ed25519KID = %s, want %s", got, want)
	}
}
