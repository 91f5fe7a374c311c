package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/node"
)

func initCmd() *cobra.Command {
	o := node.DefaultInitOptions("")
	var home string
	var j joinFlags
	c := &cobra.Command{
		Use:   "init --home DIR --facilities facilities.csv --vaccinators vaccinators.csv | init --join RPC-URL --peers ... --pseudonym-key FILE",
		Short: "Create a node home: a new single-validator network, or (--join) a node joining a running one",
		Long: `init creates a node home directory: CometBFT's config.toml, node and validator
keys, the issuing authority's keys, one signing key and API token per facility,
the pseudonym key, and a genesis with the default programs and vaccines and the
facilities and vaccinators read from DIVOC-format CSV files (divoc gen-data
writes sample ones).

With --join, the node joins a running network instead: the genesis comes from
--genesis or the network node's CometBFT RPC at --join, the consortium's
pseudonym key from --pseudonym-key, the peers from --peers. It catches up by
state sync from a snapshot with --state-sync-rpc (trust height and hash default
to the latest header of the first server: compare them with another agency's),
otherwise by block sync from height 1. It becomes a validator once governance
adds the key in config/validator.json:
  divoc gov propose validator.set/v1 DIR/config/validator.json --node URL --token T`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Home = node.Home(home)
			o.Out = os.Stdout
			if o.Settings.PublicURL == node.DefaultSettings().PublicURL {
				o.Settings.PublicURL = "http://" + o.Settings.APIListen
			}
			if j.join != "" || j.genesis != "" {
				return j.run(cmd.Context(), o)
			}
			if o.FacilitiesCSV == "" || o.VaccinatorsCSV == "" {
				return errors.New("init needs --facilities and --vaccinators (or --join to join a network)")
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
	f.StringVar(&j.join, "join", "", "join the network of this node's CometBFT RPC URL (its genesis, unless --genesis)")
	f.StringVar(&j.genesis, "genesis", "", "the network's genesis.json (with --join)")
	f.StringSliceVar(&j.peers, "peers", nil, "the network's nodes, id@host:port (with --join)")
	f.StringVar(&j.pseudonym, "pseudonym-key", "", "the consortium's pseudonym key file (with --join)")
	f.StringSliceVar(&j.rpc, "state-sync-rpc", nil, "restore from a snapshot, checking it with a light client against these CometBFT RPC URLs (one or two)")
	f.Int64Var(&j.trustHeight, "trust-height", 0, "state sync: height of a trusted header (default: the first RPC's latest)")
	f.StringVar(&j.trustHash, "trust-hash", "", "state sync: hash of the header at --trust-height")
	f.DurationVar(&j.trustPeriod, "trust-period", 168*time.Hour, "state sync: how old the trusted header may be")
	f.Int64Var(&o.Settings.SnapshotInterval, "snapshot-interval", o.Settings.SnapshotInterval, "take a state sync snapshot every this many blocks (0: none)")
	return c
}

type joinFlags struct {
	join, genesis, pseudonym, trustHash string
	peers, rpc                          []string
	trustHeight                         int64
	trustPeriod                         time.Duration
}

func (j *joinFlags) run(ctx context.Context, o node.InitOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var gen []byte
	var err error
	switch {
	case j.genesis != "":
		gen, err = os.ReadFile(j.genesis)
	case j.join != "":
		gen, err = node.GenesisFromRPC(ctx, j.join)
	}
	if err != nil {
		return err
	}
	jo := node.JoinOptions{Home: o.Home, Genesis: gen, Moniker: o.Moniker, Settings: o.Settings, P2PListen: o.P2PListen, RPCListen: o.RPCListen,
		TimeoutCommit: o.TimeoutCommit, Peers: j.peers, PseudonymKey: j.pseudonym, Out: os.Stdout}
	if jo.Moniker == node.DefaultInitOptions("").Moniker {
		jo.Moniker = o.Settings.IssuerID
	}
	if len(j.rpc) > 0 {
		ss := &node.StateSync{RPCServers: j.rpc, TrustHeight: j.trustHeight, TrustHash: j.trustHash, TrustPeriod: j.trustPeriod}
		if ss.TrustHeight == 0 || ss.TrustHash == "" {
			if ss.TrustHeight, ss.TrustHash, err = node.TrustFromRPC(ctx, j.rpc[0]); err != nil {
				return err
			}
			fmt.Printf("trusting header %d %s from %s: compare it with another agency's node\n", ss.TrustHeight, ss.TrustHash, j.rpc[0])
		}
		jo.StateSync = ss
	}
	res, err := node.Join(jo)
	if err != nil {
		return err
	}
	fmt.Printf("to make it a validator: divoc gov propose %s %s (then approvals to the threshold)\n", app.KindSetValidator, res.ValidatorStatement)
	return nil
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
