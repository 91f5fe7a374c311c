package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/node"
)

// operator is how operator commands reach a node: a URL and the operator's
// token, from flags or a node home.
type operator struct{ home, nodeURL, token string }

func (o *operator) flags(c *cobra.Command) {
	c.Flags().StringVar(&o.home, "home", "", "node home (for its URL and operator token)")
	c.Flags().StringVar(&o.nodeURL, "node", "", "node API URL")
	c.Flags().StringVar(&o.token, "token", "", "the node operator's token")
}

// url is the node's API URL: --node, or the home's, or the default.
func (o *operator) url() string {
	if o.nodeURL == "" && o.home != "" {
		if s, err := node.LoadSettings(node.Home(o.home)); err == nil {
			o.nodeURL = s.PublicURL
		}
	}
	if o.nodeURL == "" {
		o.nodeURL = "http://127.0.0.1:8480"
	}
	return o.nodeURL
}

func (o *operator) client() (*client.Client, error) {
	o.url()
	if o.home != "" {
		h := node.Home(o.home)
		if o.token == "" {
			b, err := os.ReadFile(h.AdminToken())
			if err != nil {
				return nil, err
			}
			o.token = strings.TrimSpace(string(b))
		}
	}
	if o.nodeURL == "" {
		o.nodeURL = "http://127.0.0.1:8480"
	}
	if o.token == "" {
		return nil, fmt.Errorf("this needs the node operator's token: --token, or --home to read it")
	}
	return client.New(o.nodeURL, o.token), nil
}

func govCmd() *cobra.Command {
	c := &cobra.Command{Use: "gov", Short: "Governance: propose, approve and list registry and policy changes (M-of-N)"}
	var op operator
	propose := &cobra.Command{
		Use:   "propose KIND STATEMENT.json",
		Short: "Propose a change, signed with the node's governance key",
		Long: "KIND is one of " + strings.Join(app.GovernedKinds, ", ") + `.
STATEMENT.json is its statement (the member names are the JSON of
GET /v1/programs, /v1/vaccines, /v1/facilities, ...), for example:
  program.set/v1   {"program": {"id": "C19", "name": "...", "vaccines": [...], "phases": [...], "status": "active", ...}}
  vaccine.set/v1   {"vaccine": {"code": "COVISHIELD", ..., "status": "suspended"}}   (GET /v1/vaccines, changed)
  batch.set/v1     {"batch": {"vaccine": "COVISHIELD", "batch": "4121Z025", "status": "suspended", "reason": "safety_signal"}}
                   (reason: safety_signal or a revocation reason such as vaccine_recall)
  safety.set/v1    {"policy": {"min_doses": 1000, "serious_per_million": 500}}
  validator.set/v1 {"validator": {"address": "...", "name": "...", "power": 10, "pub_key": "..."}}  (power 0 removes)
With a governance threshold of 1 the change is applied at once; otherwise it
is pending until other authorities approve it (divoc gov approve).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := op.client()
			if err != nil {
				return err
			}
			b, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			if !json.Valid(b) {
				return fmt.Errorf("%s is not JSON", args[1])
			}
			res, err := cl.Propose(context.Background(), args[0], b)
			if err != nil {
				return err
			}
			printGovernance(res)
			return nil
		},
	}
	op.flags(propose)
	var op2 operator
	approve := &cobra.Command{
		Use:   "approve PROPOSAL-ID",
		Short: "Approve a pending proposal as this node's authority",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := op2.client()
			if err != nil {
				return err
			}
			res, err := cl.Approve(context.Background(), args[0])
			if err != nil {
				return err
			}
			printGovernance(res)
			return nil
		},
	}
	op2.flags(approve)
	var lister operator
	var status string
	list := &cobra.Command{
		Use:   "list",
		Short: "List proposals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := client.New(lister.url(), "").Proposals(context.Background(), status)
			if err != nil {
				return err
			}
			for _, p := range ps {
				fmt.Printf("%-10s %-9s %-24s by %-12s approvals %d/%d %s\n", p.ID, p.Status, p.Change.Kind, p.Proposer, len(p.Approvals), p.Threshold, p.Reason)
			}
			return nil
		},
	}
	list.Flags().StringVar(&lister.home, "home", "", "node home (for its URL)")
	list.Flags().StringVar(&lister.nodeURL, "node", "", "node API URL (default: the home's, or http://127.0.0.1:8480)")
	list.Flags().StringVar(&status, "status", "", "only proposals with this status (pending, applied, failed, expired)")
	var op3 operator
	var program, phase string
	var closeIt bool
	phaseCmd := &cobra.Command{
		Use:   "phase --program ID --phase ID [--close]",
		Short: "Open (or close) an eligibility phase",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := op3.client()
			if err != nil {
				return err
			}
			res, err := cl.SetPhase(context.Background(), program, phase, !closeIt)
			if err != nil {
				return err
			}
			printGovernance(res)
			return nil
		},
	}
	op3.flags(phaseCmd)
	phaseCmd.Flags().StringVar(&program, "program", "", "program id")
	phaseCmd.Flags().StringVar(&phase, "phase", "", "phase id")
	phaseCmd.Flags().BoolVar(&closeIt, "close", false, "close the phase instead of opening it")
	_ = phaseCmd.MarkFlagRequired("program")
	_ = phaseCmd.MarkFlagRequired("phase")
	c.AddCommand(propose, approve, list, phaseCmd)
	return c
}

func printGovernance(r *api.GovernanceResult) {
	fmt.Printf("proposal %s (%s): %s, %d of %d approvals (%s), height %d\n", r.Proposal, r.Kind, r.Status, len(r.Approvals), r.Threshold, strings.Join(r.Approvals, ", "), r.Height)
}

func registryCmd() *cobra.Command {
	c := &cobra.Command{Use: "registry", Short: "Registries from DIVOC's CSV files"}
	var op operator
	upload := &cobra.Command{
		Use:   "upload facilities.csv|vaccinators.csv",
		Short: "Register or update facilities or vaccinators from DIVOC's CSV formats (one governance change per row)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := op.client()
			if err != nil {
				return err
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			kind := "facilities"
			if strings.Contains(strings.ToLower(filepath.Base(args[0])), "vaccinator") {
				kind = "vaccinators"
			}
			up, err := cl.RegistryUpload(context.Background(), kind, b)
			if err != nil {
				return err
			}
			for _, e := range up.Errors {
				fmt.Printf("  line %-5d %-18s %-20s %s\n", e.Row, e.Field, e.Code, e.Message)
			}
			ok := 0
			for _, ch := range up.Changes {
				if ch.Result != nil {
					ok++
				}
			}
			fmt.Printf("%d rows: %d %s changed, %d refused\n", up.Rows, ok, kind, up.Rows-ok)
			return nil
		},
	}
	op.flags(upload)
	c.AddCommand(upload)
	return c
}
