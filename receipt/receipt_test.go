package receipt_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	cmtmath "github.com/cometbft/cometbft/libs/math"
	"github.com/cometbft/cometbft/types"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/internal/strictjson"
	"github.com/divoc/divoc/receipt"
)

func wantCode(t *testing.T, what string, err error, code receipt.Code) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: verified, want %s", what, code)
		return
	}
	if got := receipt.CodeOf(err); got != code {
		t.Errorf("%s: %v, want code %s", what, err, code)
	}
}

// The state layout the receipts prove is the app's.
func TestKeysAreTheLedgers(t *testing.T) {
	if receipt.BatchKey(12, 3) != app.BatchKey(12, 3) || receipt.StatusKey("X") != app.StatusKey("X") {
		t.Fatal("batch or status key differs from the app's")
	}
	if receipt.FormatKeyKey(app.FormatDCC, "k1") != app.FormatKeyKey(app.FormatDCC, "k1") {
		t.Fatal("format key differs from the app's")
	}
	if receipt.AuthorityPrefix != app.PrefixAuthorities || receipt.KindRecord != app.KindRecord || receipt.KindSupersede != app.KindSupersede {
		t.Fatal("prefix or kind differs from the app's")
	}
	if receipt.StatusActive != app.CertActive || receipt.StatusRevoked != app.CertRevoked || receipt.StatusSuperseded != app.CertSuperseded {
		t.Fatal("status names differ")
	}
}

func TestReceiptVerifies(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(7)
	h := c.height()
	for _, id := range ids {
		r := roundTrip(t, c.receipt(h, id))
		res, err := receipt.Verify(r, c.trust(), policyAt(h))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !res.Active() || res.Certificate != id || res.Height != h || res.Kind != app.KindRecord || res.Issuer != "moh" || res.Facility != "F1" {
			t.Fatalf("result %+v", res)
		}
		if res.SignedPower != 40 || res.TotalPower != 40 {
			t.Errorf("power %d/%d", res.SignedPower, res.TotalPower)
		}
		if err := res.CheckCredential([]byte("credential " + id)); err != nil {
			t.Error(err)
		}
		wantCode(t, "another credential", res.CheckCredential([]byte("credential of someone else")), receipt.CodeCredentialMismatch)
	}
}

