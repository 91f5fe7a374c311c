package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/audit"
	"github.com/divoc/divoc/node"
)

func auditCmd() *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "Audit a node's ledger"}
	var home, work string
	var asJSON, skipStored bool
	var limit int
	replay := &cobra.Command{
		Use:   "replay --home DIR",
		Short: "Replay the ledger from genesis in a fresh state and check it against the signed headers and the stored state",
		Long: `audit replay reads the block store of a stopped node's home (or of a copy of
one) from genesis and, for every block: checks it against its own header (data
hash), the previous block's id, the validators' commit signatures, and the
validator set hashes (derived from the genesis and the replayed validator
updates); re-executes its transactions in a fresh state machine in a scratch
directory (every signature in them is checked again against the key the state
lists at that height, so refusals are counted by code); and compares the
resulting app hash and results hash with the ones the validators signed in the
next block's header. It then compares the home's stored state (the IAVL tree's
saved root hashes and every key, and the index beside it) with the replayed one.

It prints blocks, transactions, events (accepted and rejected), certificates,
revocations, rejections by code, the replay speed, and the first mismatch.
Exit status: 0 when everything matches, 1 on any mismatch, 2 when the replay
cannot run (no such home, a pruned block store). The node must be stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			last := time.Now()
			r, err := audit.Replay(cmd.Context(), audit.Options{Home: node.Home(home), WorkDir: work, SkipStoredState: skipStored, MaxMismatches: limit,
				Progress: func(h, top int64) {
					if !asJSON && time.Since(last) > 2*time.Second {
						last = time.Now()
						fmt.Fprintf(os.Stderr, "replayed %d of %d blocks\n", h, top)
					}
				}})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				r.Write(os.Stdout)
			}
			if !r.OK() {
				fmt.Fprintf(os.Stderr, "the ledger diverges from its replay: first at %s\n", r.First())
				os.Exit(1)
			}
			return nil
		},
	}
	f := replay.Flags()
	f.StringVar(&home, "home", defaultHome(), "the stopped node's home (or a copy)")
	f.StringVar(&work, "work-dir", "", "where the replayed state goes (default: a temporary directory, removed after)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&skipStored, "skip-stored-state", false, "do not compare the home's stored state and index with the replay")
	f.IntVar(&limit, "max-mismatches", 20, "mismatches listed (all are counted)")
	c.AddCommand(replay)
	return c
}
