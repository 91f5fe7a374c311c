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
Exit status: 0 on success, 1 when a check fails (divoc verify: the
credential is not valid; divoc audit: the replay diverges; divoc submit: no
row was committed), 2 on an error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(initCmd(), startCmd(), demoCmd(), keysCmd(), submitCmd(), verifyCmd(), revokeCmd(), correctCmd(), govCmd(), registryCmd(), genDataCmd(), benchCmd(), localnetCmd(), auditCmd())
	if err := root.Execute(); err != nil {
		var failed checkFailed
		if errors.As(err, &failed) {
			fmt.Fprintln(os.Stderr, failed.Error())
			os.Exit(1)
		}
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

// checkFailed is a command that ran but whose outcome is a failure (exit
// status 1, not 2).
type checkFailed string

func (c checkFailed) Error() string { return string(c) }
