package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/node"
)

func startCmd() *cobra.Command {
	var home, apiAddr string
	c := &cobra.Command{
		Use:   "start --home DIR",
		Short: "Run the node: CometBFT in-process, the ledger, the vault and the REST API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if apiAddr != "" {
				s, err := node.LoadSettings(node.Home(home))
				if err != nil {
					return err
				}
				s.APIListen, s.PublicURL = apiAddr, "http://"+apiAddr
				if err := node.SaveSettings(node.Home(home), s); err != nil {
					return err
				}
			}
			n, err := node.Start(node.Home(home))
			if err != nil {
				return err
			}
			fmt.Printf("divoc node running: chain %s, API http://%s (CometBFT log: %s/cometbft.log)\n", n.App.ChainID(), n.APIAddr, node.Home(home).Logs())
			waitForSignal()
			fmt.Println("stopping")
			return n.Stop()
		},
	}
	c.Flags().StringVar(&home, "home", defaultHome(), "node home directory")
	c.Flags().StringVar(&apiAddr, "api-addr", "", "serve the API on this address from now on (saved in config/divoc.json)")
	return c
}

func waitForSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	<-ch
}
