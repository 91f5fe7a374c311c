package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/api"
)

func revokeCmd() *cobra.Command {
	var op operator
	var reason string
	c := &cobra.Command{
		Use:   "revoke CERTIFICATE-ID --reason TEXT",
		Short: "Revoke a certificate (the node's issuing authority signs the revocation)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := op.client()
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
	op.flags(c)
	c.Flags().StringVar(&reason, "reason", "", "why: issued_in_error, duplicate, data_correction, wrong_person, fraud, vaccine_recall or holder_request (other text is recorded as other and kept in the vault)")
	_ = c.MarkFlagRequired("reason")
	return c
}

func correctCmd() *cobra.Command {
	var op operator
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
			cl, err := op.client()
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
	op.flags(c)
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
