package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/node"
)

func initCmd() *cobra.Command {
	o := node.DefaultInitOptions("")
	var home string
	c := &cobra.Command{
		Use:   "init --home DIR --facilities facilities.csv --vaccinators vaccinators.csv",
		Short: "Create a single-validator node home: CometBFT config and keys, authority and facility keys, genesis",
		Long: `init creates a node home directory: CometBFT's config.toml, node and validator
keys, the issuing authority's keys, one signing key and API token per facility,
the pseudonym key, and a genesis with the default programs and vaccines and the
facilities and vaccinators read from DIVOC-format CSV files (divoc gen-data
writes sample ones).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Home = node.Home(home)
			o.Out = os.Stdout
			if o.Settings.PublicURL == node.DefaultSettings().PublicURL {
				o.Settings.PublicURL = "http://" + o.Settings.APIListen
			}
			return node.Init(o)
		},
	}
	f := c.Flags()
	f.StringVar(&home, "home", defaultHome(), "node home directory")
	f.StringVar(&o.FacilitiesCSV, "facilities", "", "DIVOC facilities.csv (required)")
	f.StringVar(&o.VaccinatorsCSV, "vaccinators", "", "DIVOC vaccinators.csv (required)")
	f.StringVar(&o.ChainID, "chain-id", o.ChainID, "chain id")
	f.StringVar(&o.Moniker, "moniker", o.Moniker, "validator name")
	f.StringVar(&o.Settings.APIListen, "api-addr", o.Settings.APIListen, "REST API listen address")
	f.StringVar(&o.Settings.PublicURL, "public-url", o.Settings.PublicURL, "the API's URL as clients see it (default http://<api-addr>)")
	f.StringVar(&o.P2PListen, "p2p-addr", o.P2PListen, "CometBFT P2P listen address")
	f.StringVar(&o.RPCListen, "rpc-addr", o.RPCListen, "CometBFT RPC listen address (empty disables it)")
	f.StringVar(&o.Settings.IssuerID, "issuer-id", o.Settings.IssuerID, "id of the issuing authority")
	f.StringVar(&o.Settings.IssuerName, "issuer-name", o.Settings.IssuerName, "name of the issuing authority")
	f.DurationVar(&o.TimeoutCommit, "timeout-commit", o.TimeoutCommit, "CometBFT's pause after each block")
	_ = c.MarkFlagRequired("facilities")
	_ = c.MarkFlagRequired("vaccinators")
	return c
}

func defaultHome() string {
	if h := os.Getenv("DIVOC_HOME"); h != "" {
		return h
	}
	if d, err := os.UserHomeDir(); err == nil {
		return d + "/.divoc"
	}
	return ".divoc"
}
