package receipt_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/crypto/tmhash"
	cmtversion "github.com/cometbft/cometbft/proto/tendermint/version"
	"github.com/cometbft/cometbft/types"
	"github.com/cometbft/cometbft/version"
	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/internal/strictjson"
	"github.com/divoc/divoc/receipt"
)

// testChain is a ledger state (an IAVL tree written the way the app
// writes it, with the app's own types) and validators that sign headers
// over it: enough to build every document without a node.
type testChain struct {
	t       testing.TB
	chainID string
	privs   map[string]ed25519.PrivKey // by address
	vals    *types.ValidatorSet
	tree    *iavl.MutableTree
	time    time.Time
	// leaves of each batch, by batch key
	leaves map[string][][]byte
	certs  map[string]certAt
}

type certAt struct {
	at   app.BatchRef
	leaf []byte // canonical leaf JSON
	hash string
}

var genesisTime = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func valKeys(names ...string) []ed25519.PrivKey {
	out := make([]ed25519.PrivKey, len(names))
	for i, n := range names {
		out[i] = ed25519.GenPrivKeyFromSecret([]byte("validator " + n))
	}
	return out
}

func valSet(keys []ed25519.PrivKey, power int64) *types.ValidatorSet {
	vs := make([]*types.Validator, len(keys))
	for i, k := range keys {
		vs[i] = types.NewValidator(k.PubKey(), power)
	}
	return types.NewValidatorSet(vs)
}

func newTestChain(t testing.TB, validators ...string) *testChain {
	t.Helper()
	if len(validators) == 0 {
		validators = []string{"a", "b", "c", "d"}
	}
	keys := valKeys(validators...)
	c := &testChain{t: t, chainID: "divoc-test", privs: map[string]ed25519.PrivKey{}, vals: valSet(keys, 10),
		tree: iavl.NewMutableTree(idb.NewMemDB(), 10_000, false, iavl.NewNopLogger()), time: genesisTime,
		leaves: map[string][][]byte{}, certs: map[string]certAt{}}
	for _, k := range keys {
		c.privs[string(k.PubKey().Address())] = k
	}
	for _, k := range valKeys("e", "f", "g", "h") {
		c.privs[string(k.PubKey().Address())] = k
	}
	c.set("meta/chain", c.chainID)
	c.commit()
	return c
}

func (c *testChain) set(key string, v any) {
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	if _, err := c.tree.Set([]byte(key), b); err != nil {
		c.t.Fatal(err)
	}
}

// commit saves a version (a block) and returns its height.
func (c *testChain) commit() int64 {
	_, v, err := c.tree.SaveVersion()
	if err != nil {
		c.t.Fatal(err)
	}
	c.time = c.time.Add(5 * time.Second)
	return v
}

func (c *testChain) height() int64 { return c.tree.Version() }

func (c *testChain) totals() app.Totals {
	var t app.Totals
	if b, _ := c.tree.Get([]byte(receipt.TotalsKey)); b != nil {
		_ = json.Unmarshal(b, &t)
	}
	return t
}

// record writes a record batch of n events at the next height, tx 0, and
// returns the certificate ids.
func (c *testChain) record(n int) []string {
	h := c.height() + 1
	key := app.BatchKey(h, 0)
	var ids []string
	leaves := make([][]byte, n)
	for i := 0; i < n; i++ {
		id := certID(h, i)
		credHash := sha256.Sum256([]byte("credential " + id))
		l := app.RecordLeaf{Anchor: &app.Anchor{Certificate: id, Hash: hex.EncodeToString(credHash[:])}, Index: i, Result: app.OK,
			Event: app.Event{AgeBand: "18-44", Batch: "B-1", Commitment: hex.EncodeToString(credHash[:]), Date: "2026-11-30", Dose: 1,
				Program: "C19", Recipient: hex.EncodeToString(credHash[:]), Vaccinator: "V&<1>", Vaccine: "COVISHIELD", Priority: "general"}}
		b, _ := strictjson.Marshal(l)
		leaves[i] = l.Hash()
		ids = append(ids, id)
		c.certs[id] = certAt{at: app.BatchRef{Height: h, Tx: 0, Pos: i}, leaf: b, hash: l.Anchor.Hash}
	}
	c.leaves[key] = leaves
	c.set(key, app.BatchCommitment{Accepted: n, Facility: "F1", Issuer: "moh", Kind: app.KindRecord, Root: hex.EncodeToString(app.MerkleRoot(leaves)), Size: n, Tx: "ab"})
	t := c.totals()
	t.Certificates += int64(n)
	t.EventsAccepted += int64(n)
	c.set(receipt.TotalsKey, t)
	c.commit()
	return ids
}

// certID is a 16-character Crockford id that differs by height and position.
func certID(h int64, i int) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	sum := sha256.Sum256([]byte(fmt.Sprint(h, "/", i)))
	b := make([]byte, 16)
	for j := range b {
		b[j] = alphabet[sum[j]%32]
	}
	return string(b)
}

// revoke marks certificates revoked (or superseded, when by != "") at the
// next height, the way the app's revocation and correction write status.
func (c *testChain) revoke(by string, ids ...string) int64 {
	h := c.height() + 1
	t := c.totals()
	for _, id := range ids {
		st := app.CertStatus{Height: h, Reason: "issued in error", Status: app.CertRevoked}
		if by != "" {
			st.Status, st.SupersededBy, st.Reason = app.CertSuperseded, by, "name corrected"
			t.Supersessions++
		} else {
			t.Revocations++
		}
		c.set(app.StatusKey(id), st)
	}
	c.set(receipt.TotalsKey, t)
	return c.commit()
}

