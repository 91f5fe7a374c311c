package node_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/node"
	"github.com/divoc/divoc/receipt"
)

// startReceiptNode starts a single-validator node with uploaded
// certificates and returns it with the ids of the accepted ones.
func startReceiptNode(t *testing.T, rpcListen string) (*node.Node, []string) {
	t.Helper()
	n, ds, home := newLocalNode(t, node.LocalOptions{Seed: 11, Facilities: 2, Certificates: 24, RPCListen: rpcListen}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fac := ds.Facilities[0].Code
	var token string
	for tok, f := range n.Service.FacilityTokens() {
		if f == fac {
			token = tok
		}
	}
	csv, err := os.ReadFile(filepath.Join(home, "gen-data", "certificates-"+fac+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	up, err := client.New("http://"+n.APIAddr, token).BulkCertify(ctx, csv, "", "", true)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	var ids []string
	for _, r := range up.Results {
		if r.Code == string(app.OK) && r.Certificate != "" {
			ids = append(ids, r.Certificate)
		}
	}
	if len(ids) < 4 {
		t.Fatalf("upload: %d certificates: %+v", len(ids), up)
	}
	return n, ids
}

func get(t *testing.T, n *node.Node, path string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + n.APIAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, b)
	}
	return b
}

func getReceipt(t *testing.T, n *node.Node, id string, minHeight int64) (*receipt.Receipt, []byte) {
	t.Helper()
	b := get(t, n, fmt.Sprintf("/v1/certificates/%s/status?proof=true&min_height=%d", id, minHeight))
	r, err := receipt.Parse(b)
	if err != nil {
		t.Fatalf("receipt of %s: %v", id, err)
	}
	return r, b
}

// Receipts from a real node verify offline against the validators it
// publishes, and fail with a reason when altered; after a revocation a
// fresh receipt says revoked and the old one is recognised as stale.
func TestStatusReceiptsFromANode(t *testing.T) {
	n, ids := startReceiptNode(t, "")
	ctx := context.Background()
	admin := client.New("http://"+n.APIAddr, n.Service.AdminToken())

	trust, err := receipt.ParseTrust(get(t, n, "/v1/trust/validators"))
	if err != nil {
		t.Fatal(err)
	}
	if trust.ChainID != n.App.ChainID() || len(trust.Validators.Validators) != 1 || trust.Source != "genesis" {
		t.Fatalf("trust: %+v", trust)
	}
	// The genesis file pins the same set.
	if g, err := receipt.ParseTrust(mustRead(t, n.Home.Genesis())); err != nil || !bytes.Equal(g.Validators.Hash(), trust.Validators.Hash()) {
		t.Fatalf("genesis.json as a trust file: %v", err)
	}
	cur, err := receipt.ParseTrust(get(t, n, "/v1/trust/validators?set=current"))
	if err != nil || !bytes.Equal(cur.Validators.Hash(), trust.Validators.Hash()) || cur.Source != "current" {
		t.Fatalf("current set: %+v %v", cur, err)
	}

	// Without proof: the status.
	var plain api.CertificateStatus
	if err := json.Unmarshal(get(t, n, "/v1/certificates/"+ids[0]+"/status"), &plain); err != nil || plain.Status != app.CertActive || plain.Anchor.Height < 1 {
		t.Fatalf("plain status: %+v %v", plain, err)
	}

	policy := receipt.Policy{MaxAge: 5 * time.Minute}
	r, raw := getReceipt(t, n, ids[0], 0)
	res, err := receipt.Verify(r, *trust, policy)
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, raw)
	}
	if !res.Active() || res.Certificate != ids[0] || res.Anchor.Height != plain.Anchor.Height || res.SignedPower != res.TotalPower {
		t.Fatalf("result: %+v", res)
	}
	cert, err := admin.Certificate(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := res.CheckCredential([]byte(cert.Credential)); err != nil {
		t.Fatalf("the receipt anchors another credential: %v", err)
	}
	t.Logf("receipt: %d bytes, height %d", len(raw), res.Height)

	// One byte changed in the entry, the proof, the header or a signature.
	tamper := func(name string, code receipt.Code, change func(r *receipt.Receipt)) {
		t.Helper()
		r, err := receipt.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		change(r)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r, err = receipt.Parse(b); err == nil {
			_, err = receipt.Verify(r, *trust, policy)
		}
		if receipt.CodeOf(err) != code {
			t.Errorf("%s: %v, want %s", name, err, code)
		}
	}
	tamper("entry: the leaf's dose", receipt.CodeMerklePath, func(r *receipt.Receipt) {
		var leaf map[string]any
		if err := json.Unmarshal(r.Leaf, &leaf); err != nil {
			t.Fatal(err)
		}
		ev := leaf["event"].(map[string]any)
		ev["dose"] = ev["dose"].(float64) + 1
		r.Leaf, _ = json.Marshal(leaf)
	})
	tamper("entry: the status shown", receipt.CodeStatusProof, func(r *receipt.Receipt) {
		r.StatusEntry.Value = json.RawMessage(`{"height":1,"reason":"x","status":"revoked"}`)
	})
	tamper("proof: the batch value", receipt.CodeBatchProof, func(r *receipt.Receipt) { r.Batch.Proof.GetExist().Value[2] ^= 1 })
	tamper("proof: an inner node", receipt.CodeBatchProof, func(r *receipt.Receipt) {
		p := r.Batch.Proof.GetExist().Path
		p[len(p)-1].Prefix[1] ^= 1
	})
	tamper("header: app hash", receipt.CodeCommitMismatch, func(r *receipt.Receipt) { r.Attestation.SignedHeader.AppHash[31] ^= 1 })
	tamper("signature", receipt.CodeBadSignature, func(r *receipt.Receipt) { r.Attestation.SignedHeader.Commit.Signatures[0].Signature[0] ^= 1 })
	tamper("signature dropped", receipt.CodeInsufficientPower, func(r *receipt.Receipt) {
		r.Attestation.SignedHeader.Commit.Signatures[0] = types.NewCommitSigAbsent()
	})
	// Too old for the policy.
	late := policy
	late.Now = res.Time.Add(10 * time.Minute)
	if _, err := receipt.Verify(r, *trust, late); receipt.CodeOf(err) != receipt.CodeTooOld {
		t.Errorf("a receipt older than the policy: %v", err)
	}

	// Revoke: a fresh receipt says revoked; the old one is stale.
	revoked, err := admin.Revoke(ctx, ids[0], "issued in error")
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := getReceipt(t, n, ids[0], 0) // the node waits for the header covering the revocation
	fres, err := receipt.Verify(fresh, *trust, policy)
	if err != nil {
		t.Fatal(err)
	}
	if fres.Active() || fres.Status != receipt.StatusRevoked || fres.StatusHeight != revoked.StatusHeight || fres.Height < revoked.StatusHeight {
		t.Fatalf("fresh receipt: %+v (revoked at %d)", fres, revoked.StatusHeight)
	}
	stale := policy
	stale.MinHeight = fres.StatusHeight
	if _, err := receipt.Verify(r, *trust, stale); receipt.CodeOf(err) != receipt.CodeStaleHeight {
		t.Errorf("the old active receipt against the revocation's height: %v", err)
	}

	// A correction: the new certificate's receipt proves the correction's
	// leaf, the old one's says superseded.
	fixed, err := admin.Correct(ctx, ids[1], api.Correction{Reason: "name misspelt", Name: "Corrected Name"})
	if err != nil {
		t.Fatal(err)
	}
	nr, _ := getReceipt(t, n, fixed.ID, 0)
	nres, err := receipt.Verify(nr, *trust, policy)
	if err != nil || !nres.Active() || nres.Kind != app.KindSupersede || nres.Replaces != ids[1] || nres.CheckCredential([]byte(fixed.Credential)) != nil {
		t.Fatalf("corrected certificate's receipt: %+v %v", nres, err)
	}
	or, _ := getReceipt(t, n, ids[1], 0)
	if ores, err := receipt.Verify(or, *trust, policy); err != nil || ores.Status != receipt.StatusSuperseded || ores.SupersededBy != fixed.ID {
		t.Fatalf("superseded certificate's receipt: %+v %v", ores, err)
	}

	// The trust list proves the issuer key that signed the credentials.
	tl, err := receipt.ParseTrustList(get(t, n, "/v1/trust/list"))
	if err != nil {
		t.Fatal(err)
	}
	tres, err := receipt.VerifyTrustList(tl, *trust, policy)
	if err != nil {
		t.Fatal(err)
	}
	kid := jwtKID(t, cert.Credential)
	found := false
	for _, k := range tres.Issuers() {
		found = found || (k.KID == kid && k.Status == "active" && k.Owner == "authority/"+n.Settings.IssuerID)
	}
	if !found {
		t.Fatalf("trust list lacks the issuer key %s: %+v", kid, tres.Keys)
	}
	if want := len(n.App.Committed().FormatKeys(app.FormatDCC)); len(tres.DCCSigners()) != want {
		t.Fatalf("trust list has %d EU DCC signers, the ledger %d", len(tres.DCCSigners()), want)
	}
	t.Logf("trust list: %d issuer keys, %d format keys", len(tres.Keys), len(tres.FormatKeys))

	// The revocation snapshot lists the revoked and the superseded.
	rs, err := receipt.ParseRevocationSnapshot(get(t, n, "/v1/revocations/snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := receipt.VerifyRevocationSnapshot(rs, *trust, policy)
	if err != nil {
		t.Fatal(err)
	}
	if list.Status(ids[0]) != receipt.StatusRevoked || list.Status(ids[1]) != receipt.StatusSuperseded || list.Status(ids[2]) != receipt.StatusActive {
		t.Fatalf("snapshot at %d: revoked %v, superseded %v", list.Height, rs.Revoked.IDs(), rs.Superseded.IDs())
	}

	// Unknown certificates and bad parameters are problems.
	for path, want := range map[string]int{
		"/v1/certificates/NOSUCHCERTIFICATE/status?proof=true":            404,
		"/v1/certificates/" + ids[2] + "/status?proof=maybe":              400,
		"/v1/certificates/" + ids[2] + "/status?proof=true&min_height=-1": 400,
		"/v1/trust/validators?set=tomorrow":                               400,
	} {
		resp, err := http.Get("http://" + n.APIAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %s %s, want %d problem", path, resp.Status, resp.Header.Get("Content-Type"), want)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwtKID reads the kid of a JWS's protected header.
func jwtKID(t *testing.T, jws string) string {
	t.Helper()
	h, _, _ := strings.Cut(jws, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(b, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.KID
}
