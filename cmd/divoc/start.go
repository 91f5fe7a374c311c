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
	var home string
	c := &cobra.Command{
		Use:   "start --home DIR",
		Short: "Run the node: CometBFT in-process, the ledger, the vault and the REST API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	return c
}

func waitForSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	<-ch
}
