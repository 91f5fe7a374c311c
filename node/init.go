package node

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/divoc/divoc/abci"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/credential/dcc"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/genesis"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/vault"
)

// InitOptions describe a new single-validator network.
type InitOptions struct {
	Home    Home
	ChainID string
	Moniker string
	// FacilitiesCSV and VaccinatorsCSV are DIVOC-format registry files.
	FacilitiesCSV, VaccinatorsCSV string
	Settings                      Settings
	Params                        app.Params
	// P2PListen and RPCListen are CometBFT's addresses ("" disables RPC).
	P2PListen, RPCListen string
	// TimeoutCommit is CometBFT's pause after each block.
	TimeoutCommit time.Duration
	GenesisTime   time.Time
	// Out receives progress and warnings.
	Out io.Writer
}

// DefaultInitOptions fill what the caller leaves out.
func DefaultInitOptions(home string) InitOptions {
	return InitOptions{
		Home: Home(home), ChainID: "divoc-local", Moniker: "divoc-node", Settings: DefaultSettings(), Params: app.DefaultParams(),
		P2PListen: "tcp://127.0.0.1:26656", RPCListen: "tcp://127.0.0.1:26657", TimeoutCommit: 100 * time.Millisecond, Out: io.Discard,
	}
}

// Init creates a node home: CometBFT config and keys, the authority's and
// facilities' keys, the pseudonym key, API tokens, the genesis, the vault
// with the vaccinators' details, and divoc.json.
func Init(o InitOptions) (err error) {
	h := o.Home
	if _, err := os.Stat(h.Genesis()); err == nil {
		return fmt.Errorf("%s already holds a node (config/genesis.json exists)", h)
	}
	if o.FacilitiesCSV == "" || o.VaccinatorsCSV == "" {
		return errors.New("init needs a facilities.csv and a vaccinators.csv (divoc gen-data writes sample ones)")
	}
	facilities, vaccinators, err := readRegistries(o.FacilitiesCSV, o.VaccinatorsCSV)
	if err != nil {
		return err
	}
	// Everything is checked before anything is written; should a later
	// step fail anyway, what init wrote goes, so that init can run again.
	made := []string{h.Config(), filepath.Join(string(h), "data"), h.Keys(), h.Vault(), h.Registry(), h.Logs()}
	for _, d := range made {
		if _, serr := os.Stat(d); serr == nil {
			return fmt.Errorf("%s already holds part of a node (%s exists): init writes a new node home", h, d)
		}
	}
	defer func() {
		if err != nil {
			for _, d := range made {
				os.RemoveAll(d)
			}
		}
	}()
	for _, d := range []string{h.Config(), filepath.Join(string(h), "data"), h.Keys(), filepath.Join(h.Keys(), "facilities"), filepath.Join(h.Keys(), "authorities"), h.Registry(), h.Logs()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}

	cfg := CometConfig(o)
	cmtcfg.WriteConfigFile(filepath.Join(h.Config(), "config.toml"), cfg)
	if _, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile()); err != nil {
		return err
	}
	pv := privval.LoadOrGenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pvPub, err := pv.GetPubKey()
	if err != nil {
		return err
	}

	// Authority keys: one per role.
	s := o.Settings
	auth := genesis.Authority{ID: s.IssuerID, Name: s.IssuerName, Roles: []string{app.RoleGovernance, app.RoleIssuer}, Keys: map[string]ed25519.PublicKey{}}
	for _, role := range auth.Roles {
		k, err := keys.Generate("EdDSA")
		if err != nil {
			return err
		}
		if err := keys.Save(h.AuthorityKey(s.IssuerID, role), k, app.AuthorityOwner(s.IssuerID), role); err != nil {
			return err
		}
		auth.Keys[role] = k.Public().(ed25519.PublicKey)
	}
	s.IssuerKey = rel(h, h.AuthorityKey(s.IssuerID, app.RoleIssuer))
	s.GovernanceKey = rel(h, h.AuthorityKey(s.IssuerID, app.RoleGovernance))
	if auth.FormatKeys, err = makeFormatSigners(h, &s); err != nil {
		return err
	}

	pk := ingest.NewPseudonymKey()
	if err := pk.Save(h.PseudonymKey()); err != nil {
		return err
	}
	if err := os.WriteFile(h.AdminToken(), []byte(randomToken()+"\n"), 0o600); err != nil {
		return err
	}

	// Facility keys and API tokens (for facilities that let the node sign).
	facKeys := map[string]ed25519.PublicKey{}
	tokens := map[string]string{}
	for _, f := range facilities {
		k, err := keys.Generate("EdDSA")
		if err != nil {
			return err
		}
		if err := keys.Save(h.FacilityKey(f.Code), k, app.FacilityOwner(f.Code), app.RoleFacility); err != nil {
			return err
		}
		facKeys[f.Code] = k.Public().(ed25519.PublicKey)
		tokens[randomToken()] = f.Code
	}
	tb, _ := json.MarshalIndent(tokens, "", "  ")
	if err := os.WriteFile(h.FacilityTokens(), tb, 0o600); err != nil {
		return err
	}

	g, warnings, err := genesis.Build(genesis.Input{
		Params: o.Params, Authorities: []genesis.Authority{auth},
		Programs: genesis.DefaultPrograms(), Vaccines: genesis.DefaultVaccines(),
		Facilities: facilities, FacilityKeys: facKeys, Vaccinators: vaccinators, CommitKey: pk,
	})
	for _, w := range warnings {
		fmt.Fprintln(o.Out, "warning:", w)
	}
	if err != nil {
		return err
	}
	appState, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	gt := o.GenesisTime
	if gt.IsZero() {
		gt = time.Now().UTC().Truncate(time.Second)
	}
	cp := cmttypes.DefaultConsensusParams()
	cp.Block.MaxBytes = 22020096
	cp.Version.App = abci.AppVersion
	doc := &cmttypes.GenesisDoc{
		ChainID: o.ChainID, GenesisTime: gt, ConsensusParams: cp, AppState: appState,
		Validators: []cmttypes.GenesisValidator{{Address: pvPub.Address(), PubKey: pvPub, Power: 10, Name: o.Moniker}},
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return err
	}
	if err := doc.SaveAs(h.Genesis()); err != nil {
		return err
	}

	// Vaccinators' names stay in this node's vault (they are personal data).
	v, err := vault.Open(h.Vault())
	if err != nil {
		return err
	}
	if err := v.PutVaccinators(vaccinators); err != nil {
		v.Close()
		return err
	}
	if err := v.Close(); err != nil {
		return err
	}
	for _, f := range []string{o.FacilitiesCSV, o.VaccinatorsCSV} {
		if err := copyFile(f, filepath.Join(h.Registry(), filepath.Base(f))); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.Out, "initialized %s: chain %s, %d facilities, %d vaccinators, %d programs, %d vaccines\n",
		h, o.ChainID, len(g.Facilities), len(g.Vaccinators), len(g.Programs), len(g.Vaccines))
	return SaveSettings(h, s)
}

