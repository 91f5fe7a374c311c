package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/node"
)

type submitFlags struct {
	home, nodeURL, facility, keyFile, pseudonymFile, vaccinatorsFile, token, program, report, results string
	chunk, concurrency                                                                                int
	quiet                                                                                             bool
}

func submitCmd() *cobra.Command {
	var sf submitFlags
	c := &cobra.Command{
		Use:   "submit FILE --facility CODE",
		Short: "Sign and send a DIVOC bulk CSV (or certify JSON) as a facility, with progress and a per-row report",
		Long: `submit reads a DIVOC bulk certificates CSV (or a certify request .json), derives
the ledger events of its valid rows, signs them with the facility's key and
uploads them in batches, waiting until each is committed. It prints every row
that was refused, with the field and the rule, and a summary.

With --home, the key, pseudonym key, vaccinators list and node URL are taken
from that node home. With --token instead of --key, the node signs for the
facility (custodial mode).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSubmit(cmd.Context(), args[0], sf)
		},
	}
	f := c.Flags()
	f.StringVar(&sf.home, "home", "", "node home to take defaults from")
	f.StringVar(&sf.nodeURL, "node", "", "node API URL (default: the home's, else http://127.0.0.1:8480)")
	f.StringVar(&sf.facility, "facility", "", "facility code (required)")
	f.StringVar(&sf.keyFile, "key", "", "the facility's key file")
	f.StringVar(&sf.pseudonymFile, "pseudonym-key", "", "the consortium's pseudonym key file")
	f.StringVar(&sf.vaccinatorsFile, "vaccinators", "", "DIVOC vaccinators.csv to resolve vaccinatorName")
	f.StringVar(&sf.token, "token", "", "facility API token (custodial mode: the node signs)")
	f.StringVar(&sf.program, "program", "", "programId for every row (default: the vaccine's program)")
	f.StringVar(&sf.report, "report", "", "write every refused row to this CSV file")
	f.StringVar(&sf.results, "results", "", "write each committed row's certificate id to this CSV file (line,certificate)")
	f.IntVar(&sf.chunk, "chunk", 1000, "rows per signed upload")
	f.IntVar(&sf.concurrency, "concurrency", 1, "uploads in flight (more than 1 can send a later dose before an earlier one)")
	f.BoolVar(&sf.quiet, "quiet", false, "no progress bar")
	_ = c.MarkFlagRequired("facility")
	return c
}

func runSubmit(ctx context.Context, file string, sf submitFlags) error {
	if sf.home != "" {
		h := node.Home(sf.home)
		if s, err := node.LoadSettings(h); err == nil && sf.nodeURL == "" {
			sf.nodeURL = s.PublicURL
		}
		if sf.token == "" && sf.keyFile == "" {
			sf.keyFile = h.FacilityKey(sf.facility)
		}
		if sf.pseudonymFile == "" {
			sf.pseudonymFile = h.PseudonymKey()
		}
		if sf.vaccinatorsFile == "" {
			sf.vaccinatorsFile = filepath.Join(h.Registry(), "vaccinators.csv")
		}
	}
	if sf.nodeURL == "" {
		sf.nodeURL = "http://127.0.0.1:8480"
	}
	fac := client.Facility{Code: sf.facility}
	if sf.token == "" {
		if sf.keyFile == "" || sf.pseudonymFile == "" || sf.vaccinatorsFile == "" {
			return fmt.Errorf("to sign, give --key, --pseudonym-key and --vaccinators (or --home); or --token for custodial mode")
		}
		var err error
		if fac.Key, err = keys.Load(sf.keyFile); err != nil {
			return err
		}
		if fac.Pseudonym, err = ingest.LoadPseudonymKey(sf.pseudonymFile); err != nil {
			return err
		}
		vf, err := os.Open(sf.vaccinatorsFile)
		if err != nil {
			return err
		}
		fac.Vaccinators, _, err = divocfmt.ParseVaccinatorsCSV(vf)
		vf.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", sf.vaccinatorsFile, err)
		}
	}
	body, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	cl := client.New(sf.nodeURL, sf.token)
	if ctx == nil {
		ctx = context.Background()
	}
	if strings.HasSuffix(strings.ToLower(file), ".json") {
		return submitJSON(ctx, cl, fac, body, sf)
	}
	var bar *progressbar.ProgressBar
	opts := client.SubmitOptions{Program: sf.program, ChunkRows: sf.chunk, Concurrency: sf.concurrency}
	if !sf.quiet {
		total := max(strings.Count(strings.TrimRight(string(body), "\n"), "\n"), 0) // rows, not the header
		bar = progressbar.NewOptions(total, progressbar.OptionSetDescription("rows"), progressbar.OptionShowCount(),
			progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"), progressbar.OptionSetWriter(os.Stderr), progressbar.OptionClearOnFinish())
		opts.Progress = func(n int) { _ = bar.Set(n) }
	}
	rep, err := cl.SubmitCSV(ctx, fac, body, opts)
	if bar != nil {
		_ = bar.Finish()
	}
	if rep != nil {
		printReport(os.Stdout, rep, 50)
		if sf.report != "" {
			if werr := writeReport(sf.report, rep); werr != nil {
				return werr
			}
			fmt.Printf("refused rows written to %s\n", sf.report)
		}
		if sf.results != "" {
			if werr := writeResults(sf.results, rep); werr != nil {
				return werr
			}
			fmt.Printf("certificate ids written to %s\n", sf.results)
		}
		if err == nil && rep.Rows > 0 && rep.Accepted == 0 && rep.Unknown == 0 {
			return checkFailed("no row was committed (see the refusals above)")
		}
	}
	return err
}

func submitJSON(ctx context.Context, cl *client.Client, fac client.Facility, body []byte, sf submitFlags) error {
	sig := ""
	if fac.Key != nil {
		certs, _, err := divocfmt.ParseCertifyJSON(body, divocfmt.JSONOptions{})
		if err != nil {
			return err
		}
		reg, err := cl.Registry(ctx)
		if err != nil {
			return err
		}
		st, err := cl.Status(ctx)
		if err != nil {
			return err
		}
		b := ingest.Prepare(fac.Code, sf.program, certs, ingest.NewCatalog(reg.Vaccines, reg.Programs, fac.Vaccinators).InZone(reg.TimezoneOffsetMinutes), fac.Pseudonym)
		if len(b.Rows) > 0 {
			p, err := b.Sign(st.ChainID, fac.Key, time.Now())
			if err != nil {
				return err
			}
			sig = p.DetachedJWS()
		}
	}
	up, err := cl.Certify(ctx, body, sig)
	if err != nil {
		return err
	}
	rep := &client.SubmitReport{Rows: up.Rows, Accepted: up.Accepted, Rejected: up.Rejected, Unknown: up.Unknown, Errors: up.Errors, Results: up.Results, Uploads: []string{up.ID}}
	printReport(os.Stdout, rep, 50)
	return nil
}

// refusal is one refused row, before or on the ledger.
type refusal struct {
	row                  int
	field, code, message string
}

func refusals(rep *client.SubmitReport) []refusal {
	var out []refusal
	for _, e := range rep.Errors {
		out = append(out, refusal{e.Row, e.Field, e.Code, e.Message})
	}
	for _, r := range rep.Results {
		if r.Code != "ok" {
			out = append(out, refusal{r.Row, "", r.Code, r.Reason})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].row < out[j].row })
	return out
}

func printReport(w io.Writer, rep *client.SubmitReport, max int) {
	rs := refusals(rep)
	if len(rs) > 0 {
		fmt.Fprintf(w, "refused rows (%d problems):\n", len(rs))
		for i, r := range rs {
			if i == max {
				fmt.Fprintf(w, "  ... and %d more (use --report FILE for all)\n", len(rs)-max)
				break
			}
			field := r.field
			if field == "" {
				field = "-"
			}
			fmt.Fprintf(w, "  line %-6d %-22s %-26s %s\n", r.row, field, r.code, divocfmt.EscapeCSVCell(r.message))
		}
	}
	fmt.Fprintf(w, "%d rows: %d committed with certificates, %d refused (%d uploads)\n", rep.Rows, rep.Accepted, rep.Rejected, len(rep.Uploads))
	if rep.Unknown > 0 {
		fmt.Fprintf(w, "%d rows not seen to commit (%s): they may still commit; send the same file again later: a committed row comes back as duplicate_dose naming its certificate\n", rep.Unknown, api.CodeTimeout)
	}
}

func writeResults(path string, rep *client.SubmitReport) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	_ = w.Write([]string{"line", "certificate"})
	for _, r := range rep.Results {
		if r.Code == "ok" {
			_ = w.Write([]string{fmt.Sprint(r.Row), r.Certificate})
		}
	}
	w.Flush()
	return w.Error()
}

func writeReport(path string, rep *client.SubmitReport) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	_ = w.Write([]string{"line", "field", "code", "message"})
	for _, r := range refusals(rep) {
		_ = w.Write([]string{fmt.Sprint(r.row), r.field, r.code, divocfmt.EscapeCSVCell(r.message)})
	}
	w.Flush()
	return w.Error()
}
