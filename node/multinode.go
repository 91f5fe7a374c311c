package node

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/divoc/divoc/abci"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/genesis"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/vault"
)

// Agency is one member of a multi-agency network: an authority that runs
// one validator node, governs and issues certificates with its own keys.
type Agency struct {
	// ID and Name are the authority's, on the ledger.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Host is the address the node listens on and its peers dial
	// (default 127.0.0.1).
	Host string `json:"host,omitempty"`
	// P2PPort, RPCPort and APIPort are the node's ports (RPCPort 0
	// disables CometBFT's RPC).
	P2PPort int `json:"p2p_port"`
	RPCPort int `json:"rpc_port"`
	APIPort int `json:"api_port"`
}

func (a Agency) host() string {
	if a.Host == "" {
		return "127.0.0.1"
	}
	return a.Host
}

// NetworkOptions describe a network of several validators, one per agency,
// sharing one genesis.
type NetworkOptions struct {
	// Dir holds the homes: Dir/node1 ... Dir/nodeN, in the order of Agencies.
	Dir      string
	ChainID  string
	Agencies []Agency
	// FacilitiesCSV and VaccinatorsCSV are DIVOC-format registry files.
	FacilitiesCSV, VaccinatorsCSV string
	// Params are the chain's; set GovernanceThreshold to M of the
	// len(Agencies) governance authorities.
	Params app.Params
	// TimeoutCommit is CometBFT's pause after each block.
	TimeoutCommit time.Duration
	GenesisTime   time.Time
	// Tune adjusts each node's CometBFT configuration after the defaults
	// of MultiNodeConfig (nil: none).
	Tune func(i int, cfg *cmtcfg.Config)
	// Settings adjusts each node's settings (nil: none).
	Settings func(i int, s *Settings)
	Out      io.Writer
}

// NetworkNode is one initialized node of a network.
type NetworkNode struct {
	Name   string `json:"name"` // node1 ...
	Home   Home   `json:"home"`
	Agency Agency `json:"agency"`
	// NodeID is CometBFT's node id (from node_key.json).
	NodeID string `json:"node_id"`
	// ValidatorAddress is the validator's CometBFT address (hex).
	ValidatorAddress string `json:"validator_address"`
	// P2P is the peer address (id@host:port); API and RPC are URLs.
	P2P string `json:"p2p"`
	RPC string `json:"rpc,omitempty"`
	API string `json:"api"`
}

