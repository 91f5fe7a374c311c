// Command divoc is the DIVOC ledger node and its tools: init, start, demo,
// keys, submit, verify, revoke, gen-data and bench.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/abci"
	"github.com/divoc/divoc/api"
)

func main() {
	root := &cobra.Command{
		Use:     "divoc",
		Short:   "A permissioned vaccination ledger node: signed vaccination events, anchored certificates",
		Version: abci.Version,
		Long: `divoc runs a node of a permissioned vaccination ledger and its tools.
Exit status: 0 on success, 2 on an error; divoc verify exits 1 when the
credential is not valid.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(initCmd(), startCmd(), demoCmd(), keysCmd(), submitCmd(), verifyCmd(), revokeCmd(), correctCmd(), govCmd(), registryCmd(), genDataCmd(), benchCmd(), localnetCmd(), auditCmd())
	if err := root.Execute(); err != nil {
		var p *api.Problem
		if errors.As(err, &p) {
			fmt.Fprintf(os.Stderr, "error: %s (%d %s)\n", p.Detail, p.Status, p.Code)
			for _, e := range p.Errors {
				fmt.Fprintf(os.Stderr, "  %v\n", e)
			}
		} else {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		os.Exit(2)
	}
}
