package localnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/divoc/divoc/node"
)

// AddOptions describe a node added to an initialized (and running)
// localnet.
type AddOptions struct {
	// Agency names the node's operator (its own authority keys, not on the
	// ledger until governance registers them) and its ports.
	Agency node.Agency
	// StateSync restores the node from a snapshot of the others' (the
	// light client trusts the latest header of the first node's RPC);
	// otherwise it block-syncs from height 1.
	StateSync bool
}

// AddNode creates a home for one more node, nodeN+1, joining the network:
// the same genesis and pseudonym key, the existing nodes as peers, the same
// commit timeout and snapshot interval. The node is a validator only once
// governance adds the key in its config/validator.json. The manifest is
// rewritten with it.
func (n *Network) AddNode(ctx context.Context, o AddOptions) (*node.NetworkNode, error) {
	if len(n.Nodes) == 0 {
		return nil, fmt.Errorf("the localnet in %s has no node to join", n.Dir)
	}
	first := n.Nodes[0]
	gen, err := os.ReadFile(first.Home.Genesis())
	if err != nil {
		return nil, err
	}
	cfg, err := node.LoadCometConfig(first.Home)
	if err != nil {
		return nil, err
	}
	base, err := node.LoadSettings(first.Home)
	if err != nil {
		return nil, err
	}
	ag := o.Agency
	host := ag.Host
	if host == "" {
		host = "127.0.0.1"
	}
	name := fmt.Sprintf("node%d", len(n.Nodes)+1)
	h := node.Home(filepath.Join(n.Dir, name))
	s := node.DefaultSettings()
	s.IssuerID, s.IssuerName = ag.ID, ag.Name
	s.APIListen = fmt.Sprintf("%s:%d", host, ag.APIPort)
	s.PublicURL = "http://" + s.APIListen
	s.SnapshotInterval, s.SnapshotKeepRecent, s.SnapshotChunkSize = base.SnapshotInterval, base.SnapshotKeepRecent, base.SnapshotChunkSize
	jo := node.JoinOptions{Home: h, Genesis: gen, Moniker: ag.ID, Settings: s, TimeoutCommit: cfg.Consensus.TimeoutCommit,
		P2PListen: fmt.Sprintf("tcp://%s:%d", host, ag.P2PPort), PseudonymKey: first.Home.PseudonymKey(), MultiNode: true}
	if ag.RPCPort > 0 {
		jo.RPCListen = fmt.Sprintf("tcp://%s:%d", host, ag.RPCPort)
	}
	var rpcs []string
	for _, m := range n.Nodes {
		jo.Peers = append(jo.Peers, m.P2P)
		if m.RPC != "" && len(rpcs) < 2 {
			rpcs = append(rpcs, m.RPC)
		}
	}
	if o.StateSync {
		if len(rpcs) == 0 {
			return nil, fmt.Errorf("state sync needs a node with CometBFT's RPC")
		}
		th, hash, err := node.TrustFromRPC(ctx, rpcs[0])
		if err != nil {
			return nil, err
		}
		jo.StateSync = &node.StateSync{RPCServers: rpcs, TrustHeight: th, TrustHash: hash}
	}
	j, err := node.Join(jo)
	if err != nil {
		return nil, err
	}
	nd := &node.NetworkNode{Name: name, Home: h, Agency: ag, NodeID: j.NodeID, ValidatorAddress: j.Validator.Address,
		P2P: fmt.Sprintf("%s@%s:%d", j.NodeID, host, ag.P2PPort), API: s.PublicURL}
	if ag.RPCPort > 0 {
		nd.RPC = fmt.Sprintf("http://%s:%d", host, ag.RPCPort)
	}
	n.Nodes = append(n.Nodes, nd)
	b, _ := json.MarshalIndent(n, "", "  ")
	if err := os.WriteFile(filepath.Join(n.Dir, ManifestFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return nd, nil
}
