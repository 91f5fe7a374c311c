package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/node"
)

// operatorFlags are how revoke and correct reach the node as its operator:
// the API URL and the operator token, given or read from the node's home.
type operatorFlags struct{ home, nodeURL, token string }

func (o *operatorFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.home, "home", "", "node home (for the URL and operator token)")
	f.StringVar(&o.nodeURL, "node", "", "node API URL (default: the home's, or http://127.0.0.1:8480)")
	f.StringVar(&o.token, "token", "", "the node operator's token")
}

func (o *operatorFlags) client(what string) (*client.Client, error) {
	nodeURL, token := o.nodeURL, o.token
	if o.home != "" {
		h := node.Home(o.home)
		if s, err := node.LoadSettings(h); err == nil && nodeURL == "" {
			nodeURL = s.PublicURL
		}
		if token == "" {
			b, err := os.ReadFile(h.AdminToken())
			if err != nil {
				return nil, fmt.Errorf("reading the operator token: %w", err)
			}
			token = strings.TrimSpace(string(b))
		}
	}
	if nodeURL == "" {
		nodeURL = "http://127.0.0.1:8480"
	}
	if token == "" {
		return nil, fmt.Errorf("%s needs the node operator's token: --token, or --home to read it", what)
	}
	return client.New(nodeURL, token), nil
}

func revokeCmd() *cobra.Command {
	var op operatorFlags
	var reason string
	c := &cobra.Command{
		Use:   "revoke CERTIFICATE-ID --reason TEXT",
		Short: "Revoke a certificate (the node's issuing authority signs the revocation)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := op.client("revoking")
			if err != nil {
				return err
			}
			cert, err := cl.Revoke(context.Background(), args[0], reason)
			if err != nil {
				return err
			}
			fmt.Printf("certificate %s %s at height %d: %s\n", cert.ID, cert.Status, cert.StatusHeight, cert.StatusReason)
			return nil
		},
	}
	op.register(c)
	c.Flags().StringVar(&reason, "reason", "", "why (recorded on the ledger; no personal data)")
	_ = c.MarkFlagRequired("reason")
	return c
}

func correctCmd() *cobra.Command {
	var op operatorFlags
	var corr api.Correction
	c := &cobra.Command{
		Use:   "correct CERTIFICATE-ID --reason TEXT [--name NAME] [--dob YYYY-MM-DD] [--gender G] [--identity ID] [--mobile M]",
		Short: "Correct a certificate's personal details: a new certificate supersedes it",
		Long: `correct issues a new certificate for the same vaccination with the corrected
details (the node keeps them in its vault; only hashes reach the ledger) and
anchors it with a supersession of the old one, signed by the node's issuing
authority, which must be the one that issued the old certificate. The old
certificate then fails verification as superseded, naming the new one.
At least one detail must change.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if corr.Name == "" && corr.DOB == "" && corr.Gender == "" && corr.Identity == "" && corr.Mobile == "" {
				return fmt.Errorf("nothing to correct: give at least one of --name, --dob, --gender, --identity, --mobile")
			}
			cl, err := op.client("correcting")
			if err != nil {
				return err
			}
			cert, err := cl.Correct(context.Background(), args[0], corr)
			if err != nil {
				return err
			}
			fmt.Printf("certificate %s supersedes %s (height %d)\n", cert.ID, args[0], cert.Anchor.Height)
			return nil
		},
	}
	op.register(c)
	f := c.Flags()
	f.StringVar(&corr.Reason, "reason", "", "why (recorded on the ledger; no personal data)")
	f.StringVar(&corr.Name, "name", "", "corrected name")
	f.StringVar(&corr.DOB, "dob", "", "corrected date of birth (YYYY-MM-DD)")
	f.StringVar(&corr.Gender, "gender", "", "corrected gender")
	f.StringVar(&corr.Identity, "identity", "", "corrected identity (e.g. did:in.gov.uidai.aadhaar:123456789012)")
	f.StringVar(&corr.Mobile, "mobile", "", "corrected mobile number")
	_ = c.MarkFlagRequired("reason")
	return c
}
