package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/gendata"
	"github.com/divoc/divoc/genesis"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/node"
	"github.com/divoc/divoc/vault"
)

// THREATS row 10: no personal data on the ledger, ever.
//
// A real node records every facility's generated CSV (signed by the
// facility), a revocation, a correction and a registration of each kind.
// Once it is stopped, everything the ledger holds is read back through the
// stores' own APIs (CometBFT's block store and state store, the genesis,
// the IAVL tree, the app's index), never the raw database files, which are
// compressed and would hide a leak. Every string found there, and whatever
// base64 or hex it decodes to, is searched for every recipient's and
// vaccinator's personal details.
func TestNoPersonalDataOnLedger(t *testing.T) {
	home := t.TempDir()
	h := node.Home(home)
	ds, err := node.InitLocal(node.LocalOptions{Home: home, Seed: 11, Facilities: 4, Certificates: 320, BadRows: 16,
		APIListen: "127.0.0.1:0", P2PListen: "tcp://127.0.0.1:0"})
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	n, err := node.Start(h)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { n.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.WaitHeight(ctx, 1); err != nil {
		t.Fatalf("no first block: %v", err)
	}
	base := "http://" + n.APIAddr

	// Every facility's file, signed by the facility, 40 rows a transaction.
	var certs []string
	accepted := 0
	for _, f := range ds.Facilities {
		csv, err := os.ReadFile(filepath.Join(home, "gen-data", gendata.FacilityCertificatesFile(f.Code)))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rep := submitSigned(ctx, t, base, h, f.Code, csv, 40)
		accepted += rep.Accepted
		for _, r := range rep.Results {
			if r.Code == string(app.OK) {
				certs = append(certs, r.Certificate)
			}
		}
	}
	if accepted < 200 || len(certs) != accepted {
		t.Fatalf("%d rows accepted, %d certificates", accepted, len(certs))
	}

	// A revocation and a correction (whose new details are personal data
	// too), through the operator's API.
	admin := client.New(base, n.Service.AdminToken())
	if c, err := admin.Revoke(ctx, certs[0], "issued in error"); err != nil || c.Status != app.CertRevoked {
		t.Fatalf("revoke: %+v %v", c, err)
	}
	corr := api.Correction{Reason: "name misspelt", Name: "Correctedname Surnamefixed", DOB: "1969-07-21"}
	if c, err := admin.Correct(ctx, certs[1], corr); err != nil || c.Replaces != certs[1] {
		t.Fatalf("correct: %+v %v", c, err)
	}

	// A registration of each kind, signed by governance: a new vaccinator
	// (known on the ledger by code and commitment only), a facility
	// re-registered, an auditor authority.
	newVaccinator := divocfmt.Vaccinator{Code: "VAC-PII-TEST", Name: "Zebulon Quartermaine", NationalIdentifier: "ZQXPQ9876Z",
		Mobile: "9988776655", Email: "zebulon.quartermaine@example.org", Status: "Active", FacilityCodes: []string{ds.Facilities[0].Code}}
	registerAll(ctx, t, n, h, newVaccinator)
	height := n.App.Committed().Height
	if err := n.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	sc := newScanner(personalData(t, ds, []string{corr.Name, corr.DOB}, newVaccinator), publicWords(ds)...)
	t.Logf("%d needles (personal details of %d rows, %d vaccinators, %d facility admins), %d skipped as too short, %d skipped as public",
		len(sc.needles), len(ds.Certificates), len(ds.Vaccinators)+1, len(ds.Facilities), sc.short, sc.public)

	// The scanner works: a planted needle is found in mixed case, inside
	// base64 inside a transaction's payload, and in the vault, which holds
	// the personal data the ledger must not.
	selfTest(t, sc, ds, h, certs[2])

	ls := scanHome(t, h, sc)
	t.Logf("scanned %d blocks, %d txs (%v), %d parts, %d tx results, %d events with %d attributes, genesis %d bytes, %d IAVL keys at version %d, %d index entries; %d MB in all",
		ls.blocks, ls.txs, ls.kinds, ls.parts, ls.results, ls.events, ls.attrs, ls.genesisBytes, ls.stateKeys, ls.stateVersion, ls.indexEntries, ls.bytes>>20)
	for _, k := range []string{app.KindRecord, app.KindRevoke, app.KindSupersede, app.KindRegisterAuthority, app.KindRegisterFacility, app.KindRegisterVaccinator} {
		if ls.kinds[k] == 0 {
			t.Errorf("no %s transaction on the ledger: the scan did not cover it", k)
		}
	}
	if int64(ls.blocks) < height || ls.txs < 10 || ls.results != ls.txs || ls.events == 0 || ls.attrs == 0 || ls.stateKeys < 20 || ls.indexEntries < accepted || ls.undecodable > 0 {
		t.Errorf("the scan saw too little: %+v", ls)
	}
	if ls.stateVersion != height {
		t.Errorf("the scan read the state at version %d, the node had committed %d", ls.stateVersion, height)
	}
	if len(ls.hits) > 0 {
		t.Errorf("personal data on the ledger, by source: %v", hitSources(ls.hits))
		for i, hit := range ls.hits {
			if i == 20 {
				t.Errorf("... and %d more", len(ls.hits)-20)
				break
			}
			t.Errorf("personal data on the ledger: %s (%q) in %s", hit.needle.what, hit.needle.text, hit.where)
		}
	}
}

// submitSigned submits a facility's CSV signed with the facility's key from
// the home, as `divoc submit` does: client.SubmitCSV, chunk rows a signed
// transaction, waiting for every chunk to commit.
func submitSigned(ctx context.Context, t *testing.T, baseURL string, h node.Home, code string, csv []byte, chunk int) *client.SubmitReport {
	t.Helper()
	f := facilityOf(t, h, code)
	rep, err := client.New(baseURL, "").SubmitCSV(ctx, f, csv, client.SubmitOptions{ChunkRows: chunk, Concurrency: 2})
	if err != nil {
		t.Fatalf("submit %s: %v", code, err)
	}
	return rep
}

// facilityOf is a facility's side of an upload: its key, the pseudonym key
// and the vaccinators list, read from the home.
func facilityOf(t *testing.T, h node.Home, code string) client.Facility {
	t.Helper()
	pk, err := ingest.LoadPseudonymKey(h.PseudonymKey())
	if err != nil {
		t.Fatal(err)
	}
	vf, err := os.Open(filepath.Join(h.Registry(), "vaccinators.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer vf.Close()
	vaccinators, _, err := divocfmt.ParseVaccinatorsCSV(vf)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.Load(h.FacilityKey(code))
	if err != nil {
		t.Fatal(err)
	}
	return client.Facility{Code: code, Key: key, Pseudonym: pk, Vaccinators: vaccinators}
}

// registerAll commits one governance transaction of each registry kind.
func registerAll(ctx context.Context, t *testing.T, n *node.Node, h node.Home, v divocfmt.Vaccinator) {
	t.Helper()
	gov, err := keys.Load(h.Resolve(n.Settings.GovernanceKey))
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ingest.LoadPseudonymKey(h.PseudonymKey())
	if err != nil {
		t.Fatal(err)
	}
	snap := n.App.Committed()
	fac := snap.Facility(v.FacilityCodes[0])
	if fac == nil {
		t.Fatalf("facility %s is not on the ledger", v.FacilityCodes[0])
	}
	auditor, err := keys.Generate("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	txs := []struct {
		kind, typ string
		stmt      any
	}{
		{app.KindRegisterVaccinator, app.TypRegisterVaccinator, app.RegisterVaccinatorStatement{Vaccinator: app.Vaccinator{
			Code: v.Code, Commitment: genesis.VaccinatorCommitment(pk, v), Facilities: v.FacilityCodes, Status: app.StatusActive}}},
		{app.KindRegisterFacility, app.TypRegisterFacility, app.RegisterFacilityStatement{Facility: *fac, Keys: []app.KeySpec{}, Retire: []string{}}},
		{app.KindRegisterAuthority, app.TypRegisterAuthority, app.RegisterAuthorityStatement{
			Authority: app.Authority{ID: "audit-board", Name: "National Audit Board", Roles: []string{app.RoleAuditor}, Status: app.StatusActive},
			Keys:      []app.KeySpec{{Public: base64.RawURLEncoding.EncodeToString(auditor.Public().(ed25519.PublicKey)), Role: app.RoleAuditor}},
			Retire:    []string{}}},
	}
	for _, x := range txs {
		p, err := app.SignPart(x.typ, n.App.ChainID(), gov.KID(), ingest.NewNonce(), time.Now().Unix(), x.stmt, gov.Sign)
		if err != nil {
			t.Fatal(err)
		}
		out, err := n.Ledger.Submit(ctx, (&app.Tx{Kind: x.kind, Parts: []app.Part{p}}).Encode())
		if err != nil {
			t.Fatalf("%s: %v", x.kind, err)
		}
		if out.Result.Code != app.OK {
			t.Fatalf("%s: %s: %s", x.kind, out.Result.Code, out.Result.Reason)
		}
	}
}

// --- the needles ---

// minNeedle is the shortest needle searched for. Shorter values (a
// five-digit house number, a four-letter locality) occur by chance in
// hashes, base64 and ordinary words, so finding one proves nothing; every
// value this test cares about (names are "First Last", mobiles have 10
// digits, Aadhaar numbers 12, dates of birth 10 characters) is longer.
const minNeedle = 6

type needle struct {
	text  string // as in the dataset
	low   []byte // ASCII lower case, for matching
	what  string // whose and which field, for the report
	where string
}

// personalData lists every personal detail of the dataset: each row's
// recipient name, mobile, identity (the whole DID and its number, the part
// after the last ':'), date of birth, address lines and pre-enrollment
// code, the vaccinator named in the row; every vaccinator's name, mobile,
// national identifier and e-mail; every facility admin's name and mobile;
// and the extra values given.
func personalData(t *testing.T, ds *gendata.Dataset, extra []string, vs ...divocfmt.Vaccinator) []needle {
	t.Helper()
	var out []needle
	add := func(what, text string) {
		out = append(out, needle{text: text, what: what})
	}
	for _, c := range ds.Certificates {
		r := c.Recipient
		who := fmt.Sprintf("row %d", c.Row)
		add(who+" recipient name", r.Name)
		add(who+" mobile", r.Mobile)
		add(who+" identity", r.Identity)
		if i := strings.LastIndexByte(r.Identity, ':'); i >= 0 {
			add(who+" identity number", r.Identity[i+1:])
		}
		add(who+" date of birth", r.DOB)
		add(who+" address line 1", r.Address.Line1)
		add(who+" address line 2", r.Address.Line2)
		add(who+" pre-enrollment code", c.PreEnrollmentCode)
		add(who+" vaccinator name", c.VaccinatorName)
	}
	for _, v := range append(append([]divocfmt.Vaccinator{}, ds.Vaccinators...), vs...) {
		who := "vaccinator " + v.Code
		add(who+" name", v.Name)
		add(who+" mobile", v.Mobile)
		add(who+" national identifier", v.NationalIdentifier)
		add(who+" e-mail", v.Email)
	}
	for _, f := range ds.Facilities {
		add("facility "+f.Code+" admin name", f.AdminName)
		add("facility "+f.Code+" admin mobile", f.AdminMobile)
	}
	for _, x := range extra {
		add("correction", x)
	}
	// Dates of birth must not be mistaken for vaccination dates, which
	// are on the ledger by design: the dataset's recipients are 18 or
	// older, so no date of birth falls in the vaccination window.
	opts := ds.Options
	for _, n := range out {
		if strings.HasSuffix(n.what, "date of birth") && n.text != "" {
			if d, err := time.Parse(time.DateOnly, n.text); err == nil && !d.Before(opts.Start.AddDate(0, 0, -1)) {
				t.Fatalf("%s %s is inside the vaccination window: it cannot be told apart from a vaccination date", n.what, n.text)
			}
		}
	}
	return out
}

// scanner finds needles in bytes, ASCII case-insensitively, in one pass
// over the input (needles are indexed by their first minNeedle bytes).
type scanner struct {
	needles       []needle
	index         map[string][]int
	short, public int
}

// publicWords are values that are on the ledger by design and may also
// appear inside an address (a locality named like a district, a landmark
// named like a facility): they are not personal data.
func publicWords(ds *gendata.Dataset) []string {
	var out []string
	for _, f := range ds.Facilities {
		out = append(out, f.Name, f.Code, f.Address.District, f.Address.State, f.Address.Pincode)
	}
	return out
}

func newScanner(ns []needle, public ...string) *scanner {
	s := &scanner{index: map[string][]int{}}
	seen := map[string]bool{}
	var pub []string
	for _, p := range public {
		pub = append(pub, string(lowerASCII([]byte(p))))
	}
next:
	for _, n := range ns {
		n.text = strings.TrimSpace(n.text)
		if len(n.text) < minNeedle {
			if n.text != "" {
				s.short++
			}
			continue
		}
		n.low = lowerASCII([]byte(n.text))
		if seen[string(n.low)] {
			continue
		}
		seen[string(n.low)] = true
		for _, p := range pub {
			if strings.Contains(p, string(n.low)) {
				s.public++
				continue next
			}
		}
		k := string(n.low[:minNeedle])
		s.index[k] = append(s.index[k], len(s.needles))
		s.needles = append(s.needles, n)
	}
	return s
}

func lowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func (s *scanner) find(b []byte) []needle {
	low := lowerASCII(b)
	var out []needle
	for i := 0; i+minNeedle <= len(low); i++ {
		for _, j := range s.index[string(low[i:i+minNeedle])] {
			if bytes.HasPrefix(low[i:], s.needles[j].low) {
				out = append(out, s.needles[j])
			}
		}
	}
	return out
}

// --- the scan ---

type hit struct {
	needle needle
	where  string
}

// ledgerScan searches bytes and everything encoded inside them.
type ledgerScan struct {
	sc   *scanner
	hits []hit
	seen map[string]bool

	blocks, txs, parts, results, events, attrs, stateKeys, indexEntries, genesisBytes, undecodable int
	stateVersion                                                                                   int64
	bytes                                                                                          int64
	kinds                                                                                          map[string]int
}

func newLedgerScan(sc *scanner) *ledgerScan {
	return &ledgerScan{sc: sc, seen: map[string]bool{}, kinds: map[string]int{}}
}

// check searches b; if b is JSON, every string in it (keys and values,
// unescaped); and what every base64 (either alphabet, padded or not) or
// hex string decodes to, dot-separated segments (a JWS, a JWT) one by one,
// recursively. A name hidden in a base64 payload is found.
func (ls *ledgerScan) check(where string, b []byte) { ls.checkDepth(where, b, 0) }

func (ls *ledgerScan) checkDepth(where string, b []byte, depth int) {
	ls.bytes += int64(len(b))
	for _, n := range ls.sc.find(b) {
		if k := where + "\x00" + n.text; !ls.seen[k] {
			ls.seen[k] = true
			ls.hits = append(ls.hits, hit{needle: n, where: where})
		}
	}
	if depth >= 5 || len(b) == 0 {
		return
	}
	if c := b[0]; (c == '{' || c == '[' || c == '"') && json.Valid(b) {
		var v any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if d.Decode(&v) == nil {
			for _, s := range jsonStrings(v, nil) {
				if s != "" && s != string(b) {
					ls.checkDepth(where, []byte(s), depth+1)
				}
			}
		}
		return
	}
	for _, d := range decodings(string(b)) {
		ls.checkDepth(where+" (decoded)", d, depth+1)
	}
}

func jsonStrings(v any, out []string) []string {
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case []any:
		for _, e := range x {
			out = jsonStrings(e, out)
		}
	case map[string]any:
		for k, e := range x {
			out = append(out, k)
			out = jsonStrings(e, out)
		}
	}
	return out
}

var b64Encodings = []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding}

// decodings returns what s, or each dot-separated segment of it, decodes
// to as base64 or hex (segments shorter than 8 characters are left out).
func decodings(s string) [][]byte {
	var out [][]byte
	segs := []string{s}
	if strings.Contains(s, ".") {
		segs = append(segs, strings.Split(s, ".")...)
	}
	for _, seg := range segs {
		if len(seg) < 8 || len(seg) > 64<<20 {
			continue
		}
		if len(seg)%2 == 0 {
			if d, err := hex.DecodeString(seg); err == nil {
				out = append(out, d)
				continue
			}
		}
		for _, e := range b64Encodings {
			if d, err := e.DecodeString(seg); err == nil {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// checkTx searches a transaction: its bytes, and each part's protected
// header, payload and signature decoded.
func (ls *ledgerScan) checkTx(where string, raw []byte) {
	ls.txs++
	ls.check(where, raw)
	tx, e := app.DecodeTx(raw, 0)
	if e != nil {
		ls.undecodable++
		return
	}
	ls.kinds[tx.Kind]++
	for i, p := range tx.Parts {
		ls.parts++
		for field, enc := range map[string]string{"protected": p.Protected, "payload": p.Payload, "signature": p.Signature} {
			d, err := base64.RawURLEncoding.DecodeString(enc)
			if err != nil {
				ls.undecodable++
				continue
			}
			ls.check(fmt.Sprintf("%s part %d %s (decoded)", where, i, field), d)
		}
	}
}

// scanHome reads a stopped node's ledger through the stores' APIs.
func scanHome(t *testing.T, h node.Home, sc *scanner) *ledgerScan {
	t.Helper()
	ls := newLedgerScan(sc)
	in, err := node.Inspect(h)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	defer in.Close()

	// The genesis: app_state (registries) and the whole document.
	gen, err := in.Genesis()
	if err != nil {
		t.Fatal(err)
	}
	ls.genesisBytes = len(gen.AppState)
	ls.check("genesis app_state", gen.AppState)
	if gb, err := os.ReadFile(h.Genesis()); err == nil {
		ls.check("genesis.json", gb)
	}

	// Every block, every transaction, every FinalizeBlock response.
	if in.Base() != 1 {
		t.Errorf("the block store starts at %d: blocks were pruned, the scan would miss them", in.Base())
	}
	for height := in.Base(); height <= in.Height(); height++ {
		b, err := in.Block(height)
		if err != nil {
			t.Fatal(err)
		}
		ls.blocks++
		pb, err := b.ToProto()
		if err != nil {
			t.Fatal(err)
		}
		whole, err := pb.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ls.check(fmt.Sprintf("block %d", height), whole)
		for i, tx := range b.Txs {
			ls.checkTx(fmt.Sprintf("block %d tx %d", height, i), tx)
		}
		resp, err := in.FinalizeBlockResponse(height)
		if err != nil {
			t.Fatalf("FinalizeBlock response of %d: %v", height, err)
		}
		if len(resp.TxResults) != len(b.Txs) {
			t.Errorf("block %d: %d txs, %d results", height, len(b.Txs), len(resp.TxResults))
		}
		rb, err := resp.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ls.check(fmt.Sprintf("FinalizeBlock response %d", height), rb)
		events := resp.Events
		for i, r := range resp.TxResults {
			ls.results++
			where := fmt.Sprintf("block %d tx %d result", height, i)
			ls.check(where+" data", r.Data)
			ls.check(where+" log", []byte(r.Log))
			ls.check(where+" info", []byte(r.Info))
			events = append(events, r.Events...)
		}
		for _, ev := range events {
			ls.events++
			ls.check(fmt.Sprintf("block %d event type", height), []byte(ev.Type))
			for _, a := range ev.Attributes {
				ls.attrs++
				where := fmt.Sprintf("block %d event %s attribute %s", height, ev.Type, a.Key)
				ls.check(where, []byte(a.Key))
				ls.check(where, []byte(a.Value))
			}
		}
	}

	// Every key and value of the IAVL tree, and of the index beside it.
	tree, err := in.WalkAppState(0, func(k, v []byte) error {
		where := fmt.Sprintf("state key %q", k)
		ls.check(where, k)
		ls.check(where+" value", v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ls.stateKeys, ls.stateVersion = tree.Keys, tree.Version
	ls.indexEntries, err = in.WalkAppIndex(func(k, v []byte) error {
		where := fmt.Sprintf("index key %q", k)
		ls.check(where, k)
		if len(v) >= 8 {
			v = v[8:] // the height that wrote it
		}
		ls.check(where+" value", v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// selfTest shows the scan finds what it looks for: planted needles in
// mixed case, a name in the base64 payload of a transaction, and the
// personal data the vault does hold (in its records and, base64url-encoded,
// inside the signed credential).
func selfTest(t *testing.T, sc *scanner, ds *gendata.Dataset, h node.Home, cert string) {
	t.Helper()
	var name needle
	for _, n := range sc.needles {
		if strings.HasSuffix(n.what, "recipient name") {
			name = n
			break
		}
	}
	if name.text == "" {
		t.Fatal("no recipient name among the needles")
	}
	ls := newLedgerScan(sc)
	ls.check("planted", []byte("xx"+strings.ToUpper(name.text)+"yy"))
	if len(ls.hits) == 0 {
		t.Fatalf("a planted upper-case name was not found")
	}

	stmt := map[string]string{"note": "Recipient " + name.text}
	p, err := app.SignPart(app.TypRecord, "test", strings.Repeat("k", 43), ingest.NewNonce(), 1, stmt, func([]byte) ([]byte, error) { return make([]byte, 64), nil })
	if err != nil {
		t.Fatal(err)
	}
	raw := (&app.Tx{Kind: app.KindRecord, Parts: []app.Part{p}}).Encode()
	if len(sc.find(raw)) != 0 {
		t.Fatal("the raw bytes of the planted transaction show the name: the decoding test proves nothing")
	}
	ls = newLedgerScan(sc)
	ls.checkTx("planted tx", raw)
	if len(ls.hits) == 0 {
		t.Fatal("a name in a transaction's base64 payload was not found")
	}

	v, err := vault.Open(h.Vault())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	rec, err := v.Record(cert)
	if err != nil {
		t.Fatal(err)
	}
	ls = newLedgerScan(sc)
	rb, _ := json.Marshal(rec)
	ls.check("vault record", rb)
	var found []string
	for _, x := range ls.hits {
		if !slices.Contains(found, x.needle.what) {
			found = append(found, x.needle.what)
		}
	}
	sort.Strings(found)
	if !containsSuffix(found, "recipient name") {
		t.Fatalf("the vault's record of %s holds the recipient's name, the scan found only %v", cert, found)
	}
	ls = newLedgerScan(sc)
	ls.check("credential", []byte(rec.Credential))
	if !strings.Contains(rec.Credential, ".") || len(ls.hits) == 0 || len(sc.find([]byte(rec.Credential))) != 0 {
		t.Fatalf("the name inside the credential's base64url payload: found %d times by the decoding scan, %d by a raw scan",
			len(ls.hits), len(sc.find([]byte(rec.Credential))))
	}
	vs, err := v.Vaccinators()
	if err != nil {
		t.Fatal(err)
	}
	vb, _ := json.Marshal(vs)
	if len(sc.find(vb)) < len(ds.Vaccinators) {
		t.Fatalf("the vault's vaccinators: %d needles found for %d vaccinators", len(sc.find(vb)), len(ds.Vaccinators))
	}
	t.Logf("self-test: the vault record of %s shows %d needles (%s), its credential %d once decoded", cert, len(found), strings.Join(found, ", "), len(ls.hits))
}

// hitSources counts hits by the store they were found in.
func hitSources(hits []hit) map[string]int {
	out := map[string]int{}
	for _, x := range hits {
		src := "other"
		switch w := x.where; {
		case strings.HasPrefix(w, "genesis"):
			src = "genesis"
		case strings.HasPrefix(w, "state key"):
			src = "IAVL state"
		case strings.HasPrefix(w, "index key"):
			src = "index"
		case strings.HasPrefix(w, "FinalizeBlock"), strings.Contains(w, " result"), strings.Contains(w, " event"):
			src = "FinalizeBlock results and events"
		case strings.Contains(w, " tx "):
			src = "transactions"
		case strings.HasPrefix(w, "block"):
			src = "blocks"
		}
		out[src]++
	}
	return out
}

func containsSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}