// Every way of altering a receipt fails, each with its reason.
func TestTamperedReceiptFails(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(5)
	other := c.record(3)
	h := c.height()
	id := ids[2]
	good := func() *receipt.Receipt { return roundTrip(t, c.receipt(h, id)) }
	if _, err := receipt.Verify(good(), c.trust(), policyAt(h)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(r *receipt.Receipt)
		code   receipt.Code
	}{
		{"leaf: event date", func(r *receipt.Receipt) {
			r.Leaf = bytes.Replace(r.Leaf, []byte("2026-11-30"), []byte("2026-11-29"), 1)
		}, receipt.CodeMerklePath},
		{"leaf: another certificate's leaf", func(r *receipt.Receipt) {
			r.Leaf = c.certs[ids[3]].leaf
		}, receipt.CodeMerklePath},
		{"leaf: its own index", func(r *receipt.Receipt) {
			r.Leaf = bytes.Replace(r.Leaf, []byte(`"index":2`), []byte(`"index":3`), 1)
		}, receipt.CodeMerklePath},
		{"receipt: another certificate id", func(r *receipt.Receipt) { r.Certificate = ids[3] }, receipt.CodeEntryMismatch},
		{"receipt: status says revoked", func(r *receipt.Receipt) { r.Status = receipt.StatusRevoked }, receipt.CodeEntryMismatch},
		{"receipt: height", func(r *receipt.Receipt) { r.Height-- }, receipt.CodeHeightMismatch},
		{"anchor: position", func(r *receipt.Receipt) { r.Anchor.Pos = 3 }, receipt.CodeMerklePath},
		{"anchor: another batch", func(r *receipt.Receipt) { r.Anchor.Height = c.certs[other[0]].at.Height }, receipt.CodeBatchProof},
		{"path: an aunt", func(r *receipt.Receipt) { r.Path.Aunts[0][5] ^= 1 }, receipt.CodeMerklePath},
		{"path: total", func(r *receipt.Receipt) { r.Path.Total = 4 }, receipt.CodeMerklePath},
		{"batch: value shown", func(r *receipt.Receipt) {
			r.Batch.Value = bytes.Replace(r.Batch.Value, []byte(`"moh"`), []byte(`"mOh"`), 1)
		}, receipt.CodeEntryMismatch},
		{"batch: proof value", func(r *receipt.Receipt) {
			ex := r.Batch.Proof.GetExist()
			ex.Value = bytes.Replace(ex.Value, []byte(`"moh"`), []byte(`"mOh"`), 1)
		}, receipt.CodeBatchProof},
		{"batch: proof inner node", func(r *receipt.Receipt) { r.Batch.Proof.GetExist().Path[0].Prefix[2] ^= 1 }, receipt.CodeBatchProof},
		{"batch: shown absent", func(r *receipt.Receipt) { r.Batch.Value = nil }, receipt.CodeBatchProof},
		{"status: shown revoked", func(r *receipt.Receipt) {
			r.StatusEntry.Value = json.RawMessage(`{"height":9,"reason":"x","status":"revoked"}`)
		}, receipt.CodeStatusProof},
		{"status: proof neighbour", func(r *receipt.Receipt) {
			np := r.StatusEntry.Proof.GetNonexist()
			if np.Left != nil {
				np.Left.Value = append(np.Left.Value, ' ')
			} else {
				np.Right.Value = append(np.Right.Value, ' ')
			}
		}, receipt.CodeStatusProof},
		{"status: another key", func(r *receipt.Receipt) { r.StatusEntry.Key = app.StatusKey(ids[3]) }, receipt.CodeStatusProof},
		{"header: app hash", func(r *receipt.Receipt) { r.Attestation.SignedHeader.AppHash[0] ^= 1 }, receipt.CodeCommitMismatch},
		{"header: time", func(r *receipt.Receipt) {
			r.Attestation.SignedHeader.Time = r.Attestation.SignedHeader.Time.Add(time.Second)
		}, receipt.CodeCommitMismatch},
		{"header: chain", func(r *receipt.Receipt) { r.Attestation.SignedHeader.ChainID = "other" }, receipt.CodeWrongChain},
		{"header: height", func(r *receipt.Receipt) { r.Attestation.SignedHeader.Height++ }, receipt.CodeCommitMismatch},
		{"commit: a signature", func(r *receipt.Receipt) { r.Attestation.SignedHeader.Commit.Signatures[1].Signature[7] ^= 1 }, receipt.CodeBadSignature},
		{"commit: a signature's time", func(r *receipt.Receipt) {
			r.Attestation.SignedHeader.Commit.Signatures[0].Timestamp = r.Attestation.SignedHeader.Commit.Signatures[0].Timestamp.Add(time.Nanosecond)
		}, receipt.CodeBadSignature},
		{"commit: block id", func(r *receipt.Receipt) { r.Attestation.SignedHeader.Commit.BlockID.Hash[0] ^= 1 }, receipt.CodeCommitMismatch},
		{"validators: a power", func(r *receipt.Receipt) { r.Attestation.Validators.Validators[0].VotingPower = 1000 }, receipt.CodeValidatorsMismatch},
		{"validators: none", func(r *receipt.Receipt) { r.Attestation.Validators = nil }, receipt.CodeMalformed},
		{"type", func(r *receipt.Receipt) { r.Type = "divoc.status-receipt/v0" }, receipt.CodeMalformed},
	}
	for _, tc := range cases {
		r := good()
		tc.change(r)
		// Through JSON again: what a verifier would read.
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		back, err := receipt.Parse(b)
		if err != nil {
			if receipt.CodeOf(err) != tc.code {
				t.Errorf("%s: parse: %v, want %s", tc.name, err, tc.code)
			}
			continue
		}
		_, err = receipt.Verify(back, c.trust(), policyAt(h))
		wantCode(t, tc.name, err, tc.code)
		if err != nil && strings.TrimSpace(err.(*receipt.Error).Reason) == "" {
			t.Errorf("%s: no reason", tc.name)
		}
	}
}

