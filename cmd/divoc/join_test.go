package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/node"
)

// `divoc init --join` makes a home that joins an existing network: the
// network's genesis and pseudonym key, its peers, CometBFT's [statesync]
// (two RPC servers, the trusted header) when asked, and the statement that
// governance proposes to make it a validator. Missing pieces are refused
// and leave nothing behind.
func TestInitJoin(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "node1")
	if _, err := node.InitLocal(node.LocalOptions{Home: src, Seed: 4, Facilities: 1, Certificates: 1}); err != nil {
		t.Fatal(err)
	}
	h := node.Home(src)
	run := func(args ...string) error {
		c := initCmd()
		c.SetArgs(args)
		c.SetOut(os.Stderr)
		c.SilenceUsage, c.SilenceErrors = true, true
		return c.Execute()
	}
	const peer = "0123456789abcdef0123456789abcdef01234567@127.0.0.1:26656"
	hash := strings.Repeat("AB", 32)
	joined := filepath.Join(dir, "node2")
	if err := run("--home", joined, "--join", "http://127.0.0.1:1", "--genesis", h.Genesis(), "--peers", peer, "--pseudonym-key", h.PseudonymKey(),
		"--state-sync-rpc", "http://127.0.0.1:26657", "--trust-height", "42", "--trust-hash", hash, "--issuer-id", "ka-health", "--api-addr", "127.0.0.1:8489",
		"--p2p-addr", "tcp://127.0.0.1:26699", "--snapshot-interval", "500"); err != nil {
		t.Fatal(err)
	}
	jh := node.Home(joined)
	cfg, err := node.LoadCometConfig(jh)
	if err != nil {
		t.Fatal(err)
	}
	ss := cfg.StateSync
	if !ss.Enable || len(ss.RPCServers) != 2 || ss.RPCServers[1] != "http://127.0.0.1:26657" || ss.TrustHeight != 42 || ss.TrustHash != hash || ss.TrustPeriod != 168*time.Hour {
		t.Fatalf("[statesync]: %+v", ss)
	}
	if cfg.P2P.PersistentPeers != peer || cfg.P2P.ListenAddress != "tcp://127.0.0.1:26699" {
		t.Fatalf("p2p: %q %q", cfg.P2P.PersistentPeers, cfg.P2P.ListenAddress)
	}
	for _, f := range []string{jh.Genesis(), jh.PseudonymKey()} {
		a, _ := os.ReadFile(strings.Replace(f, joined, src, 1))
		b, err := os.ReadFile(f)
		if err != nil || (f == jh.PseudonymKey() && string(a) != string(b)) {
			t.Fatalf("%s: %v", f, err)
		}
	}
	s, err := node.LoadSettings(jh)
	if err != nil || s.IssuerID != "ka-health" || s.SnapshotInterval != 500 || s.PublicURL != "http://127.0.0.1:8489" {
		t.Fatalf("settings: %+v %v", s, err)
	}
	var st app.SetValidatorStatement
	b, err := os.ReadFile(jh.ValidatorFile())
	if err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("validator.json: %v %s", err, b)
	}
	want, err := node.ValidatorOf(jh, 10, "ka-health")
	if err != nil || st.Validator != want {
		t.Fatalf("validator.json names %+v, the home's key is %+v (%v)", st.Validator, want, err)
	}

	// Without --state-sync-rpc: block sync from height 1.
	bs := filepath.Join(dir, "node3")
	if err := run("--home", bs, "--genesis", h.Genesis(), "--peers", peer, "--pseudonym-key", h.PseudonymKey(), "--issuer-id", "nha"); err != nil {
		t.Fatal(err)
	}
	if cfg, err := node.LoadCometConfig(node.Home(bs)); err != nil || cfg.StateSync.Enable {
		t.Fatalf("a block-sync join has state sync on: %v", err)
	}

	for name, args := range map[string][]string{
		"no peers":              {"--genesis", h.Genesis(), "--pseudonym-key", h.PseudonymKey()},
		"no pseudonym key":      {"--genesis", h.Genesis(), "--peers", peer},
		"not a genesis":         {"--genesis", h.PseudonymKey(), "--peers", peer, "--pseudonym-key", h.PseudonymKey()},
		"trust hash not hex":    {"--genesis", h.Genesis(), "--peers", peer, "--pseudonym-key", h.PseudonymKey(), "--state-sync-rpc", "http://x", "--trust-height", "3", "--trust-hash", "zz"},
		"neither join nor CSVs": {},
	} {
		home := filepath.Join(dir, "bad-"+strings.ReplaceAll(name, " ", "-"))
		if err := run(append([]string{"--home", home}, args...)...); err == nil {
			t.Errorf("%s: init succeeded", name)
		}
		if _, err := os.Stat(filepath.Join(home, "config")); err == nil {
			t.Errorf("%s: init left %s behind", name, home)
		}
	}
	if err := run("--home", joined, "--genesis", h.Genesis(), "--peers", peer, "--pseudonym-key", h.PseudonymKey()); err == nil {
		t.Error("init --join over an existing home succeeded")
	}
}