// makeFormatSigners makes the authority's signers for the EU DCC (a CSCA and
// a document signer certificate allowed to sign vaccination certificates,
// valid two years) and SMART Health Cards (an ES256 key), and returns their
// ledger entries. A real deployment imports its country's DSC instead.
func makeFormatSigners(h Home, s *Settings) ([]app.FormatKey, error) {
	now := time.Now().UTC()
	if s.Country == "" {
		s.Country = "IN"
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ca, err := dcc.NewCSCA(caKey, s.Country, s.IssuerName+" CSCA", now.Add(-time.Hour), now.AddDate(10, 0, 0))
	if err != nil {
		return nil, err
	}
	dscKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	dsc, err := ca.NewDocumentSigner(dscKey, s.IssuerName+" DSC", now.Add(-time.Hour), now.AddDate(2, 0, 0), dcc.TypeVaccination)
	if err != nil {
		return nil, err
	}
	signer, err := keys.NewSigner(dscKey)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(h.Keys(), "authorities")
	keyPath, certPath := filepath.Join(dir, s.IssuerID+"-dcc.json"), filepath.Join(dir, s.IssuerID+"-dcc.pem")
	if err := keys.Save(keyPath, signer, app.AuthorityOwner(s.IssuerID), "dcc"); err != nil {
		return nil, err
	}
	pemBytes := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: dsc.Certificate().Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate.Raw})...)
	if err := os.WriteFile(certPath, pemBytes, 0o644); err != nil {
		return nil, err
	}
	dccKey, err := app.NewDCCKey(s.IssuerID, dsc.Certificate().Raw)
	if err != nil {
		return nil, err
	}
	shcSigner, err := keys.Generate(keys.AlgES256)
	if err != nil {
		return nil, err
	}
	shcPath := filepath.Join(dir, s.IssuerID+"-shc.json")
	if err := keys.Save(shcPath, shcSigner, app.AuthorityOwner(s.IssuerID), "shc"); err != nil {
		return nil, err
	}
	pkix, err := x509.MarshalPKIXPublicKey(shcSigner.Public())
	if err != nil {
		return nil, err
	}
	shcKey, err := app.NewSHCKey(s.IssuerID, pkix)
	if err != nil {
		return nil, err
	}
	s.DCCKey, s.DCCCert, s.SHCKey = rel(h, keyPath), rel(h, certPath), rel(h, shcPath)
	if s.SHCIssuer == "" {
		s.SHCIssuer = "https://divoc.example/issuers/" + s.IssuerID
	}
	return []app.FormatKey{dccKey, shcKey}, nil
}