// One byte changed anywhere in a proof, an aunt or a signature fails.
func TestEveryByteOfTheProofsMatters(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(6)
	h := c.height()
	base := roundTrip(t, c.receipt(h, ids[4]))
	bp, _ := base.Batch.Proof.Marshal()
	sp, _ := base.StatusEntry.Proof.Marshal()
	flips := 0
	for _, part := range []struct {
		name string
		raw  []byte
		set  func(r *receipt.Receipt, b []byte) error
	}{
		{"batch proof", bp, func(r *receipt.Receipt, b []byte) error { return r.Batch.Proof.Unmarshal(b) }},
		{"status proof", sp, func(r *receipt.Receipt, b []byte) error { return r.StatusEntry.Proof.Unmarshal(b) }},
	} {
		for i := range part.raw {
			b := bytes.Clone(part.raw)
			b[i] ^= 0x01
			r := roundTrip(t, base)
			if part.set(r, b) != nil {
				continue // no longer a proof: refused when read
			}
			flips++
			if _, err := receipt.Verify(r, c.trust(), policyAt(h)); err == nil {
				t.Errorf("%s: byte %d flipped, still verifies", part.name, i)
			}
		}
	}
	for i := range base.Path.Aunts {
		for j := 0; j < 32; j++ {
			r := roundTrip(t, base)
			r.Path.Aunts[i][j] ^= 0x80
			if _, err := receipt.Verify(r, c.trust(), policyAt(h)); receipt.CodeOf(err) != receipt.CodeMerklePath {
				t.Errorf("aunt %d byte %d: %v", i, j, err)
			}
		}
	}
	for i := range base.Attestation.SignedHeader.Commit.Signatures {
		for j := 0; j < 64; j++ {
			r := roundTrip(t, base)
			r.Attestation.SignedHeader.Commit.Signatures[i].Signature[j] ^= 0x01
			if _, err := receipt.Verify(r, c.trust(), policyAt(h)); err == nil {
				t.Errorf("signature %d byte %d flipped, still verifies", i, j)
			}
		}
	}
	// Every byte of the leaf's canonical form.
	leaf := base.Leaf
	for i := range leaf {
		if leaf[i] < 'a' || leaf[i] > 'z' {
			continue // structure and digits: changing them mostly breaks the JSON or the number
		}
		r := roundTrip(t, base)
		r.Leaf = bytes.Clone(leaf)
		r.Leaf[i] = 'a' + (leaf[i]-'a'+1)%26
		if _, err := receipt.Verify(r, c.trust(), policyAt(h)); err == nil {
			t.Errorf("leaf byte %d (%q) changed, still verifies", i, leaf[i])
		}
	}
	t.Logf("%d proof variants refused", flips)
}

// A header signed by two-thirds or less of the voting power fails.
func TestFewerThanTwoThirdsFails(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(3)
	h := c.height()
	// 3 of 4 equal validators: 30/40 > 2/3.
	if _, err := receipt.Verify(roundTrip(t, c.receipt(h, ids[0], 0, 1, 3)), c.trust(), policyAt(h)); err != nil {
		t.Fatalf("3 of 4 signatures: %v", err)
	}
	// 2 of 4: exactly half.
	_, err := receipt.Verify(roundTrip(t, c.receipt(h, ids[0], 0, 2)), c.trust(), policyAt(h))
	wantCode(t, "2 of 4 signatures", err, receipt.CodeInsufficientPower)
	// Signatures dropped from a good receipt: marked absent.
	r := roundTrip(t, c.receipt(h, ids[0]))
	sigs := r.Attestation.SignedHeader.Commit.Signatures
	sigs[1], sigs[3] = types.NewCommitSigAbsent(), types.NewCommitSigAbsent()
	_, err = receipt.Verify(roundTrip(t, r), c.trust(), policyAt(h))
	wantCode(t, "two signatures dropped", err, receipt.CodeInsufficientPower)
	// Or cut off the commit.
	r = roundTrip(t, c.receipt(h, ids[0]))
	r.Attestation.SignedHeader.Commit.Signatures = r.Attestation.SignedHeader.Commit.Signatures[:2]
	_, err = receipt.Verify(roundTrip(t, r), c.trust(), policyAt(h))
	wantCode(t, "commit cut to two signatures", err, receipt.CodeCommitInvalid)
	// A receipt whose validator set is a self-made one, signed by keys the
	// verifier does not trust.
	r = roundTrip(t, c.receipt(h, ids[0]))
	forged := c.attest(h, valSet(valKeys("e", "f", "g", "h"), 10))
	r.Attestation = forged
	_, err = receipt.Verify(roundTrip(t, r), c.trust(), policyAt(h))
	wantCode(t, "signed by unknown validators", err, receipt.CodeUntrustedValidators)
}

