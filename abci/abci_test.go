package abci

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/divoc/divoc/app"
)

func key(seed string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(seed))
	return ed25519.NewKeyFromSeed(s[:])
}

func spec(k ed25519.PrivateKey, role string) app.KeySpec {
	return app.KeySpec{Public: base64.RawURLEncoding.EncodeToString(k.Public().(ed25519.PublicKey)), Role: role}
}

// chain is an ABCI application over a real app with a small genesis.
type chain struct {
	t        *testing.T
	abci     *Application
	gov, fac ed25519.PrivateKey
	height   int64
	now      time.Time
}

func newChain(t *testing.T) *chain {
	a, err := app.Open(app.Options{Dir: t.TempDir(), MaxTxBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return newChainOn(t, a)
}

// newChainOn starts the chain on an opened app.
func newChainOn(t *testing.T, a *app.App) *chain {
	c := &chain{t: t, abci: New(a), gov: key("gov"), fac: key("fac"), now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	g := app.Genesis{
		Params:      app.DefaultParams(),
		Authorities: []app.GenesisAuthority{{Authority: app.Authority{ID: "moh", Name: "MoH", Roles: []string{app.RoleGovernance, app.RoleIssuer}, Status: app.StatusActive}, Keys: []app.KeySpec{spec(c.gov, app.RoleGovernance), spec(key("iss"), app.RoleIssuer)}}},
		Vaccines:    []app.Vaccine{{Code: "V1", Name: "Vax", Manufacturer: "M", Doses: 2, Status: app.StatusActive}},
		Programs:    []app.Program{{ID: "P1", Name: "Program", Vaccines: []string{"V1"}, Status: app.StatusActive}},
		Facilities:  []app.GenesisFacility{{Facility: app.Facility{Code: "F1", Name: "Clinic", Programs: []string{"P1"}, Status: app.StatusActive}, Keys: []app.KeySpec{spec(c.fac, app.RoleFacility)}}},
		Vaccinators: []app.Vaccinator{{Code: "N1", Facilities: []string{"F1"}, Status: app.StatusActive}},
	}
	gb, _ := json.Marshal(g)
	ctx := context.Background()
	if _, err := c.abci.InitChain(ctx, &abcitypes.RequestInitChain{ChainId: "t", AppStateBytes: gb, Time: c.now}); err != nil {
		t.Fatal(err)
	}
	c.block()
	return c
}

func (c *chain) block(txs ...[]byte) *abcitypes.ResponseFinalizeBlock {
	c.t.Helper()
	c.height++
	c.now = c.now.Add(time.Second)
	ctx := context.Background()
	res, err := c.abci.FinalizeBlock(ctx, &abcitypes.RequestFinalizeBlock{Height: c.height, Time: c.now, Txs: txs})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.abci.Commit(ctx, &abcitypes.RequestCommit{}); err != nil {
		c.t.Fatal(err)
	}
	return res
}

func (c *chain) record(recipient string) []byte {
	h := sha256.Sum256([]byte(recipient))
	hx := hexOf(h[:])
	ev := app.Event{Batch: "B1", Commitment: hx, Date: c.now.Format(time.DateOnly), Dose: 1, Program: "P1", Recipient: hx, Vaccinator: "N1", Vaccine: "V1"}
	p, err := app.SignPart(app.TypRecord, "t", app.Ed25519KID(c.fac.Public().(ed25519.PublicKey)), "nonce-"+recipient+"-0123456789", c.now.Unix(),
		app.RecordStatement{Events: []app.Event{ev}, Facility: "F1"}, func(m []byte) ([]byte, error) { return ed25519.Sign(c.fac, m), nil })
	if err != nil {
		c.t.Fatal(err)
	}
	return (&app.Tx{Kind: app.KindRecord, Parts: []app.Part{p}}).Encode()
}

func hexOf(b []byte) string {
	const d = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, d[x>>4], d[x&15])
	}
	return string(out)
}

// A state query with prove=true answers with an ICS23 proof that verifies
// against the app hash the chain committed, both for presence and absence.
func TestQueryProofsVerifyAgainstAppHash(t *testing.T) {
	c := newChain(t)
	res := c.block(c.record("alice"))
	if res.TxResults[0].Code != 0 {
		t.Fatalf("tx refused: %s", res.TxResults[0].Log)
	}
	var sum TxSummary
	if err := json.Unmarshal(res.TxResults[0].Data, &sum); err != nil || sum.Accepted != 1 || sum.Batch == nil {
		t.Fatalf("tx summary: %+v %v", sum, err)
	}
	info, _ := c.abci.Info(context.Background(), &abcitypes.RequestInfo{})
	ctx := context.Background()

	q, err := c.abci.Query(ctx, &abcitypes.RequestQuery{Path: "/store", Data: []byte(sum.Batch.Key), Prove: true})
	if err != nil || q.Code != 0 || q.Value == nil || q.Height != info.LastBlockHeight {
		t.Fatalf("query: %+v %v", q, err)
	}
	var proof ics23.CommitmentProof
	if err := proof.Unmarshal(q.ProofOps.Ops[0].Data); err != nil {
		t.Fatal(err)
	}
	if !ics23.VerifyMembership(ics23.IavlSpec, info.LastBlockAppHash, &proof, q.Key, q.Value) {
		t.Fatal("membership proof does not verify against the app hash")
	}
	if ics23.VerifyMembership(ics23.IavlSpec, info.LastBlockAppHash, &proof, q.Key, append([]byte{}, append(q.Value, ' ')...)) {
		t.Fatal("membership proof verifies a different value")
	}

	absent := []byte(app.StatusKey("NOSUCHCERTIFICATE"))
	q, err = c.abci.Query(ctx, &abcitypes.RequestQuery{Path: "/store", Data: absent, Prove: true})
	if err != nil || q.Code != 0 || q.Value != nil {
		t.Fatalf("absent query: %+v %v", q, err)
	}
	var np ics23.CommitmentProof
	if err := np.Unmarshal(q.ProofOps.Ops[0].Data); err != nil {
		t.Fatal(err)
	}
	if !ics23.VerifyNonMembership(ics23.IavlSpec, info.LastBlockAppHash, &np, absent) {
		t.Fatal("non-membership proof does not verify against the app hash")
	}

	if q, _ := c.abci.Query(ctx, &abcitypes.RequestQuery{Path: "/nope"}); q.Code == 0 {
		t.Fatal("unknown path answered")
	}
}

// Threat 21: a proposal carrying a transaction no honest proposer would
// include is rejected; PrepareProposal leaves such transactions out.
func TestProposalsRefuseMalformedTransactions(t *testing.T) {
	c := newChain(t)
	ctx := context.Background()
	good := c.record("bob")
	for name, txs := range map[string][][]byte{
		"garbage":            {good, []byte("not a transaction")},
		"unknown kind":       {[]byte(`{"kind":"x/v1","parts":[{"payload":"e30","protected":"e30","signature":"AA"}]}`)},
		"larger than limits": {make([]byte, 65<<10)},
	} {
		r, _ := c.abci.ProcessProposal(ctx, &abcitypes.RequestProcessProposal{Txs: txs, Height: c.height + 1})
		if r.Status != abcitypes.ResponseProcessProposal_REJECT {
			t.Errorf("%s: proposal accepted", name)
		}
	}
	r, _ := c.abci.ProcessProposal(ctx, &abcitypes.RequestProcessProposal{Txs: [][]byte{good}, Height: c.height + 1})
	if r.Status != abcitypes.ResponseProcessProposal_ACCEPT {
		t.Fatal("valid proposal rejected")
	}
	p, _ := c.abci.PrepareProposal(ctx, &abcitypes.RequestPrepareProposal{Txs: [][]byte{[]byte("junk"), good}, MaxTxBytes: 1 << 20})
	if len(p.Txs) != 1 || string(p.Txs[0]) != string(good) {
		t.Fatalf("PrepareProposal kept %d txs", len(p.Txs))
	}
}

// Threat 16: an oversized transaction is refused by CheckTx before parsing.
func TestCheckTxRefusesOversized(t *testing.T) {
	c := newChain(t)
	r, _ := c.abci.CheckTx(context.Background(), &abcitypes.RequestCheckTx{Tx: make([]byte, 65<<10)})
	if r.Code != app.CodeTooLarge.ABCI() || r.Codespace != Codespace {
		t.Fatalf("oversized tx: code %d %s", r.Code, r.Log)
	}
	r, _ = c.abci.CheckTx(context.Background(), &abcitypes.RequestCheckTx{Tx: c.record("carol")})
	if r.Code != 0 {
		t.Fatalf("valid tx refused: %s", r.Log)
	}
}

// Threat 20: one signer cannot fill the mempool; others are still admitted,
// and the signer is admitted again once its transactions commit.
func TestCheckTxLimitsPendingPerSigner(t *testing.T) {
	c := newChain(t)
	c.abci.MaxPendingPerSigner = 3
	ctx := context.Background()
	var admitted [][]byte
	for i := 0; i < 5; i++ {
		tx := c.record("spam" + string(rune('a'+i)))
		r, _ := c.abci.CheckTx(ctx, &abcitypes.RequestCheckTx{Tx: tx, Type: abcitypes.CheckTxType_New})
		if i < 3 && r.Code != 0 {
			t.Fatalf("tx %d refused: %s", i, r.Log)
		}
		if i >= 3 && r.Code != app.CodeRateLimited.ABCI() {
			t.Fatalf("tx %d admitted over the limit: %d %s", i, r.Code, r.Log)
		}
		if r.Code == 0 {
			admitted = append(admitted, tx)
		}
	}
	// Another signer (governance) is still served.
	other, err := app.SignPart(app.TypRegisterVaccinator, "t", app.Ed25519KID(c.gov.Public().(ed25519.PublicKey)), "nonce-gov-0123456789", c.now.Unix(),
		app.RegisterVaccinatorStatement{Vaccinator: app.Vaccinator{Code: "N2", Facilities: []string{"F1"}, Status: app.StatusActive}},
		func(m []byte) ([]byte, error) { return ed25519.Sign(c.gov, m), nil })
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := c.abci.CheckTx(ctx, &abcitypes.RequestCheckTx{Tx: (&app.Tx{Kind: app.KindRegisterVaccinator, Parts: []app.Part{other}}).Encode()}); r.Code != 0 {
		t.Fatalf("another signer refused: %s", r.Log)
	}
	c.block(admitted...)
	if r, _ := c.abci.CheckTx(ctx, &abcitypes.RequestCheckTx{Tx: c.record("later")}); r.Code != 0 {
		t.Fatalf("signer still limited after its transactions committed: %s", r.Log)
	}
}