// CometConfig is CometBFT's configuration for this node, tuned for
// batches: a short commit timeout, a mempool that holds bulk load, no
// recheck (every rule is applied again in FinalizeBlock), and no separate
// metrics listener (metrics are served on the API's /metrics).
func CometConfig(o InitOptions) *cmtcfg.Config {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(string(o.Home))
	cfg.Moniker = o.Moniker
	cfg.P2P.ListenAddress = o.P2PListen
	cfg.P2P.AllowDuplicateIP = true
	cfg.P2P.AddrBookStrict = false
	cfg.P2P.SendRate = 50 << 20
	cfg.P2P.RecvRate = 50 << 20
	cfg.P2P.MaxPacketMsgPayloadSize = 1 << 20
	cfg.RPC.ListenAddress = o.RPCListen
	cfg.RPC.MaxBodyBytes = 16 << 20
	cfg.Consensus.TimeoutCommit = o.TimeoutCommit
	cfg.Consensus.CreateEmptyBlocksInterval = 5 * time.Second
	cfg.Mempool.Size = 20000
	cfg.Mempool.MaxTxBytes = app.DefaultMaxTxBytes
	cfg.Mempool.MaxTxsBytes = 2 << 30
	cfg.Mempool.Recheck = false
	cfg.Mempool.CacheSize = 100000
	cfg.TxIndex.Indexer = "null"
	cfg.Instrumentation.Prometheus = true
	cfg.Instrumentation.PrometheusListenAddr = ""
	cfg.LogLevel = "info"
	return cfg
}

func readRegistries(facPath, vacPath string) ([]divocfmt.Facility, []divocfmt.Vaccinator, error) {
	ff, err := os.Open(facPath)
	if err != nil {
		return nil, nil, err
	}
	defer ff.Close()
	facilities, ferrs, err := divocfmt.ParseFacilitiesCSV(ff)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", facPath, err)
	}
	vf, err := os.Open(vacPath)
	if err != nil {
		return nil, nil, err
	}
	defer vf.Close()
	vaccinators, verrs, err := divocfmt.ParseVaccinatorsCSV(vf)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", vacPath, err)
	}
	if len(ferrs)+len(verrs) > 0 {
		msg := ""
		for _, e := range ferrs {
			msg += fmt.Sprintf("\n  %s: %v", facPath, e)
		}
		for _, e := range verrs {
			msg += fmt.Sprintf("\n  %s: %v", vacPath, e)
		}
		return nil, nil, fmt.Errorf("registry files have errors:%s", msg)
	}
	if len(facilities) == 0 {
		return nil, nil, fmt.Errorf("%s lists no facility", facPath)
	}
	// Codes name files (each facility's key) and ledger keys: refuse any
	// that is not a plain code, such as ../../etc/x.
	var bad []string
	for _, f := range facilities {
		if !codeRE.MatchString(f.Code) {
			bad = append(bad, fmt.Sprintf("%s line %d: facility code %q: 1-64 letters, digits, _ . - (not starting with . or -)", facPath, f.Row, f.Code))
		}
	}
	for _, v := range vaccinators {
		if !codeRE.MatchString(v.Code) {
			bad = append(bad, fmt.Sprintf("%s line %d: vaccinator code %q: 1-64 letters, digits, _ . -", vacPath, v.Row, v.Code))
		}
	}
	if len(bad) > 0 {
		return nil, nil, fmt.Errorf("registry files have bad codes:\n  %s", strings.Join(bad, "\n  "))
	}
	return facilities, vaccinators, nil
}

// codeRE is the ledger's rule for registry codes (app.validCode), and
// keeps codes safe as file names.
var codeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$`)

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func rel(h Home, p string) string {
	r, err := filepath.Rel(string(h), p)
	if err != nil {
		return p
	}
	return r
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