// Validator changes: a block signed by a new set verifies when enough of
// the pinned set's power signed it too (CometBFT's skipping check).
func TestValidatorSetChanges(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(2)
	h := c.height()
	r := roundTrip(t, c.receipt(h, ids[0]))
	// a, b, c stay, d is replaced by e: 30 of the pinned 40 signed.
	r.Attestation = c.attest(h, valSet(valKeys("a", "b", "c", "e"), 10))
	res, err := receipt.Verify(roundTrip(t, r), c.trust(), policyAt(h))
	if err != nil {
		t.Fatalf("3 of 4 pinned validators still sign: %v", err)
	}
	// The verifier can pin the new set from the result.
	next := *receipt.NewTrust(c.chainID, res.Validators, res.Height+1, "receipt")
	if _, err := receipt.Verify(roundTrip(t, r), next, policyAt(h)); err != nil {
		t.Fatalf("with the new set pinned: %v", err)
	}
	// Only a and b remain: 20 of 40 pinned is not more than 2/3...
	r.Attestation = c.attest(h, valSet(valKeys("a", "b", "e", "f"), 10))
	_, err = receipt.Verify(roundTrip(t, r), c.trust(), policyAt(h))
	wantCode(t, "half the pinned set", err, receipt.CodeUntrustedValidators)
	// ...but more than the light client's 1/3.
	p := policyAt(h)
	p.TrustLevel = cmtmath.Fraction{Numerator: 1, Denominator: 3}
	if _, err := receipt.Verify(roundTrip(t, r), c.trust(), p); err != nil {
		t.Fatalf("trust level 1/3: %v", err)
	}
	p.TrustLevel = cmtmath.Fraction{Numerator: 1, Denominator: 4}
	_, err = receipt.Verify(roundTrip(t, r), c.trust(), p)
	wantCode(t, "trust level below 1/3", err, receipt.CodeMalformed)
	// Another chain's trust.
	other := c.trust()
	other.ChainID = "elsewhere"
	_, err = receipt.Verify(roundTrip(t, c.receipt(h, ids[0])), other, policyAt(h))
	wantCode(t, "another chain", err, receipt.CodeWrongChain)
}

func TestPolicyAge(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(2)
	h := c.height()
	r := roundTrip(t, c.receipt(h, ids[1]))
	p := policyAt(h)
	p.Now = p.Now.Add(2 * time.Hour)
	_, err := receipt.Verify(r, c.trust(), p)
	wantCode(t, "two hours old, one allowed", err, receipt.CodeTooOld)
	p.MaxAge = 0
	if _, err := receipt.Verify(r, c.trust(), p); err != nil {
		t.Fatalf("no age limit: %v", err)
	}
	p = policyAt(h)
	p.Now = p.Now.Add(-time.Hour)
	_, err = receipt.Verify(r, c.trust(), p)
	wantCode(t, "from the future", err, receipt.CodeFromFuture)
}

// After a revocation a fresh receipt says revoked; the old "active" one
// still verifies as a statement about its height, and a verifier that
// knows of a later height refuses it as stale.
func TestRevocationMakesOldReceiptsStale(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(4)
	before := c.height()
	old := roundTrip(t, c.receipt(before, ids[1]))
	revokedAt := c.revoke("", ids[1])
	fresh := roundTrip(t, c.receipt(revokedAt, ids[1]))

	res, err := receipt.Verify(fresh, c.trust(), policyAt(revokedAt))
	if err != nil {
		t.Fatal(err)
	}
	if res.Active() || res.Status != receipt.StatusRevoked || res.StatusHeight != revokedAt || res.Reason != "issued in error" {
		t.Fatalf("fresh receipt: %+v", res)
	}
	oldRes, err := receipt.Verify(old, c.trust(), receipt.Policy{Now: policyAt(revokedAt).Now})
	if err != nil || !oldRes.Active() {
		t.Fatalf("old receipt: %v %+v", err, oldRes)
	}
	if oldRes.Height >= res.Height {
		t.Fatalf("old receipt height %d, fresh %d", oldRes.Height, res.Height)
	}
	p := policyAt(revokedAt)
	p.MinHeight = res.Height
	_, err = receipt.Verify(old, c.trust(), p)
	wantCode(t, "old active receipt against a minimum height", err, receipt.CodeStaleHeight)
	// Or too old for a short age limit.
	p = policyAt(revokedAt + 100)
	p.MaxAge = time.Minute
	_, err = receipt.Verify(old, c.trust(), p)
	wantCode(t, "old active receipt against a minute's age", err, receipt.CodeTooOld)

	// Presenting the old receipt as revoked, or the fresh one as active,
	// does not work either.
	old.Status = receipt.StatusRevoked
	_, err = receipt.Verify(old, c.trust(), receipt.Policy{Now: policyAt(revokedAt).Now})
	wantCode(t, "old receipt relabelled", err, receipt.CodeEntryMismatch)
	fresh.StatusEntry.Value = nil
	_, err = receipt.Verify(fresh, c.trust(), policyAt(revokedAt))
	wantCode(t, "revocation hidden", err, receipt.CodeStatusProof)
}