// attest signs the header of block h+1 over the state of height h, with
// the given signers (indexes in the validator set; all when nil).
func (c *testChain) attest(h int64, vals *types.ValidatorSet, signers ...int) receipt.Attestation {
	c.t.Helper()
	it, err := c.tree.GetImmutable(h)
	if err != nil {
		c.t.Fatal(err)
	}
	if vals == nil {
		vals = c.vals
	}
	sum := func(s string) []byte { return tmhash.Sum([]byte(s)) }
	ts := genesisTime.Add(time.Duration(h) * 5 * time.Second)
	hdr := &types.Header{
		Version: cmtversion.Consensus{Block: version.BlockProtocol}, ChainID: c.chainID, Height: h + 1, Time: ts,
		LastBlockID:    types.BlockID{Hash: sum(fmt.Sprint("block ", h)), PartSetHeader: types.PartSetHeader{Total: 1, Hash: sum("parts")}},
		LastCommitHash: sum("last commit"), DataHash: sum("data"), ValidatorsHash: vals.Hash(), NextValidatorsHash: vals.Hash(),
		ConsensusHash: sum("consensus"), AppHash: it.Hash(), LastResultsHash: sum("results"), EvidenceHash: sum("evidence"),
		ProposerAddress: vals.Proposer.Address,
	}
	bid := types.BlockID{Hash: hdr.Hash(), PartSetHeader: types.PartSetHeader{Total: 1, Hash: sum(fmt.Sprint("parts ", h+1))}}
	commit := &types.Commit{Height: h + 1, BlockID: bid, Signatures: make([]types.CommitSig, len(vals.Validators))}
	sign := map[int]bool{}
	for _, i := range signers {
		sign[i] = true
	}
	for i, v := range vals.Validators {
		if signers != nil && !sign[i] {
			commit.Signatures[i] = types.NewCommitSigAbsent()
			continue
		}
		commit.Signatures[i] = types.CommitSig{BlockIDFlag: types.BlockIDFlagCommit, ValidatorAddress: v.Address, Timestamp: ts.Add(time.Millisecond)}
	}
	for i, v := range vals.Validators {
		if commit.Signatures[i].BlockIDFlag != types.BlockIDFlagCommit {
			continue
		}
		sig, err := c.privs[string(v.Address)].Sign(commit.VoteSignBytes(c.chainID, int32(i)))
		if err != nil {
			c.t.Fatal(err)
		}
		commit.Signatures[i].Signature = sig
	}
	return receipt.Attestation{SignedHeader: &types.SignedHeader{Header: hdr, Commit: commit}, Validators: vals}
}

func (c *testChain) trust() receipt.Trust {
	return *receipt.NewTrust(c.chainID, c.vals, 1, "genesis")
}

// entry reads a key with its proof at height h.
func (c *testChain) entry(h int64, key string) receipt.Entry {
	c.t.Helper()
	it, err := c.tree.GetImmutable(h)
	if err != nil {
		c.t.Fatal(err)
	}
	v, err := it.Get([]byte(key))
	if err != nil {
		c.t.Fatal(err)
	}
	var p *ics23.CommitmentProof
	if v != nil {
		p, err = it.GetMembershipProof([]byte(key))
	} else {
		p, err = it.GetNonMembershipProof([]byte(key))
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return receipt.NewEntry(key, v, p)
}

// receipt builds the status receipt of id at height h (the way the node does).
func (c *testChain) receipt(h int64, id string, signers ...int) *receipt.Receipt {
	c.t.Helper()
	ca, ok := c.certs[id]
	if !ok {
		c.t.Fatalf("no certificate %s", id)
	}
	bk := app.BatchKey(ca.at.Height, ca.at.Tx)
	leaves := c.leaves[bk]
	aunts := app.MerkleProof(leaves, ca.at.Pos)
	path := receipt.MerklePath{Index: ca.at.Pos, Total: len(leaves)}
	for _, a := range aunts {
		path.Aunts = append(path.Aunts, a)
	}
	st := c.entry(h, app.StatusKey(id))
	status := receipt.StatusActive
	if st.Value != nil {
		var s app.CertStatus
		_ = json.Unmarshal(st.Value, &s)
		status = s.Status
	}
	return &receipt.Receipt{
		Type: receipt.TypeStatusReceipt, ChainID: c.chainID, Certificate: id, Status: status, Height: h,
		Anchor: receipt.Anchor{Height: ca.at.Height, Tx: ca.at.Tx, Pos: ca.at.Pos}, Leaf: ca.leaf, Path: path,
		Batch: c.entry(h, bk), StatusEntry: st, Attestation: c.attest(h, nil, signers...),
	}
}

// roundTrip marshals a document and parses it back, as a verifier gets it.
func roundTrip(t testing.TB, r *receipt.Receipt) *receipt.Receipt {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := receipt.Parse(b)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b)
	}
	return back
}

// policyAt is a policy whose clock is the chain's time at height h.
func policyAt(h int64) receipt.Policy {
	return receipt.Policy{MaxAge: time.Hour, Now: genesisTime.Add(time.Duration(h)*5*time.Second + time.Minute)}
}
