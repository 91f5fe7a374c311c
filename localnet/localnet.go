// Package localnet runs a multi-agency network on one machine: one
// validator per agency, each a separate `divoc start` process on its own
// loopback ports, sharing one genesis. network.json beside this file is the
// template (agencies, ports, governance threshold, commit timeout, sample
// data); `divoc localnet init` writes the homes under localnet/data.
package localnet

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/gendata"
	"github.com/divoc/divoc/node"
)

//go:embed network.json
var defaultConfig []byte

// Config is the network's template (network.json).
type Config struct {
	ChainID string `json:"chain_id"`
	// GovernanceThreshold is M of the N agencies' governance keys.
	GovernanceThreshold int `json:"governance_threshold"`
	// TimeoutCommit is CometBFT's pause after each block ("200ms").
	TimeoutCommit string `json:"timeout_commit"`
	// Facilities, Certificates and Seed size the sample DIVOC data that
	// init generates (registries for the genesis, certificates to upload).
	Facilities   int           `json:"facilities"`
	Certificates int           `json:"certificates"`
	Seed         int64         `json:"seed"`
	Agencies     []node.Agency `json:"agencies"`
	// SnapshotInterval: each node takes a state sync snapshot every this
	// many blocks (0: the node default, 1000).
	SnapshotInterval int64 `json:"snapshot_interval,omitempty"`
}

// DefaultConfig is the template shipped in localnet/network.json.
func DefaultConfig() Config {
	var c Config
	if err := json.Unmarshal(defaultConfig, &c); err != nil {
		panic(fmt.Sprintf("localnet/network.json: %v", err))
	}
	return c
}

// LoadConfig reads a template.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Network is an initialized localnet: its directory and nodes. Processes it
// starts are tracked in it (and in each home's divoc.pid).
type Network struct {
	Dir     string              `json:"-"`
	ChainID string              `json:"chain_id"`
	GenData string              `json:"gen_data"`
	Nodes   []*node.NetworkNode `json:"nodes"`
	// Bin is the divoc binary that Start runs (default: this executable).
	Bin string `json:"-"`

	procs map[int]*proc
}

// ManifestFile is the name of the file, in the network's directory, that
// lists its nodes.
const ManifestFile = "localnet.json"

// Init generates sample DIVOC data and a home per agency under dir, and
// writes the manifest.
func Init(dir string, c Config, out io.Writer) (*Network, error) {
	if out == nil {
		out = io.Discard
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a localnet (%s exists); stop it and remove the directory to start over", dir, ManifestFile)
	}
	if len(c.Agencies) == 0 {
		return nil, errors.New("the localnet template names no agency")
	}
	tc := 200 * time.Millisecond
	if c.TimeoutCommit != "" {
		d, err := time.ParseDuration(c.TimeoutCommit)
		if err != nil {
			return nil, fmt.Errorf("timeout_commit: %w", err)
		}
		tc = d
	}
	if c.Facilities <= 0 {
		c.Facilities = 20
	}
	genDir := filepath.Join(dir, "gen-data")
	now := time.Now().UTC()
	ds, err := gendata.Generate(gendata.Options{Seed: c.Seed, Facilities: c.Facilities, VaccinatorsPerFacility: 3, Certificates: max(c.Certificates, 1),
		Vaccines: node.VaccineSpecs(), Start: now.AddDate(0, -10, 0), End: now})
	if err != nil {
		return nil, fmt.Errorf("gen-data: %w", err)
	}
	if err := ds.WriteDir(genDir); err != nil {
		return nil, err
	}
	params := app.DefaultParams()
	params.GovernanceThreshold = c.GovernanceThreshold
	var settings func(int, *node.Settings)
	if c.SnapshotInterval > 0 {
		settings = func(_ int, s *node.Settings) { s.SnapshotInterval = c.SnapshotInterval }
	}
	nodes, err := node.InitNetwork(node.NetworkOptions{
		Dir: dir, ChainID: c.ChainID, Agencies: c.Agencies, Params: params, TimeoutCommit: tc,
		FacilitiesCSV: filepath.Join(genDir, "facilities.csv"), VaccinatorsCSV: filepath.Join(genDir, "vaccinators.csv"), Out: out,
		Settings: settings,
	})
	if err != nil {
		return nil, err
	}
	n := &Network{Dir: dir, ChainID: c.ChainID, GenData: genDir}
	for i := range nodes {
		n.Nodes = append(n.Nodes, &nodes[i])
	}
	if n.ChainID == "" {
		n.ChainID = "divoc-localnet"
	}
	b, _ := json.MarshalIndent(n, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return n, nil
}

// Load reads the manifest of an initialized localnet.
func Load(dir string) (*Network, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("no localnet in %s (run divoc localnet init): %w", dir, err)
	}
	n := &Network{Dir: dir}
	if err := json.Unmarshal(b, n); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return n, nil
}
