package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/node"
)

type demoFlags struct {
	home, apiAddr                 string
	exit                          bool
	rows, bad, facilities, verify int
	seed                          int64
}

func demoCmd() *cobra.Command {
	var df demoFlags
	c := &cobra.Command{
		Use:   "demo [--home DIR] [--exit]",
		Short: "Run the whole flow on a fresh single-node network: 10,000 DIVOC rows in, certificates out",
		Long: `demo creates a single-validator network in a fresh home (CometBFT in-process,
IAVL state, Badger vault), with a genesis from generated DIVOC-format
facilities.csv and vaccinators.csv, two programs and four vaccines. It then
uploads a generated DIVOC bulk CSV of 10,000 rows through the HTTP API exactly
as the facilities would (each batch signed with that facility's key), verifies
a sample of the certificates, revokes one, corrects one, and prints a summary.
It keeps serving until interrupted, or exits 0 when done with --exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(df) },
	}
	f := c.Flags()
	f.StringVar(&df.home, "home", "", "home directory for the network (default: a new temporary directory)")
	f.BoolVar(&df.exit, "exit", false, "exit when done instead of serving")
	f.StringVar(&df.apiAddr, "api-addr", "127.0.0.1:8480", "API listen address (a free port is used if it is taken)")
	f.IntVar(&df.rows, "rows", 10000, "good certificate rows to upload")
	f.IntVar(&df.bad, "bad-rows", 60, "deliberately bad rows mixed in")
	f.IntVar(&df.facilities, "facilities", 20, "facilities")
	f.IntVar(&df.verify, "verify", 20, "certificates to verify through the API")
	f.Int64Var(&df.seed, "seed", 1, "seed of the generated data")
	return c
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func runDemo(df demoFlags) error {
	ctx := context.Background()
	if df.home == "" {
		d, err := os.MkdirTemp("", "divoc-demo-")
		if err != nil {
			return err
		}
		df.home = d
	}
	h := node.Home(df.home)
	if ln, err := net.Listen("tcp", df.apiAddr); err != nil {
		df.apiAddr = "127.0.0.1:0"
	} else {
		ln.Close()
	}

	step("Creating a single-validator network in %s", h)
	data := filepath.Join(df.home, "gen-data")
	ds, err := node.InitLocal(node.LocalOptions{Home: df.home, DataDir: data, Seed: df.seed, Facilities: df.facilities,
		Certificates: df.rows, BadRows: df.bad, APIListen: df.apiAddr, P2PListen: "tcp://127.0.0.1:0", RPCListen: "", CometMetrics: true, Out: os.Stdout})
	if err != nil {
		return err
	}
	fmt.Printf("gen-data: %d facilities, %d vaccinators, %d certificate rows for %d people (%d deliberately bad) in %s\n",
		len(ds.Facilities), len(ds.Vaccinators), len(ds.Certificates), ds.Recipients, len(ds.Bad), data)

	n, err := node.Start(h)
	if err != nil {
		return err
	}
	defer n.Stop()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := n.WaitHeight(wctx, 1); err != nil {
		return fmt.Errorf("the chain did not start: %w", err)
	}
	base := "http://" + n.APIAddr
	fmt.Printf("node running: chain %s, API %s\n", n.App.ChainID(), base)

	files, total, err := facilityFiles(data, ds.Facilities)
	if err != nil {
		return err
	}
	step("Uploading %d rows from %d facilities' bulk CSVs, each batch signed by its facility", total, len(files))
	bar := progressbar.NewOptions(total, progressbar.OptionSetDescription("rows"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"), progressbar.OptionSetWriter(os.Stderr), progressbar.OptionThrottle(100*time.Millisecond))
	res, err := submitFacilities(ctx, h, base, files, 8, 1000, func(k int) { _ = bar.Set(k) })
	_ = bar.Finish()
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	rate := float64(res.Accepted) / res.Elapsed.Seconds()
	fmt.Printf("%d rows settled in %s: %d committed with certificates, %d refused\n", res.Rows, res.Elapsed.Round(time.Millisecond), res.Accepted, res.Rejected)

	pub := client.New(base, "")
	admin := client.New(base, n.Service.AdminToken())
	policy, err := demoPolicy(ctx, h, base, admin, files)
	if err != nil {
		return err
	}

	step("Verifying %d certificates through the API", min(df.verify, len(res.Certificates)))
	rng := rand.New(rand.NewSource(df.seed))
	sample := make([]string, 0, df.verify)
	for _, i := range rng.Perm(len(res.Certificates)) {
		if len(sample) == df.verify {
			break
		}
		sample = append(sample, res.Certificates[i])
	}
	valid := 0
	var first *api.Certificate
	for _, id := range sample {
		c, err := admin.Certificate(ctx, id)
		if err != nil {
			return err
		}
		v, err := pub.Verify(ctx, c.Credential)
		if err != nil {
			return err
		}
		if v.Valid {
			valid++
		}
		if first == nil {
			first = c
			printVerification(os.Stdout, v)
		}
	}
	fmt.Printf("%d of %d sampled certificates verify\n", valid, len(sample))
	if len(sample) < 2 {
		return fmt.Errorf("too few certificates to continue the demo")
	}

	step("Revoking certificate %s", sample[0])
	if _, err := admin.Revoke(ctx, sample[0], "issued in error (demo)"); err != nil {
		return err
	}
	v, err := pub.Verify(ctx, first.Credential)
	if err != nil {
		return err
	}
	printVerification(os.Stdout, v)

	step("Correcting certificate %s (a name fix)", sample[1])
	old, err := admin.Certificate(ctx, sample[1])
	if err != nil {
		return err
	}
	oldV, _ := pub.Verify(ctx, old.Credential)
	newName := "Corrected " + oldV.Holder.Name
	fixed, err := admin.Correct(ctx, sample[1], api.Correction{Reason: "name misspelt (demo)", Name: newName})
	if err != nil {
		return err
	}
	fmt.Println("the old certificate now:")
	v, _ = pub.Verify(ctx, old.Credential)
	printVerification(os.Stdout, v)
	fmt.Printf("its correction %s:\n", fixed.ID)
	v, _ = pub.Verify(ctx, fixed.Credential)
	printVerification(os.Stdout, v)

	st, err := pub.Status(ctx)
	if err != nil {
		return err
	}
	step("Summary")
	fmt.Printf("%d events committed\n", res.Accepted+policy.accepted)
	fmt.Printf("%d certificates issued (%d anchored on the ledger in all, corrections included)\n", res.Accepted+policy.accepted, st.Totals.Certificates)
	fmt.Printf("%d rows rejected:\n", res.Rejected)
	codes := make([]string, 0, len(res.ByCode))
	for c := range res.ByCode {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		fmt.Printf("  %-28s %d\n", c, res.ByCode[c])
	}
	fmt.Printf("policy: %d rows refused while phase 3 was closed and accepted once it opened; %d refused over a facility's daily cap\n", policy.reopened, policy.overCap)
	fmt.Printf("%.0f events/s\n", rate)
	fmt.Printf("submit-to-commit latency per batch: p50 %s, p99 %s\n", percentile(res.Latencies, 0.5).Round(time.Millisecond), percentile(res.Latencies, 0.99).Round(time.Millisecond))
	fmt.Printf("block height %d\n", st.Height)
	fmt.Printf("app hash %s\n", st.AppHash)
	fmt.Printf("home %s\n", h)
	if df.exit {
		// The node stops when the demo returns: the URLs are for when it
		// runs again on this home.
		if s, err := node.LoadSettings(h); err == nil && !strings.HasSuffix(s.APIListen, ":0") {
			base = "http://" + s.APIListen
		}
		fmt.Printf("\nThe node stops now (--exit). Serve this ledger again with `divoc start --home %s`, then try:\n", h)
	} else {
		fmt.Println("\nTry:")
	}
	for _, u := range []string{
		base + "/dashboard",
		base + "/v1/status",
		base + "/v1/certificates/" + fixed.ID,
		base + "/v1/certificates/" + sample[0] + "   (revoked)",
		base + "/v1/trust/jwks",
		base + "/metrics",
		base + "/openapi.yaml",
	} {
		fmt.Println("  " + u)
	}
	// The credential and its QR carry personal data: the operator's token.
	auth := fmt.Sprintf(`-H "Authorization: Bearer $(cat %s)"`, h.AdminToken())
	fmt.Printf("  curl -s %s %s/v1/certificates/%s/qr.png > cert.png\n", auth, base, fixed.ID)
	fmt.Printf("  curl -s -X POST --data-binary @<(curl -s %s '%s/v1/certificates/%s?format=jwt') %s/v1/verify\n", auth, base, fixed.ID, base)
	fmt.Printf("  divoc submit %s --facility %s --home %s\n", filepath.Join(data, "certificates-"+firstKey(files)+".csv"), firstKey(files), h)

	if df.exit {
		return nil
	}
	fmt.Println("\nServing until interrupted (Ctrl-C).")
	waitForSignal()
	return nil
}

func firstKey(m map[string][]byte) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return ""
	}
	return strings.TrimSpace(keys[0])
}

type policyResult struct{ accepted, reopened, overCap int }

// demoPolicy changes the rollout policy live: with phase 3 (all adults)
// closed, fresh adult rows are refused; once governance opens it, the same
// rows are accepted. Then a facility's daily cap refuses the overflow.
func demoPolicy(ctx context.Context, h node.Home, base string, admin *client.Client, files map[string][]byte) (*policyResult, error) {
	fac := firstKey(files)
	certs, _, err := divocfmt.ParseBulkCSV(bytes.NewReader(files[fac]), divocfmt.CSVOptions{MaxRows: -1})
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("no row of %s to copy: %v", fac, err)
	}
	out := &policyResult{}
	submit := func(rows []divocfmt.Certificate) (*client.SubmitReport, error) {
		var buf bytes.Buffer
		if err := divocfmt.WriteBulkCSV(&buf, rows); err != nil {
			return nil, err
		}
		r, err := submitFacilities(ctx, h, base, map[string][]byte{fac: buf.Bytes()}, 1, 1000, nil)
		if err != nil {
			return nil, err
		}
		out.accepted += r.Accepted
		return r.Reports[fac], nil
	}
	show := func(rep *client.SubmitReport) {
		for i, r := range rep.Results {
			if i == 3 {
				fmt.Printf("  ... (%d rows)\n", len(rep.Results))
				break
			}
			what := r.Certificate
			if r.Code != "ok" {
				what = r.Reason
			}
			fmt.Printf("  line %d: %s %s\n", r.Row, r.Code, what)
		}
	}

	step("Rollout policy, live: closing phase 3 (all adults) of program C19 by governance")
	g, err := admin.SetPhase(ctx, "C19", "phase-3", false)
	if err != nil {
		return nil, err
	}
	printGovernance(g)
	adults := demoRows(certs[0], 6, "P", time.Now().UTC())
	rep, err := submit(adults)
	if err != nil {
		return nil, err
	}
	fmt.Printf("%d adults vaccinated today at %s: %d accepted, %d refused\n", len(adults), fac, rep.Accepted, rep.Rejected)
	show(rep)
	step("Opening phase 3: the same rows, submitted again, are accepted")
	if g, err = admin.SetPhase(ctx, "C19", "phase-3", true); err != nil {
		return nil, err
	}
	printGovernance(g)
	if rep, err = submit(adults); err != nil {
		return nil, err
	}
	out.reopened = rep.Accepted
	fmt.Printf("%d accepted, %d refused\n", rep.Accepted, rep.Rejected)
	show(rep)

	step("A daily cap: facility %s may give 3 more doses of C19 today", fac)
	snapFac, err := facilityOf(ctx, admin, fac)
	if err != nil {
		return nil, err
	}
	snapFac.Caps = []app.Cap{{Program: "C19", Daily: len(adults) + 3}}
	if g, err = admin.SetFacility(ctx, app.RegisterFacilityStatement{Facility: *snapFac, Keys: []app.KeySpec{}, Retire: []string{}}); err != nil {
		return nil, err
	}
	printGovernance(g)
	more := demoRows(certs[0], 5, "Q", time.Now().UTC())
	if rep, err = submit(more); err != nil {
		return nil, err
	}
	for _, r := range rep.Results {
		if r.Code == string(app.CodeFacilityOverCap) {
			out.overCap++
		}
	}
	fmt.Printf("%d more rows: %d accepted, %d refused\n", len(more), rep.Accepted, rep.Rejected)
	for _, r := range rep.Results {
		if r.Code != "ok" {
			fmt.Printf("  line %d: %s: %s\n", r.Row, r.Code, r.Reason)
		}
	}
	return out, nil
}

// demoRows are n fresh adults vaccinated on day with the template's
// vaccine, vaccinator and facility.
func demoRows(tpl divocfmt.Certificate, n int, tag string, day time.Time) []divocfmt.Certificate {
	var out []divocfmt.Certificate
	for i := 0; i < n; i++ {
		c := tpl
		c.PreEnrollmentCode = fmt.Sprintf("DEMO%s%04d", tag, i)
		c.Recipient.Name = fmt.Sprintf("Demo %s Person %d", tag, i)
		c.Recipient.Identity = fmt.Sprintf("did:in.gov.uidai.aadhaar:7%05d%06d", day.YearDay(), i+int(tag[0])*1000)
		c.Recipient.DOB, c.Recipient.Age = "1988-03-14", 0
		c.Vaccination.Date, c.Vaccination.Dose = day, 1
		out = append(out, c)
	}
	return out
}

func facilityOf(ctx context.Context, cl *client.Client, code string) (*app.Facility, error) {
	reg, err := cl.Registry(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range reg.Facilities {
		if f.Code == code {
			return &f, nil
		}
	}
	return nil, fmt.Errorf("facility %s is not on the ledger", code)
}
