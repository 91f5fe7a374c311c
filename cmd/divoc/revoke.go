package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/node"
)

func revokeCmd() *cobra.Command {
	var home, nodeURL, token, reason string
	c := &cobra.Command{
		Use:   "revoke CERTIFICATE-ID --reason TEXT",
		Short: "Revoke a certificate (the node's issuing authority signs the revocation)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if home != "" {
				h := node.Home(home)
				if s, err := node.LoadSettings(h); err == nil && nodeURL == "" {
					nodeURL = s.PublicURL
				}
				if token == "" {
					b, err := os.ReadFile(h.AdminToken())
					if err != nil {
						return err
					}
					token = strings.TrimSpace(string(b))
				}
			}
			if nodeURL == "" {
				nodeURL = "http://127.0.0.1:8480"
			}
			if token == "" {
				return fmt.Errorf("revoking needs the node operator's token: --token, or --home to read it")
			}
			cert, err := client.New(nodeURL, token).Revoke(context.Background(), args[0], reason)
			if err != nil {
				return err
			}
			fmt.Printf("certificate %s %s at height %d: %s\n", cert.ID, cert.Status, cert.StatusHeight, cert.StatusReason)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&home, "home", "", "node home (for the URL and operator token)")
	f.StringVar(&nodeURL, "node", "", "node API URL")
	f.StringVar(&token, "token", "", "the node operator's token")
	f.StringVar(&reason, "reason", "", "why (recorded on the ledger; no personal data)")
	_ = c.MarkFlagRequired("reason")
	return c
}
