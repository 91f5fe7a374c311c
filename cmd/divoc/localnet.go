package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/localnet"
	"github.com/divoc/divoc/node"
)

func localnetCmd() *cobra.Command {
	var dir, config string
	c := &cobra.Command{
		Use:   "localnet",
		Short: "A four-agency network on this machine: one validator process per agency on loopback ports",
		Long: `localnet runs a multi-agency network on one machine. init creates one home per
agency under --dir (default localnet/data) from the template localnet/network.json:
a shared genesis naming every agency as an authority (governance and issuer keys
of its own, governance threshold M of N) and every node as a validator, the
facilities and vaccinators of generated DIVOC data, and persistent peers between
all nodes. start runs each node as a separate "divoc start --home DIR/nodeN"
process; stop stops them; status prints each node's height and app hash.`,
	}
	c.PersistentFlags().StringVar(&dir, "dir", filepath.Join("localnet", "data"), "directory of the nodes' homes")
	c.PersistentFlags().StringVar(&config, "config", filepath.Join("localnet", "network.json"), "network template (agencies, ports, threshold); the built-in one if the file is absent")

	initNet := func() (*localnet.Network, error) {
		cfg := localnet.DefaultConfig()
		if _, err := os.Stat(config); err == nil {
			if cfg, err = localnet.LoadConfig(config); err != nil {
				return nil, err
			}
		}
		return localnet.Init(dir, cfg, os.Stdout)
	}

	initC := &cobra.Command{
		Use:   "init",
		Short: "Create the nodes' homes, keys and shared genesis",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := initNet()
			if err != nil {
				return err
			}
			printNodes(n)
			return nil
		},
	}

	var wait time.Duration
	startC := &cobra.Command{
		Use:   "start",
		Short: "Start every node (initializing the network first if needed) and wait for their first block",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := localnet.Load(dir)
			if err != nil {
				if _, serr := os.Stat(filepath.Join(dir, localnet.ManifestFile)); !os.IsNotExist(serr) {
					return err
				}
				if n, err = initNet(); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			for i, nd := range n.Nodes {
				if pid, ok := n.Running(i); ok {
					fmt.Printf("%s already running (pid %d)\n", nd.Name, pid)
					continue
				}
				if err := n.Start(i, true); err != nil {
					return err
				}
				pid, _ := n.Running(i)
				fmt.Printf("%s (%s) started, pid %d, log %s\n", nd.Name, nd.Agency.ID, pid, n.LogPath(i))
			}
			for i := range n.Nodes {
				if err := n.WaitReady(ctx, i); err != nil {
					return err
				}
			}
			printStatus(n.Status(cmd.Context()))
			fmt.Printf("\nsample uploads: %s (one CSV per facility; keys in each home's keys/facilities)\n", n.GenData)
			fmt.Println("stop with: divoc localnet stop   (or make localnet-stop)")
			return nil
		},
	}
	startC.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for every node's first block")

	var stopWait time.Duration
	stopC := &cobra.Command{
		Use:   "stop",
		Short: "Stop every node (SIGTERM, then SIGKILL after --wait)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := localnet.Load(dir)
			if err != nil {
				return err
			}
			for i, nd := range n.Nodes {
				if pid, ok := n.Running(i); ok {
					fmt.Printf("stopping %s (pid %d)\n", nd.Name, pid)
				}
			}
			err = n.StopAll(stopWait)
			for i := range n.Nodes {
				os.Remove(filepath.Join(string(n.Nodes[i].Home), localnet.PIDFile))
			}
			if err == nil {
				fmt.Println("stopped")
			}
			return err
		},
	}
	stopC.Flags().DurationVar(&stopWait, "wait", 30*time.Second, "how long each node may take to stop")

	var asJSON bool
	statusC := &cobra.Command{
		Use:   "status",
		Short: "Each node's process, height and app hash (from its /v1/status)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := localnet.Load(dir)
			if err != nil {
				return err
			}
			st := n.Status(cmd.Context())
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(st)
			return nil
		},
	}
	statusC.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var add localnet.AddOptions
	addC := &cobra.Command{
		Use:   "add --id AGENCY [--state-sync]",
		Short: "Create one more node that joins the network (by state sync or block sync); governance makes it a validator",
		Long: `add creates the home of one more node, nodeN, joining the localnet: the same genesis
and pseudonym key, the other nodes as peers, its own node, validator and
authority keys. With --state-sync it restores the state from a snapshot of the
others' (every snapshot_interval blocks; the light client trusts the first
node's latest header); otherwise it replays every block from height 1 (block
sync). Start it with divoc localnet start. It signs blocks once governance
adds its validator key (M of N):
  divoc gov propose validator.set/v1 DIR/nodeN/config/validator.json --home DIR/node1
  divoc gov approve PROPOSAL-ID --home DIR/node2   (and so on, to the threshold)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := localnet.Load(dir)
			if err != nil {
				return err
			}
			k := len(n.Nodes) + 1
			if add.Agency.P2PPort == 0 {
				add.Agency.P2PPort = 26606 + 10*k
			}
			if add.Agency.RPCPort == 0 {
				add.Agency.RPCPort = 26607 + 10*k
			}
			if add.Agency.APIPort == 0 {
				add.Agency.APIPort = 8480 + k
			}
			if add.Agency.Name == "" {
				add.Agency.Name = add.Agency.ID
			}
			nd, err := n.AddNode(cmd.Context(), add)
			if err != nil {
				return err
			}
			fmt.Printf("%s (%s): API %s, RPC %s, P2P %s, home %s\n", nd.Name, nd.Agency.ID, nd.API, nd.RPC, nd.P2P, nd.Home)
			fmt.Printf("validator %s; to make it one: divoc gov propose %s %s --home %s, then approvals\n",
				nd.ValidatorAddress, app.KindSetValidator, nd.Home.ValidatorFile(), n.Nodes[0].Home)
			if add.StateSync {
				fmt.Println("state sync restores a snapshot: the network takes one every snapshot_interval blocks (config/divoc.json);" +
					" until the first exists the new node logs \"Discovering snapshots\" and waits")
			}
			return nil
		},
	}
	addC.Flags().StringVar(&add.Agency.ID, "id", "", "the node's agency id (its own authority keys)")
	addC.Flags().StringVar(&add.Agency.Name, "name", "", "the agency's name")
	addC.Flags().IntVar(&add.Agency.P2PPort, "p2p-port", 0, "P2P port (default 26606+10N)")
	addC.Flags().IntVar(&add.Agency.RPCPort, "rpc-port", 0, "CometBFT RPC port (default 26607+10N)")
	addC.Flags().IntVar(&add.Agency.APIPort, "api-port", 0, "REST API port (default 8480+N)")
	addC.Flags().BoolVar(&add.StateSync, "state-sync", false, "restore from a snapshot instead of replaying every block")
	_ = addC.MarkFlagRequired("id")

	var power int64
	validatorC := &cobra.Command{
		Use:   "validator NODE [--power N]",
		Short: "Print the validator.set/v1 statement for a node's validator key (--power 0 removes it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := localnet.Load(dir)
			if err != nil {
				return err
			}
			for _, nd := range n.Nodes {
				if nd.Name == args[0] {
					v, err := node.ValidatorOf(nd.Home, power, nd.Agency.ID)
					if err != nil {
						return err
					}
					b, _ := json.MarshalIndent(app.SetValidatorStatement{Validator: v}, "", "  ")
					fmt.Println(string(b))
					return nil
				}
			}
			return fmt.Errorf("no node %s in %s", args[0], dir)
		},
	}
	validatorC.Flags().Int64Var(&power, "power", 10, "voting power (0 removes the validator)")

	c.AddCommand(initC, startC, stopC, statusC, addC, validatorC)
	return c
}

func printNodes(n *localnet.Network) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tAGENCY\tAPI\tRPC\tP2P\tHOME")
	for _, nd := range n.Nodes {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", nd.Name, nd.Agency.ID, nd.API, nd.RPC, nd.P2P, nd.Home)
	}
	w.Flush()
}

func printStatus(st []localnet.NodeStatus) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tAGENCY\tPID\tAPI\tHEIGHT\tAPP HASH")
	for _, s := range st {
		pid := "-"
		if s.Running {
			pid = fmt.Sprint(s.PID)
		}
		height, hash := fmt.Sprint(s.Height), s.AppHash
		switch {
		case s.Error != "" && !s.Running:
			height, hash = "-", "(stopped)"
		case s.Error != "":
			height, hash = "-", "(not answering: "+s.Error+")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Agency, pid, s.API, height, hash)
	}
	w.Flush()
}
