package node

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/vault"
)

// JoinOptions describe a node that joins a running network: its own keys
// (node, validator, its agency's authority keys), the network's genesis
// and pseudonym key, its peers, and how it catches up: by state sync from
// a snapshot (StateSync set) or by block sync from height 1.
//
// A joining node is not a validator until governance adds its validator
// key (validator.set/v1, M of N); Join writes that statement to
// config/validator.json. Its agency's keys are on the ledger only once
// governance registers the authority (authority.register/v1).
type JoinOptions struct {
	Home Home
	// Genesis is the network's genesis.json.
	Genesis []byte
	Moniker string
	// Settings: API address, the agency's id and name (IssuerID,
	// IssuerName), snapshots.
	Settings Settings
	// P2PListen and RPCListen are CometBFT's addresses ("" disables RPC).
	P2PListen, RPCListen string
	TimeoutCommit        time.Duration
	// Peers are the network's nodes (id@host:port), dialled as persistent
	// peers.
	Peers []string
	// PseudonymKey is the consortium's pseudonym key file: every node
	// derives the same recipient references.
	PseudonymKey string
	// StateSync, if set, restores the state from a snapshot of the peers'.
	StateSync *StateSync
	// MultiNode tunes CometBFT for several nodes on one machine
	// (MultiNodeConfig).
	MultiNode bool
	// Power is the voting power written in config/validator.json (10).
	Power int64
	Out   io.Writer
}

// StateSync is CometBFT's [statesync] for a joining node: the light client
// checks the snapshot's app hash against headers from RPCServers, trusting
// the header of TrustHeight with hash TrustHash.
type StateSync struct {
	RPCServers  []string
	TrustHeight int64
	TrustHash   string
	// TrustPeriod bounds how old the trusted header may be (168h).
	TrustPeriod time.Duration
}

// Joined is what Join made.
type Joined struct {
	NodeID string `json:"node_id"`
	// Validator is the node's validator key as validator.set/v1 names it.
	Validator app.Validator `json:"validator"`
	// ValidatorStatement is the path of the statement to propose.
	ValidatorStatement string `json:"validator_statement"`
}

// ValidatorFile is where Join writes the validator.set/v1 statement that
// adds the node (config/validator.json).
func (h Home) ValidatorFile() string { return filepath.Join(h.Config(), "validator.json") }

// Join creates a home for a node that joins the network of o.Genesis.
func Join(o JoinOptions) (j *Joined, err error) {
	h := o.Home
	if o.Out == nil {
		o.Out = io.Discard
	}
	if _, err := os.Stat(h.Genesis()); err == nil {
		return nil, fmt.Errorf("%s already holds a node (config/genesis.json exists)", h)
	}
	doc, err := cmttypes.GenesisDocFromJSON(o.Genesis)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	if _, err := app.ParseGenesis(doc.AppState); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	if len(o.Peers) == 0 {
		return nil, errors.New("a joining node needs the network's peers (id@host:port)")
	}
	pk, err := ingest.LoadPseudonymKey(o.PseudonymKey)
	if err != nil {
		return nil, fmt.Errorf("the consortium's pseudonym key: %w", err)
	}
	if o.Power == 0 {
		o.Power = 10
	}
	if o.Moniker == "" {
		o.Moniker = o.Settings.IssuerID
	}
	if o.TimeoutCommit == 0 {
		o.TimeoutCommit = 200 * time.Millisecond
	}
	made := []string{h.Config(), filepath.Join(string(h), "data"), h.Keys(), h.Vault(), h.Registry(), h.Logs()}
	for _, d := range made {
		if _, serr := os.Stat(d); serr == nil {
			return nil, fmt.Errorf("%s already holds part of a node (%s exists): join writes a new node home", h, d)
		}
	}
	defer func() {
		if err != nil {
			for _, d := range made {
				os.RemoveAll(d)
			}
		}
	}()
	for _, d := range []string{h.Config(), filepath.Join(string(h), "data"), h.Keys(), filepath.Join(h.Keys(), "authorities"), h.Registry(), h.Logs()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}

	cfg := CometConfig(InitOptions{Home: h, Moniker: o.Moniker, P2PListen: o.P2PListen, RPCListen: o.RPCListen, TimeoutCommit: o.TimeoutCommit})
	if o.MultiNode {
		MultiNodeConfig(cfg)
	}
	cfg.P2P.PersistentPeers = strings.Join(o.Peers, ",")
	if ss := o.StateSync; ss != nil {
		cfg.StateSync.Enable = true
		cfg.StateSync.RPCServers = append([]string(nil), ss.RPCServers...)
		if len(cfg.StateSync.RPCServers) == 1 {
			// CometBFT wants a witness besides the primary.
			cfg.StateSync.RPCServers = append(cfg.StateSync.RPCServers, ss.RPCServers[0])
		}
		cfg.StateSync.TrustHeight, cfg.StateSync.TrustHash = ss.TrustHeight, strings.ToUpper(ss.TrustHash)
		if ss.TrustPeriod > 0 {
			cfg.StateSync.TrustPeriod = ss.TrustPeriod
		}
		cfg.StateSync.DiscoveryTime = 5 * time.Second
	}
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("CometBFT config: %w", err)
	}
	cmtcfg.WriteConfigFile(filepath.Join(h.Config(), "config.toml"), cfg)
	nodeKey, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, err
	}
	pv := privval.LoadOrGenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pub, err := pv.GetPubKey()
	if err != nil {
		return nil, err
	}
	if err := doc.SaveAs(h.Genesis()); err != nil {
		return nil, err
	}
	if err := pk.Save(h.PseudonymKey()); err != nil {
		return nil, err
	}

	// The agency's own authority keys (the ledger knows them once
	// governance registers the authority).
	s := o.Settings
	if s.IssuerID == "" || !codeRE.MatchString(s.IssuerID) {
		return nil, fmt.Errorf("agency id %q: 1-64 letters, digits, _ . -", s.IssuerID)
	}
	for _, role := range []string{app.RoleGovernance, app.RoleIssuer} {
		k, err := keys.Generate(keys.AlgEdDSA)
		if err != nil {
			return nil, err
		}
		if err := keys.Save(h.AuthorityKey(s.IssuerID, role), k, app.AuthorityOwner(s.IssuerID), role); err != nil {
			return nil, err
		}
	}
	s.IssuerKey = rel(h, h.AuthorityKey(s.IssuerID, app.RoleIssuer))
	s.GovernanceKey = rel(h, h.AuthorityKey(s.IssuerID, app.RoleGovernance))
	if _, err := makeFormatSigners(h, &s); err != nil {
		return nil, err
	}
	if err := os.WriteFile(h.AdminToken(), []byte(randomToken()+"\n"), 0o600); err != nil {
		return nil, err
	}
	v, err := vault.Open(h.Vault())
	if err != nil {
		return nil, err
	}
	if err := v.Close(); err != nil {
		return nil, err
	}
	if err := SaveSettings(h, s); err != nil {
		return nil, err
	}
	val := app.NewValidator(ed25519.PublicKey(pub.Bytes()), o.Power, o.Moniker)
	sb, _ := json.MarshalIndent(app.SetValidatorStatement{Validator: val}, "", "  ")
	if err := os.WriteFile(h.ValidatorFile(), append(sb, '\n'), 0o644); err != nil {
		return nil, err
	}
	how := "block sync from height 1"
	if o.StateSync != nil {
		how = fmt.Sprintf("state sync (light client on %s, trusting height %d)", strings.Join(cfg.StateSync.RPCServers, ", "), cfg.StateSync.TrustHeight)
	}
	fmt.Fprintf(o.Out, "initialized %s to join chain %s: node id %s, validator %s; it catches up by %s\n", h, doc.ChainID, nodeKey.ID(), val.Address, how)
	return &Joined{NodeID: string(nodeKey.ID()), Validator: val, ValidatorStatement: h.ValidatorFile()}, nil
}

