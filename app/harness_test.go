package app

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// testChain is a genesis with one authority (governance and issuer), two
// facilities and their vaccinators, two programs and three vaccines, and the
// keys to sign for all of them. Keys are derived from fixed seeds so that
// runs are reproducible.
type testChain struct {
	t       testing.TB
	app     *App
	dir     string
	chain   string
	now     time.Time
	height  int64
	gov     ed25519.PrivateKey
	issuer  ed25519.PrivateKey
	fac     map[string]ed25519.PrivateKey
	nonce   int
	genesis Genesis
}

func seedKey(name string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("divoc test key " + name))
	return ed25519.NewKeyFromSeed(s[:])
}

func pubSpec(k ed25519.PrivateKey, role string) KeySpec {
	return KeySpec{Public: b64.EncodeToString(k.Public().(ed25519.PublicKey)), Role: role}
}

func kidOf(k ed25519.PrivateKey) string { return Ed25519KID(k.Public().(ed25519.PublicKey)) }

func testGenesis(gov, issuer ed25519.PrivateKey, fac map[string]ed25519.PrivateKey) Genesis {
	return Genesis{
		Params: DefaultParams(),
		Authorities: []GenesisAuthority{{
			Authority: Authority{ID: "moh", Name: "Ministry of Health", Roles: []string{RoleGovernance, RoleIssuer}, Status: StatusActive},
			Keys:      []KeySpec{pubSpec(gov, RoleGovernance), pubSpec(issuer, RoleIssuer)},
		}},
		Vaccines: []Vaccine{
			{Code: "COVISHIELD", Name: "Covishield", Manufacturer: "Serum Institute of India", Doses: 2, Boosters: 1, MinIntervalDays: 84, Status: StatusActive},
			{Code: "COVAXIN", Name: "Covaxin", Manufacturer: "Bharat Biotech", Doses: 2, MinIntervalDays: 28, Status: StatusActive},
			{Code: "MR", Name: "MR-VAC", Manufacturer: "Serum Institute of India", Doses: 2, MinIntervalDays: 28, Status: StatusActive},
			{Code: "OLDVAX", Name: "Withdrawn", Manufacturer: "X", Doses: 1, Status: StatusSuspended},
		},
		Programs: []Program{
			{ID: "C19", Name: "COVID-19 vaccination", Disease: "COVID-19", Vaccines: []string{"COVISHIELD", "COVAXIN", "OLDVAX"}, Status: StatusActive},
			{ID: "MR", Name: "Measles-Rubella campaign", Disease: "Measles", Vaccines: []string{"MR"}, Status: StatusActive},
		},
		Facilities: []GenesisFacility{
			{Facility: Facility{Code: "DEL010", Name: "Final Destination", Category: "GOVT", Type: "Fixed location", State: "Delhi", District: "Delhi", Pincode: "100001", Programs: []string{"C19", "MR"}, Status: StatusActive}, Keys: []KeySpec{pubSpec(fac["DEL010"], RoleFacility)}},
			{Facility: Facility{Code: "BLR311", Name: "Chinmaya Mission Hospital", Category: "PRIVATE", Type: "Fixed location", State: "Karnataka", District: "Bengaluru", Pincode: "560001", Programs: []string{"C19"}, Status: StatusActive}, Keys: []KeySpec{pubSpec(fac["BLR311"], RoleFacility)}},
			{Facility: Facility{Code: "SUS001", Name: "Suspended Clinic", Category: "PRIVATE", Type: "Mobile", State: "Goa", District: "Panaji", Pincode: "403001", Programs: []string{"C19"}, Status: StatusSuspended}, Keys: []KeySpec{pubSpec(fac["SUS001"], RoleFacility)}},
		},
		Vaccinators: []Vaccinator{
			{Code: "A1", Facilities: []string{"DEL010", "BLR311"}, Status: StatusActive},
			{Code: "A2", Facilities: []string{"BLR311"}, Status: StatusActive},
			{Code: "A9", Facilities: []string{"SUS001"}, Status: StatusActive},
		},
	}
}

func newTestChain(t testing.TB) *testChain { return newTestChainWith(t, nil) }