func TestSupersededAndCorrectionReceipts(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(2)
	// A correction batch anchoring a new certificate for ids[0].
	h := c.height() + 1
	newID := certID(h, 0)
	cr := app.Correction{Commitment: strings.Repeat("c", 64), New: app.Anchor{Certificate: newID, Hash: strings.Repeat("d", 64)}, Old: ids[0], Reason: "name <corrected> & more"}
	leafJSON, _ := strictjson.Marshal(app.SupersedeLeaf{Correction: cr, Index: 0, Result: app.OK})
	leaf := app.LeafHash(leafJSON)
	key := app.BatchKey(h, 0)
	c.leaves[key] = [][]byte{leaf}
	c.certs[newID] = certAt{at: app.BatchRef{Height: h, Tx: 0, Pos: 0}, leaf: leafJSON}
	c.set(key, app.BatchCommitment{Accepted: 1, Issuer: "moh", Kind: app.KindSupersede, Root: hex.EncodeToString(leaf), Size: 1, Tx: "cd"})
	st := app.CertStatus{Height: h, Reason: cr.Reason, Status: app.CertSuperseded, SupersededBy: newID}
	c.set(app.StatusKey(ids[0]), st)
	c.commit()

	res, err := receipt.Verify(roundTrip(t, c.receipt(h, newID)), c.trust(), policyAt(h))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Active() || res.Kind != app.KindSupersede || res.Replaces != ids[0] || res.CredentialHash != cr.New.Hash {
		t.Fatalf("correction receipt: %+v", res)
	}
	res, err = receipt.Verify(roundTrip(t, c.receipt(h, ids[0])), c.trust(), policyAt(h))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != receipt.StatusSuperseded || res.SupersededBy != newID || res.Reason != cr.Reason {
		t.Fatalf("superseded receipt: %+v", res)
	}
}

func TestParseRefusesDuplicateKeys(t *testing.T) {
	c := newTestChain(t)
	ids := c.record(1)
	b, _ := json.Marshal(c.receipt(c.height(), ids[0]))
	dup := bytes.Replace(b, []byte(`"status":"active"`), []byte(`"status":"active","status":"revoked"`), 1)
	if _, err := receipt.Parse(dup); receipt.CodeOf(err) != receipt.CodeMalformed {
		t.Fatalf("duplicate key: %v", err)
	}
}

func TestDuplicateKeyScanner(t *testing.T) {
	for in, dup := range map[string]bool{
		`{"a":1,"b":{"a":2}}`:             false,
		`[{"a":1},{"a":2}]`:               false,
		`{"a":1,"a":2}`:                   true,
		`{"x":[{"k":1,"k":1}]}`:           true,
		`{"a":"\"a\"","b":"}","c":{}}`:    false,
		`{"a":1,"\u0061":2}`:              true,
		`{"a\\":1,"a":2}`:                 false,
		` { "s" : [ 1 , "x" , { } ] } `:   false,
		`{"p":{"q":[[{"r":1,"r":2}]]}}`:   true,
		`{"k":"v\\","k2":"w"}`:            false,
		`{"e":"\u00e9","\u00e9":1,"é":2}`: true,
	} {
		_, err := receipt.Parse([]byte(in))
		gotDup := err != nil && strings.Contains(err.Error(), "duplicate key")
		if gotDup != dup {
			t.Errorf("%s: %v, want duplicate %v", in, err, dup)
		}
	}
}

// Whatever the bytes, Parse and Verify return (no panic, no hang), and
// nothing but the genuine receipt verifies.
func FuzzParseVerify(f *testing.F) {
	good, err := os.ReadFile("testdata/receipt.json")
	if err != nil {
		f.Fatal(err)
	}
	trustFile, _ := os.ReadFile("testdata/validators.json")
	trust, err := receipt.ParseTrust(trustFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"type":"divoc.status-receipt/v1"}`))
	f.Add([]byte(`[{"a":,}]`))
	policy := receipt.Policy{Now: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := receipt.Parse(data)
		if err != nil {
			return
		}
		if _, err := receipt.Verify(r, *trust, policy); err == nil && !sameDocument(data, good) {
			t.Fatalf("a different document verifies:\n%s", data)
		}
	})
}

// sameDocument: equal as receipts (whitespace, key order and escapes aside).
func sameDocument(a, b []byte) bool {
	var ra, rb receipt.Receipt
	if json.Unmarshal(a, &ra) != nil || json.Unmarshal(b, &rb) != nil {
		return false
	}
	ja, _ := json.Marshal(ra)
	jb, _ := json.Marshal(rb)
	return bytes.Equal(ja, jb)
}
