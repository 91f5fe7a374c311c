package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/viper"

	"github.com/divoc/divoc/abci"
	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/vault"
)

// Node is a running node.
type Node struct {
	Home     Home
	Settings Settings
	App      *app.App
	Vault    *vault.Vault
	Comet    *nm.Node
	Ledger   *Ledger
	Service  *Service
	Metrics  *Metrics
	// APIAddr is the address the API listens on (resolved when the
	// settings asked for port 0).
	APIAddr string

	api      *http.Server
	listener net.Listener
	apiDone  chan error
	logFile  *os.File
	stopped  sync.Once
}

// registryMu serializes the swap of Prometheus' default registerer, which
// CometBFT's metrics register with, so each node gets its own registry.
var registryMu sync.Mutex

// Start opens the home's state and vault, starts CometBFT in-process with
// the ABCI application, and serves the API.
func Start(home Home) (*Node, error) {
	s, err := LoadSettings(home)
	if err != nil {
		return nil, err
	}
	cfg, err := LoadCometConfig(home)
	if err != nil {
		return nil, err
	}
	n := &Node{Home: home, Settings: s}
	ok := false
	defer func() {
		if !ok {
			n.Stop()
		}
	}()
	if n.App, err = app.Open(app.Options{Dir: home.AppData(), KeepVersions: 10_000, SnapshotInterval: s.SnapshotInterval, SnapshotKeep: s.SnapshotKeepRecent,
		SnapshotChunkSize: min(s.SnapshotChunkSize, 15<<20)}); err != nil {
		return nil, err
	}
	if n.Vault, err = vault.Open(home.Vault()); err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	n.Metrics = NewMetrics(reg)
	n.App.OnCommit(n.Metrics.observeBlock)

	if err := os.MkdirAll(home.Logs(), 0o755); err != nil {
		return nil, err
	}
	if n.logFile, err = os.OpenFile(filepath.Join(home.Logs(), "cometbft.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
		return nil, err
	}
	logger := cmtlog.NewTMLogger(cmtlog.NewSyncWriter(n.logFile))
	lvl := s.LogLevel
	if lvl == "" {
		lvl = "info"
	}
	if opt, err := cmtlog.AllowLevel(lvl); err == nil {
		logger = cmtlog.NewFilter(logger, opt)
	}
	n.App.SetLogger(logger.With("module", "snapshots"))

	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	pv := privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	metricsProvider := nm.DefaultMetricsProvider(cfg.Instrumentation)
	if !s.CometMetrics {
		cfg.Instrumentation.Prometheus = false
		metricsProvider = nm.DefaultMetricsProvider(cfg.Instrumentation)
	}
	registryMu.Lock()
	saved := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = reg
	n.Comet, err = nm.NewNode(cfg, pv, nodeKey, proxy.NewLocalClientCreator(abci.New(n.App)),
		nm.DefaultGenesisDocProviderFunc(cfg), cmtcfg.DefaultDBProvider, metricsProvider, logger)
	prometheus.DefaultRegisterer = saved
	registryMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("create CometBFT node: %w", err)
	}

	ln, err := net.Listen("tcp", s.APIListen)
	if err != nil {
		return nil, fmt.Errorf("API listen %s: %w", s.APIListen, err)
	}
	n.APIAddr = ln.Addr().String()
	if strings.HasSuffix(s.PublicURL, ":0") {
		s.PublicURL = "http://" + n.APIAddr
		n.Settings.PublicURL = s.PublicURL
	}
	n.listener = ln
	n.Ledger = NewLedger(n.App, n.Comet.Mempool(), time.Duration(s.CommitTimeout))
	if n.Service, err = NewService(home, s, n.App, n.Vault, n.Ledger, n.Metrics); err != nil {
		return nil, err
	}
	if n.Service.analytics, err = NewAnalytics(n.App, n.Vault); err != nil {
		return nil, fmt.Errorf("analytics: %w", err)
	}
	n.Service.stream = NewStream(n.App)
	if err := n.Comet.Start(); err != nil {
		return nil, fmt.Errorf("start CometBFT: %w", err)
	}
	// Status receipts read headers and commits from CometBFT's stores.
	if err := n.Service.AttachChain(n.Comet); err != nil {
		return nil, err
	}

	handler := api.New(api.Config{
		Backend: n.apiBackend(), Metrics: reg, MaxBodyBytes: s.MaxBodyBytes, MaxRows: s.MaxRowsPerUpload,
		AdminToken: n.Service.adminToken, Observe: n.Metrics.observeRequest,
	})
	n.api = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	n.apiDone = make(chan error, 1)
	// Shutdown waits for idle connections; event streams never idle.
	n.api.RegisterOnShutdown(n.Service.stream.Close)
	go func() { n.apiDone <- n.api.Serve(ln) }()
	n.listener = nil
	ok = true
	return n, nil
}

// LoadCometConfig reads config/config.toml.
func LoadCometConfig(home Home) (*cmtcfg.Config, error) {
	v := viper.New()
	v.SetConfigFile(filepath.Join(home.Config(), "config.toml"))
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read CometBFT config (is %s a node home? run divoc init): %w", home, err)
	}
	cfg := cmtcfg.DefaultConfig()
	if err := v.Unmarshal(cfg); err != nil {
		return nil, fmt.Errorf("parse config.toml: %w", err)
	}
	cfg.SetRoot(string(home))
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("config.toml: %w", err)
	}
	return cfg, nil
}

// WaitHeight blocks until the app has committed height h.
func (n *Node) WaitHeight(ctx context.Context, h int64) error {
	for {
		if s := n.App.Committed(); s != nil && s.Height >= h {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.Ledger.NextCommit():
		}
	}
}

// Stop shuts the API, CometBFT, the vault and the state down, in that order.
func (n *Node) Stop() error {
	var errs []error
	n.stopped.Do(func() {
		if n.listener != nil {
			n.listener.Close()
		}
		if n.api != nil {
			// Requests still running after the grace period (an upload
			// waiting for a commit that will not come) are cut off: a
			// stop must not hang on a client.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := n.api.Shutdown(ctx); err != nil {
				n.api.Close()
			}
			cancel()
		}
		if n.Service != nil {
			n.Service.Close()
		}
		if n.Comet != nil && n.Comet.IsRunning() {
			if err := n.Comet.Stop(); err != nil {
				errs = append(errs, err)
			}
			n.Comet.Wait()
		}
		if n.Vault != nil {
			errs = append(errs, n.Vault.Close())
		}
		if n.App != nil {
			errs = append(errs, n.App.Close())
		}
		if n.logFile != nil {
			n.logFile.Close()
		}
	})
	return errors.Join(errs...)
}