// newTestChainWith lets a test change the genesis first.
func newTestChainWith(t testing.TB, mod func(*Genesis)) *testChain {
	t.Helper()
	fac := map[string]ed25519.PrivateKey{"DEL010": seedKey("DEL010"), "BLR311": seedKey("BLR311"), "SUS001": seedKey("SUS001")}
	tc := &testChain{t: t, dir: t.TempDir(), chain: "divoc-test", now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		gov: seedKey("gov"), issuer: seedKey("issuer"), fac: fac}
	tc.genesis = testGenesis(tc.gov, tc.issuer, fac)
	if mod != nil {
		mod(&tc.genesis)
	}
	tc.open()
	gb, _ := json.Marshal(tc.genesis)
	if _, err := tc.app.InitChain(tc.chain, gb, tc.now); err != nil {
		t.Fatalf("InitChain: %v", err)
	}
	tc.block() // height 1: genesis state committed
	return tc
}

func (tc *testChain) open() {
	a, err := Open(Options{Dir: tc.dir, CacheSize: 10_000})
	if err != nil {
		tc.t.Fatalf("Open: %v", err)
	}
	tc.app = a
	tc.t.Cleanup(func() { a.Close() })
}

// block executes and commits a block of txs, a minute after the last one.
func (tc *testChain) block(txs ...[]byte) []*TxResult {
	tc.t.Helper()
	tc.height++
	tc.now = tc.now.Add(time.Minute)
	res, _, err := tc.app.FinalizeBlock(Block{Height: tc.height, Time: tc.now, Txs: txs})
	if err != nil {
		tc.t.Fatalf("FinalizeBlock %d: %v", tc.height, err)
	}
	if err := tc.app.Commit(); err != nil {
		tc.t.Fatalf("Commit %d: %v", tc.height, err)
	}
	return res
}

func (tc *testChain) nextNonce() string {
	tc.nonce++
	var b [12]byte
	binary.BigEndian.PutUint64(b[4:], uint64(tc.nonce))
	return b64.EncodeToString(b[:]) + "xx"
}

func signer(k ed25519.PrivateKey) func([]byte) ([]byte, error) {
	return func(m []byte) ([]byte, error) { return ed25519.Sign(k, m), nil }
}

func (tc *testChain) part(typ string, k ed25519.PrivateKey, stmt any) Part {
	tc.t.Helper()
	p, err := SignPart(typ, tc.chain, kidOf(k), tc.nextNonce(), tc.now.Unix(), stmt, signer(k))
	if err != nil {
		tc.t.Fatal(err)
	}
	return p
}

func (tc *testChain) tx(kind string, parts ...Part) []byte {
	return (&Tx{Kind: kind, Parts: parts}).Encode()
}

func hexOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// event is a valid event at DEL010 for recipient r, dose d, of COVISHIELD.
func (tc *testChain) event(r string, d int) Event {
	return Event{AgeBand: "18-44", Batch: "4121Z025", Commitment: hexOf("commit " + r), Date: tc.now.Format(time.DateOnly),
		Dose: d, Program: "C19", Recipient: hexOf("recipient " + r), Vaccinator: "A1", Vaccine: "COVISHIELD"}
}

// record builds a record tx for facility fac with anchors certificate ids
// "cert-<recipient seed>-<i>".
func (tc *testChain) record(fac string, events []Event, withAnchors bool) []byte {
	stmt := RecordStatement{Events: events, Facility: fac}
	p0 := tc.part(TypRecord, tc.fac[fac], stmt)
	if !withAnchors {
		return tc.tx(KindRecord, p0)
	}
	payload, _ := b64.DecodeString(p0.Payload)
	anc := AnchorStatement{Events: payloadDigest(payload), Issuer: "moh"}
	for i, ev := range events {
		anc.Anchors = append(anc.Anchors, Anchor{Certificate: fmt.Sprintf("cert%s%d%02d", ev.Recipient[:8], ev.Dose, i), Hash: hexOf("credential " + ev.Recipient + fmt.Sprint(ev.Dose))})
	}
	return tc.tx(KindRecord, p0, tc.part(TypAnchors, tc.issuer, anc))
}

func mustOK(t *testing.T, r *TxResult) {
	t.Helper()
	if r.Code != OK {
		t.Fatalf("tx rejected: %s: %s", r.Code, r.Reason)
	}
}
