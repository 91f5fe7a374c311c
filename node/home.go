// Package node assembles a running DIVOC node: CometBFT in-process over the
// ABCI application, the vault, the REST API and metrics. It also creates a
// node's home directory (init).
package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Home is a node's directory layout.
type Home string

// Paths inside a home.
func (h Home) Config() string   { return filepath.Join(string(h), "config") }
func (h Home) Settings() string { return filepath.Join(h.Config(), "divoc.json") }
func (h Home) Genesis() string  { return filepath.Join(h.Config(), "genesis.json") }
func (h Home) AppData() string  { return filepath.Join(string(h), "data", "app") }
func (h Home) Vault() string    { return filepath.Join(string(h), "vault") }
func (h Home) Keys() string     { return filepath.Join(string(h), "keys") }
func (h Home) Registry() string { return filepath.Join(string(h), "registry") }
func (h Home) Logs() string     { return filepath.Join(string(h), "logs") }
func (h Home) FacilityKey(code string) string {
	return filepath.Join(h.Keys(), "facilities", code+".json")
}
func (h Home) AuthorityKey(id, role string) string {
	return filepath.Join(h.Keys(), "authorities", id+"-"+role+".json")
}
func (h Home) PseudonymKey() string   { return filepath.Join(h.Keys(), "pseudonym.key") }
func (h Home) AdminToken() string     { return filepath.Join(h.Keys(), "admin.token") }
func (h Home) FacilityTokens() string { return filepath.Join(h.Keys(), "facility-tokens.json") }

// Resolve makes a path from settings absolute within the home.
func (h Home) Resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(string(h), p)
}

// Settings are the node's own settings (CometBFT's are in config.toml).
type Settings struct {
	// APIListen is the REST API's listen address.
	APIListen string `json:"api_listen"`
	// PublicURL is the API's address as clients see it; credential status
	// URLs point there.
	PublicURL string `json:"public_url"`
	// IssuerID is the authority this node issues certificates for.
	IssuerID   string `json:"issuer_id"`
	IssuerName string `json:"issuer_name"`
	// IssuerKey and GovernanceKey are key files (relative to the home).
	IssuerKey     string `json:"issuer_key"`
	GovernanceKey string `json:"governance_key,omitempty"`
	// DCCKey and DCCCert are the EU DCC document signer's ECDSA P-256 key
	// file and certificate (PEM); SHCKey is the SMART Health Cards ES256 key
	// file; SHCIssuer is the cards' iss (an https URL); Country is the
	// ISO 3166 code of the country of vaccination. Without them the node
	// issues vc+jwt only.
	DCCKey    string `json:"dcc_key,omitempty"`
	DCCCert   string `json:"dcc_cert,omitempty"`
	SHCKey    string `json:"shc_key,omitempty"`
	SHCIssuer string `json:"shc_issuer,omitempty"`
	Country   string `json:"country,omitempty"`
	// LegacyKeys are the public keys (base58 Ed25519) of certificates
	// DIVOC issued before this ledger, by verificationMethod (e.g. "did:india").
	LegacyKeys map[string]string `json:"legacy_keys,omitempty"`
	// BatchSize is how many events the node puts in one transaction when it
	// signs for a facility (custodial uploads).
	BatchSize int `json:"batch_size"`
	// MaxBodyBytes limits request bodies; MaxRowsPerUpload limits rows.
	MaxBodyBytes     int64 `json:"max_body_bytes"`
	MaxRowsPerUpload int   `json:"max_rows_per_upload"`
	// UploadWorkers process uploads concurrently.
	UploadWorkers int `json:"upload_workers"`
	// MaxInflightPerFacility bounds one facility's batches queued or
	// committing; more is refused with 429 (0: no limit).
	MaxInflightPerFacility int `json:"max_inflight_per_facility"`
	// CommitTimeout bounds the wait for a transaction to commit.
	CommitTimeout Duration `json:"commit_timeout"`
	// CometMetrics exports CometBFT's metrics on /metrics.
	CometMetrics bool `json:"comet_metrics"`
	// LogLevel of CometBFT's log (logs/cometbft.log): error, info, debug.
	LogLevel string `json:"log_level"`
	// SnapshotInterval: the node takes a state sync snapshot every this
	// many blocks, for nodes that join later (0: none); SnapshotKeepRecent
	// is how many it keeps.
	SnapshotInterval   int64 `json:"snapshot_interval"`
	SnapshotKeepRecent int   `json:"snapshot_keep_recent"`
	// SnapshotChunkSize is the size of a snapshot's chunks in bytes (0: 8
	// MiB; at most 15 MiB: CometBFT carries chunks of up to 16 MB).
	SnapshotChunkSize int `json:"snapshot_chunk_size,omitempty"`
}

// DefaultSettings suit one node on one machine.
func DefaultSettings() Settings {
	return Settings{
		APIListen: "127.0.0.1:8480", PublicURL: "http://127.0.0.1:8480",
		IssuerID: "moh", IssuerName: "Ministry of Health and Family Welfare",
		BatchSize: 1000, MaxBodyBytes: 64 << 20, MaxRowsPerUpload: 100_000, UploadWorkers: 4, MaxInflightPerFacility: 200,
		CommitTimeout: Duration(2 * time.Minute), CometMetrics: true, LogLevel: "info",
		SnapshotInterval: 1000, SnapshotKeepRecent: 2,
	}
}

// Duration is a time.Duration written as "2m0s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// LoadSettings reads config/divoc.json.
func LoadSettings(h Home) (Settings, error) {
	s := DefaultSettings()
	b, err := os.ReadFile(h.Settings())
	if err != nil {
		return s, fmt.Errorf("read settings (is %s a node home? run divoc init): %w", h, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", h.Settings(), err)
	}
	return s, nil
}

// SaveSettings writes config/divoc.json.
func SaveSettings(h Home, s Settings) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(h.Settings(), append(b, '\n'), 0o644)
}