// InitNetwork creates one home per agency under o.Dir and a shared genesis
// naming every agency as an authority (governance and issuer roles, each
// with its own keys, kept only in its own node's home) and every node as a
// validator of equal power, with the facilities and vaccinators of the
// registry files. Each node's settings point at its own authority's keys;
// persistent peers connect every node to every other.
//
// What a consortium shares is the same in every home: the pseudonym key
// (recipient references and commitments must agree across nodes, or a
// facility's signature would not cover the events another node derives),
// and, for convenience on one machine, the facilities' keys and API tokens
// (so any node can sign custodial uploads). Each node has its own admin
// token, node key, validator key and vault.
func InitNetwork(o NetworkOptions) ([]NetworkNode, error) {
	if len(o.Agencies) == 0 {
		return nil, errors.New("a network needs at least one agency")
	}
	if o.ChainID == "" {
		o.ChainID = "divoc-localnet"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.TimeoutCommit == 0 {
		o.TimeoutCommit = 200 * time.Millisecond
	}
	if o.Params == (app.Params{}) {
		o.Params = app.DefaultParams()
	}
	if o.FacilitiesCSV == "" || o.VaccinatorsCSV == "" {
		return nil, errors.New("a network needs a facilities.csv and a vaccinators.csv (divoc gen-data writes sample ones)")
	}
	facilities, vaccinators, err := readRegistries(o.FacilitiesCSV, o.VaccinatorsCSV)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, a := range o.Agencies {
		if seen[a.ID] {
			return nil, fmt.Errorf("agency %s listed twice", a.ID)
		}
		seen[a.ID] = true
	}

	nodes := make([]NetworkNode, len(o.Agencies))
	cfgs := make([]*cmtcfg.Config, len(o.Agencies))
	settings := make([]Settings, len(o.Agencies))
	var authorities []genesis.Authority
	var validators []cmttypes.GenesisValidator
	for i, ag := range o.Agencies {
		name := fmt.Sprintf("node%d", i+1)
		h := Home(filepath.Join(o.Dir, name))
		if _, err := os.Stat(h.Genesis()); err == nil {
			return nil, fmt.Errorf("%s already holds a node (config/genesis.json exists)", h)
		}
		for _, d := range []string{h.Config(), filepath.Join(string(h), "data"), h.Keys(), filepath.Join(h.Keys(), "facilities"), filepath.Join(h.Keys(), "authorities"), h.Registry(), h.Logs()} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
		}
		io2 := InitOptions{Home: h, ChainID: o.ChainID, Moniker: ag.ID, TimeoutCommit: o.TimeoutCommit,
			P2PListen: fmt.Sprintf("tcp://%s:%d", ag.host(), ag.P2PPort)}
		if ag.RPCPort > 0 {
			io2.RPCListen = fmt.Sprintf("tcp://%s:%d", ag.host(), ag.RPCPort)
		}
		cfg := CometConfig(io2)
		MultiNodeConfig(cfg)
		if o.Tune != nil {
			o.Tune(i, cfg)
		}
		nodeKey, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
		if err != nil {
			return nil, err
		}
		pv := privval.LoadOrGenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
		pub, err := pv.GetPubKey()
		if err != nil {
			return nil, err
		}
		validators = append(validators, cmttypes.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: ag.ID})

		auth := genesis.Authority{ID: ag.ID, Name: ag.Name, Roles: []string{app.RoleGovernance, app.RoleIssuer}, Keys: map[string]ed25519.PublicKey{}}
		for _, role := range auth.Roles {
			k, err := keys.Generate(keys.AlgEdDSA)
			if err != nil {
				return nil, err
			}
			if err := keys.Save(h.AuthorityKey(ag.ID, role), k, app.AuthorityOwner(ag.ID), role); err != nil {
				return nil, err
			}
			auth.Keys[role] = k.Public().(ed25519.PublicKey)
		}
		s := DefaultSettings()
		s.IssuerID, s.IssuerName = ag.ID, ag.Name
		s.IssuerKey = rel(h, h.AuthorityKey(ag.ID, app.RoleIssuer))
		s.GovernanceKey = rel(h, h.AuthorityKey(ag.ID, app.RoleGovernance))
		// The agency's signers for the other credential formats (EU DCC,
		// SMART Health Cards), as divoc init makes them.
		if auth.FormatKeys, err = makeFormatSigners(h, &s); err != nil {
			return nil, err
		}
		authorities = append(authorities, auth)
		s.APIListen = fmt.Sprintf("%s:%d", ag.host(), ag.APIPort)
		s.PublicURL = "http://" + s.APIListen
		if o.Settings != nil {
			o.Settings(i, &s)
		}
		settings[i], cfgs[i] = s, cfg
		nodes[i] = NetworkNode{Name: name, Home: h, Agency: ag, NodeID: string(nodeKey.ID()), ValidatorAddress: pub.Address().String(),
			P2P: fmt.Sprintf("%s@%s:%d", nodeKey.ID(), ag.host(), ag.P2PPort), API: s.PublicURL}
		if ag.RPCPort > 0 {
			nodes[i].RPC = fmt.Sprintf("http://%s:%d", ag.host(), ag.RPCPort)
		}
		if err := os.WriteFile(h.AdminToken(), []byte(randomToken()+"\n"), 0o600); err != nil {
			return nil, err
		}
	}

	// What the consortium shares: the pseudonym key, the facilities' keys
	// and tokens.
	pk := ingest.NewPseudonymKey()
	facKeys := map[string]ed25519.PublicKey{}
	facSigners := map[string]*keys.Signer{}
	tokens := map[string]string{}
	for _, f := range facilities {
		k, err := keys.Generate(keys.AlgEdDSA)
		if err != nil {
			return nil, err
		}
		facKeys[f.Code], facSigners[f.Code] = k.Public().(ed25519.PublicKey), k
		tokens[randomToken()] = f.Code
	}
	tb, _ := json.MarshalIndent(tokens, "", "  ")

	params := o.Params
	g, warnings, err := genesis.Build(genesis.Input{
		Params: params, Authorities: authorities,
		Programs: genesis.DefaultPrograms(), Vaccines: genesis.DefaultVaccines(),
		Facilities: facilities, FacilityKeys: facKeys, Vaccinators: vaccinators, CommitKey: pk,
	})
	for _, w := range warnings {
		fmt.Fprintln(o.Out, "warning:", w)
	}
	if err != nil {
		return nil, err
	}
	appState, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, err
	}
	gt := o.GenesisTime
	if gt.IsZero() {
		gt = time.Now().UTC().Truncate(time.Second)
	}
	cp := cmttypes.DefaultConsensusParams()
	cp.Block.MaxBytes = 22020096
	cp.Version.App = abci.AppVersion
	doc := &cmttypes.GenesisDoc{ChainID: o.ChainID, GenesisTime: gt, ConsensusParams: cp, AppState: appState, Validators: validators}
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, err
	}

	for i, n := range nodes {
		h := n.Home
		var peers []string
		for j, m := range nodes {
			if j != i {
				peers = append(peers, m.P2P)
			}
		}
		cfgs[i].P2P.PersistentPeers = strings.Join(peers, ",")
		cmtcfg.WriteConfigFile(filepath.Join(h.Config(), "config.toml"), cfgs[i])
		if err := doc.SaveAs(h.Genesis()); err != nil {
			return nil, err
		}
		if err := pk.Save(h.PseudonymKey()); err != nil {
			return nil, err
		}
		for code, k := range facSigners {
			if err := keys.Save(h.FacilityKey(code), k, app.FacilityOwner(code), app.RoleFacility); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(h.FacilityTokens(), tb, 0o600); err != nil {
			return nil, err
		}
		v, err := vault.Open(h.Vault())
		if err != nil {
			return nil, err
		}
		if err := v.PutVaccinators(vaccinators); err != nil {
			v.Close()
			return nil, err
		}
		if err := v.Close(); err != nil {
			return nil, err
		}
		for _, f := range []string{o.FacilitiesCSV, o.VaccinatorsCSV} {
			if err := copyFile(f, filepath.Join(h.Registry(), filepath.Base(f))); err != nil {
				return nil, err
			}
		}
		if err := SaveSettings(h, settings[i]); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(o.Out, "initialized %d validators under %s: chain %s, %d authorities (governance threshold %d), %d facilities, %d vaccinators\n",
		len(nodes), o.Dir, o.ChainID, len(authorities), params.GovernanceThreshold, len(g.Facilities), len(g.Vaccinators))
	return nodes, nil
}

// MultiNodeConfig tunes CometBFT for several validators sharing a small
// machine, over CometConfig's single-node settings: peers are all
// persistent (no peer exchange), the connections carry whole batches
// (high send and receive rates, 1 MB packets, a short flush), gossip wakes
// up more often than the default 100 ms, and each node's mempool is bounded
// to 512 MB of transactions (four of them share the memory).
func MultiNodeConfig(cfg *cmtcfg.Config) {
	cfg.P2P.PexReactor = false
	cfg.P2P.AllowDuplicateIP = true
	cfg.P2P.AddrBookStrict = false
	cfg.P2P.SendRate = 128 << 20
	cfg.P2P.RecvRate = 128 << 20
	cfg.P2P.MaxPacketMsgPayloadSize = 1 << 20
	cfg.P2P.FlushThrottleTimeout = 5 * time.Millisecond
	cfg.P2P.DialTimeout = time.Second
	cfg.Consensus.PeerGossipSleepDuration = 20 * time.Millisecond
	cfg.Consensus.TimeoutPropose = 2 * time.Second
	cfg.Mempool.Size = 20000
	cfg.Mempool.MaxTxsBytes = 512 << 20
	cfg.Mempool.Broadcast = true
}
