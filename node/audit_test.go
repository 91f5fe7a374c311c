package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
)

// GET /v1/audit/certificates/{id}: the history of a certificate, a revoked
// one, and a corrected one with its correction, each step with the signed
// part from its block (whose signature checks against the ledger's key),
// the leaf's Merkle path to the batch root, and ICS23 proofs of the batch
// commitment and of the status entry (or its absence) against the app
// hash that the next block's header carries.
func TestAuditCertificateHistory(t *testing.T) {
	n, _ := startLocal(t, 40, 0)
	h := n.Home
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := "http://" + n.APIAddr
	pub := client.New(base, "")
	admin := client.New(base, n.Service.AdminToken())
	reg, err := pub.Registry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fac := facilityOf(t, h, reg.Facilities[0].Code)
	rows := facilityRows(t, h, fac.Code)
	up, err := uploadRows(ctx, pub, fac, rows)
	if err != nil || up.Accepted != len(rows) || len(rows) < 3 {
		t.Fatalf("upload: %+v %v", up, err)
	}
	plain, revoked, corrected := up.Results[0].Certificate, up.Results[1].Certificate, up.Results[2].Certificate
	if _, err := admin.Revoke(ctx, revoked, "issued_in_error"); err != nil {
		t.Fatal(err)
	}
	fixed, err := admin.Correct(ctx, corrected, api.Correction{Reason: "data_correction", Name: "Lakshmi Devi"})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		id     string
		status string
		types  []string
		hist   api.CertificateHistory
	}{
		{id: plain, status: app.CertActive, types: []string{api.EntryVaccination, api.EntryAnchor}},
		{id: revoked, status: app.CertRevoked, types: []string{api.EntryVaccination, api.EntryAnchor, api.EntryRevocation}},
		{id: corrected, status: app.CertSuperseded, types: []string{api.EntryVaccination, api.EntryAnchor, api.EntrySupersession}},
		{id: fixed.ID, status: app.CertActive, types: []string{api.EntryVaccination, api.EntryAnchor}},
	}
	var top int64
	for i := range cases {
		getJSON(ctx, t, base+"/v1/audit/certificates/"+cases[i].id, &cases[i].hist)
		top = max(top, cases[i].hist.Height)
	}
	// The app hash the proofs lead to is the one block height+1 signs.
	if err := n.WaitHeight(ctx, top+1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		hist := tc.hist
		if hist.ID != tc.id || hist.Status != tc.status || len(hist.Entries) != len(tc.types) {
			t.Fatalf("history of %s: status %s, %d entries; want %s and %v", tc.id, hist.Status, len(hist.Entries), tc.status, tc.types)
		}
		next := n.Comet.BlockStore().LoadBlock(hist.Height + 1)
		root, _ := hex.DecodeString(hist.AppHash)
		if next == nil || !bytes.Equal(next.AppHash, root) {
			t.Fatalf("history of %s: app hash %s at %d, block %d's header says %X", tc.id, hist.AppHash, hist.Height, hist.Height+1, next.AppHash)
		}
		for i, e := range hist.Entries {
			if e.Type != tc.types[i] {
				t.Fatalf("history of %s: entry %d is %s, want %s", tc.id, i, e.Type, tc.types[i])
			}
			blk := n.Comet.BlockStore().LoadBlock(e.Height)
			if blk == nil || e.Tx >= len(blk.Txs) || !blk.Time.Equal(e.Time) {
				t.Fatalf("%s %s: no transaction %d at height %d with time %s", tc.id, e.Type, e.Tx, e.Height, e.Time)
			}
			if sum := sha256.Sum256(blk.Txs[e.Tx]); !bytes.EqualFold([]byte(hex.EncodeToString(sum[:])), []byte(e.TxHash)) {
				t.Fatalf("%s %s: tx hash %s, the block's transaction hashes to %X", tc.id, e.Type, e.TxHash, sum)
			}
			tx, _ := app.DecodeTx(blk.Txs[e.Tx], 0)
			found := false
			for _, p := range tx.Parts {
				found = found || p == e.Part
			}
			if !found {
				t.Fatalf("%s %s: the part is not in the block's transaction", tc.id, e.Type)
			}
			// The part's signature, against the key the ledger registers.
			k := n.App.Committed().Key(e.KID)
			if k == nil || k.Owner != e.Signer {
				t.Fatalf("%s %s: signer %s key %s not on the ledger", tc.id, e.Type, e.Signer, e.KID)
			}
			pubKey, _ := k.PublicKey()
			sig, _ := base64.RawURLEncoding.DecodeString(e.Part.Signature)
			if !ed25519.Verify(pubKey, e.Part.SigningInput(), sig) {
				t.Fatalf("%s %s: the part's signature does not verify", tc.id, e.Type)
			}
			wantSigner := map[string]string{api.EntryVaccination: app.FacilityOwner(fac.Code)}[e.Type]
			if wantSigner == "" {
				wantSigner = app.AuthorityOwner(n.Settings.IssuerID)
			}
			if e.Signer != wantSigner {
				t.Fatalf("%s %s: signed by %s, want %s", tc.id, e.Type, e.Signer, wantSigner)
			}
			// The batch commitment, proven against the app hash.
			if !e.State.Exists || !verifyMembership(root, e.State) {
				t.Fatalf("%s %s: the proof of %s does not verify against %s", tc.id, e.Type, e.State.Key, hist.AppHash)
			}
			var bc app.BatchCommitment
			if err := json.Unmarshal(e.State.Value, &bc); err != nil {
				t.Fatal(err)
			}
			// The item's leaf, up its Merkle path to that commitment's root.
			if e.Leaf == nil {
				t.Fatalf("%s %s: no leaf", tc.id, e.Type)
			}
			if lh := app.LeafHash(e.Leaf.Bytes); hex.EncodeToString(lh) != e.Leaf.Hash || e.Leaf.Root != bc.Root {
				t.Fatalf("%s %s: leaf hash %s (recomputed %x), root %s, commitment root %s", tc.id, e.Type, e.Leaf.Hash, lh, e.Leaf.Root, bc.Root)
			}
			var aunts [][]byte
			for _, a := range e.Leaf.Aunts {
				b, _ := hex.DecodeString(a)
				aunts = append(aunts, b)
			}
			rootB, _ := hex.DecodeString(bc.Root)
			leafB, _ := hex.DecodeString(e.Leaf.Hash)
			if !app.VerifyMerkleProof(rootB, leafB, e.Leaf.Index, e.Leaf.Total, aunts) {
				t.Fatalf("%s %s: the Merkle path does not lead to the batch root", tc.id, e.Type)
			}
		}
		sp := hist.StatusProof
		if sp.Key != app.StatusKey(tc.id) || sp.Exists != (tc.status != app.CertActive) {
			t.Fatalf("%s: status proof of %s, exists %v", tc.id, sp.Key, sp.Exists)
		}
		if sp.Exists && !verifyMembership(root, sp) || !sp.Exists && !verifyNonMembership(root, sp) {
			t.Fatalf("%s: the status proof does not verify", tc.id)
		}
	}

	resp, err := http.Get(base + "/v1/audit/certificates/0000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown certificate: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
}

func getJSON(ctx context.Context, t *testing.T, url string, v any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func verifyMembership(root []byte, sp api.StateProof) bool {
	var p ics23.CommitmentProof
	if p.Unmarshal(sp.Proof) != nil {
		return false
	}
	return ics23.VerifyMembership(ics23.IavlSpec, root, &p, []byte(sp.Key), sp.Value)
}

func verifyNonMembership(root []byte, sp api.StateProof) bool {
	var p ics23.CommitmentProof
	if p.Unmarshal(sp.Proof) != nil {
		return false
	}
	return ics23.VerifyNonMembership(ics23.IavlSpec, root, &p, []byte(sp.Key))
}