// ValidatorOf reads a home's validator key, as validator.set/v1 names it.
func ValidatorOf(h Home, power int64, name string) (app.Validator, error) {
	b, err := os.ReadFile(filepath.Join(h.Config(), "priv_validator_key.json"))
	if err != nil {
		return app.Validator{}, err
	}
	var f struct {
		PubKey struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"pub_key"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return app.Validator{}, err
	}
	pub, err := base64.StdEncoding.DecodeString(f.PubKey.Value)
	if err != nil || len(pub) != ed25519.PublicKeySize || f.PubKey.Type != "tendermint/PubKeyEd25519" {
		return app.Validator{}, fmt.Errorf("%s: not an Ed25519 validator key", h)
	}
	return app.NewValidator(ed25519.PublicKey(pub), power, name), nil
}

// rpcGet reads a CometBFT RPC result.
func rpcGet(ctx context.Context, base, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&env); err != nil {
		return fmt.Errorf("%s%s: %w", base, path, err)
	}
	if len(env.Error) > 0 && string(env.Error) != "null" {
		return fmt.Errorf("%s%s: %s", base, path, env.Error)
	}
	return json.Unmarshal(env.Result, out)
}

// GenesisFromRPC fetches the network's genesis from a node's CometBFT RPC.
// Check it (its hash) with the consortium before trusting it.
func GenesisFromRPC(ctx context.Context, rpc string) ([]byte, error) {
	var out struct {
		Genesis json.RawMessage `json:"genesis"`
	}
	if err := rpcGet(ctx, rpc, "/genesis", &out); err != nil {
		return nil, err
	}
	return out.Genesis, nil
}

// TrustFromRPC reads the latest committed header's height and hash from a
// node's CometBFT RPC, to trust for state sync. It is as trustworthy as
// that node: compare it with another agency's before relying on it.
func TrustFromRPC(ctx context.Context, rpc string) (int64, string, error) {
	var out struct {
		SignedHeader struct {
			Header struct {
				Height string `json:"height"`
			} `json:"header"`
			Commit struct {
				BlockID struct {
					Hash string `json:"hash"`
				} `json:"block_id"`
			} `json:"commit"`
		} `json:"signed_header"`
	}
	if err := rpcGet(ctx, rpc, "/commit", &out); err != nil {
		return 0, "", err
	}
	h, err := strconv.ParseInt(out.SignedHeader.Header.Height, 10, 64)
	if err != nil || h < 1 || out.SignedHeader.Commit.BlockID.Hash == "" {
		return 0, "", fmt.Errorf("%s/commit: no committed header yet", rpc)
	}
	return h, out.SignedHeader.Commit.BlockID.Hash, nil
}
