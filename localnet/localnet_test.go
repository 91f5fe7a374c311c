package localnet_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"strconv"
	"strings"
	"testing"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/localnet"
	"github.com/divoc/divoc/node"
)

// The shipped template names four agencies on distinct loopback ports
// with a governance threshold of 3.
func TestDefaultConfig(t *testing.T) {
	c := localnet.DefaultConfig()
	if len(c.Agencies) != 4 || c.GovernanceThreshold != 3 {
		t.Fatalf("template: %d agencies, threshold %d", len(c.Agencies), c.GovernanceThreshold)
	}
	seen := map[int]bool{}
	for _, a := range c.Agencies {
		for _, p := range []int{a.P2PPort, a.RPCPort, a.APIPort} {
			if p == 0 || seen[p] {
				t.Fatalf("port %d of %s is zero or used twice", p, a.ID)
			}
			seen[p] = true
		}
	}
}

// init writes four homes sharing one genesis: four validators of equal
// power, four authorities each with its own governance and issuer keys
// (held only in its own node's home, which its settings point at), the
// threshold, and every node a persistent peer of every other.
func TestInitFourAgencies(t *testing.T) {
	dir := t.TempDir()
	c := localnet.DefaultConfig()
	c.Certificates, c.Facilities = 50, 3
	for i := range c.Agencies { // ports are not used: nothing starts
		c.Agencies[i].P2PPort += 10000
		c.Agencies[i].RPCPort += 10000
		c.Agencies[i].APIPort += 10000
	}
	n, err := localnet.Init(dir, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localnet.Init(dir, c, nil); err == nil {
		t.Fatal("init over an existing localnet did not fail")
	}
	again, err := localnet.Load(dir)
	if err != nil || len(again.Nodes) != 4 || again.ChainID != c.ChainID {
		t.Fatalf("load: %+v %v", again, err)
	}

	var genesis []byte
	for i, nd := range n.Nodes {
		b, err := os.ReadFile(nd.Home.Genesis())
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			genesis = b
		} else if !bytes.Equal(b, genesis) {
			t.Fatalf("%s has another genesis", nd.Name)
		}
	}
	doc, err := cmttypes.GenesisDocFromJSON(genesis)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Validators) != 4 {
		t.Fatalf("%d validators", len(doc.Validators))
	}
	g, err := app.ParseGenesis(doc.AppState)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Authorities) != 4 || g.Params.GovernanceThreshold != 3 {
		t.Fatalf("%d authorities, threshold %d", len(g.Authorities), g.Params.GovernanceThreshold)
	}
	genesisKeys := map[string]string{} // authority/role -> public key
	for _, a := range g.Authorities {
		for _, k := range a.Keys {
			genesisKeys[a.Authority.ID+"/"+k.Role] = k.Public
		}
	}

	for i, nd := range n.Nodes {
		ag := c.Agencies[i]
		if nd.Agency.ID != ag.ID || doc.Validators[i].Power != 10 {
			t.Fatalf("%s: agency %s, power %d", nd.Name, nd.Agency.ID, doc.Validators[i].Power)
		}
		s, err := node.LoadSettings(nd.Home)
		if err != nil {
			t.Fatal(err)
		}
		if s.IssuerID != ag.ID || !strings.HasSuffix(s.APIListen, ":"+itoa(ag.APIPort)) {
			t.Fatalf("%s settings: issuer %s, API %s", nd.Name, s.IssuerID, s.APIListen)
		}
		for role, file := range map[string]string{app.RoleIssuer: s.IssuerKey, app.RoleGovernance: s.GovernanceKey} {
			k, err := keys.Load(nd.Home.Resolve(file))
			if err != nil {
				t.Fatalf("%s %s key: %v", nd.Name, role, err)
			}
			if pub := base64.RawURLEncoding.EncodeToString(k.Public().(ed25519.PublicKey)); pub != genesisKeys[ag.ID+"/"+role] {
				t.Fatalf("%s's %s key is not %s's key in the genesis", nd.Name, role, ag.ID)
			}
			// No other home holds this agency's keys.
			for j, other := range n.Nodes {
				if j != i {
					if _, err := os.Stat(other.Home.AuthorityKey(ag.ID, role)); err == nil {
						t.Fatalf("%s holds %s's %s key", other.Name, ag.ID, role)
					}
				}
			}
		}
		cfg, err := node.LoadCometConfig(nd.Home)
		if err != nil {
			t.Fatal(err)
		}
		peers := strings.Split(cfg.P2P.PersistentPeers, ",")
		if len(peers) != 3 || strings.Contains(cfg.P2P.PersistentPeers, nd.NodeID) {
			t.Fatalf("%s persistent peers %q", nd.Name, cfg.P2P.PersistentPeers)
		}
		for j, other := range n.Nodes {
			if j != i && !strings.Contains(cfg.P2P.PersistentPeers, other.NodeID+"@127.0.0.1:"+itoa(other.Agency.P2PPort)) {
				t.Fatalf("%s does not peer with %s", nd.Name, other.Name)
			}
		}
		if cfg.P2P.PexReactor || cfg.P2P.MaxPacketMsgPayloadSize < 1<<20 || cfg.P2P.SendRate < 50<<20 {
			t.Fatalf("%s: P2P not tuned: %+v", nd.Name, cfg.P2P)
		}
		if _, ok := n.Running(i); ok {
			t.Fatalf("%s reported running before start", nd.Name)
		}
	}
	for _, st := range n.Status(context.Background()) {
		if st.Running || st.Error == "" {
			t.Fatalf("status of a stopped node: %+v", st)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
