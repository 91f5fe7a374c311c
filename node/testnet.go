package node

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/divoc/divoc/gendata"
	"github.com/divoc/divoc/genesis"
)

// VaccineSpecs are the genesis catalogue as gen-data wants it, so that
// generated rows name vaccines the ledger knows.
func VaccineSpecs() []gendata.VaccineSpec {
	var out []gendata.VaccineSpec
	for _, v := range genesis.DefaultVaccines() {
		out = append(out, gendata.VaccineSpec{Name: v.Name, Manufacturer: v.Manufacturer, Doses: v.Doses, MinIntervalDays: v.MinIntervalDays})
	}
	return out
}

// LocalOptions describe a throwaway single-node network with generated
// registries (for the demo, benchmarks and tests).
type LocalOptions struct {
	Home         string
	DataDir      string // where gen-data writes its CSVs
	Seed         int64
	Facilities   int
	Certificates int
	BadRows      int
	APIListen    string // "127.0.0.1:0" picks a free port
	P2PListen    string
	RPCListen    string
	CometMetrics bool
	Out          io.Writer
}

// InitLocal generates DIVOC-format data and initializes a home from it. It
// returns the dataset (whose certificates are not yet submitted).
func InitLocal(o LocalOptions) (*gendata.Dataset, error) {
	now := time.Now().UTC()
	if o.DataDir == "" {
		o.DataDir = filepath.Join(o.Home, "gen-data")
	}
	ds, err := gendata.Generate(gendata.Options{
		Seed: o.Seed, Facilities: o.Facilities, VaccinatorsPerFacility: 3, Certificates: o.Certificates,
		Vaccines: VaccineSpecs(), Start: now.AddDate(0, -10, 0), End: now, BadRows: o.BadRows,
	})
	if err != nil {
		return nil, fmt.Errorf("gen-data: %w", err)
	}
	if err := ds.WriteDir(o.DataDir); err != nil {
		return nil, err
	}
	io := DefaultInitOptions(o.Home)
	io.FacilitiesCSV = filepath.Join(o.DataDir, "facilities.csv")
	io.VaccinatorsCSV = filepath.Join(o.DataDir, "vaccinators.csv")
	if o.APIListen != "" {
		io.Settings.APIListen = o.APIListen
		io.Settings.PublicURL = "http://" + o.APIListen
	}
	if o.P2PListen != "" {
		io.P2PListen = o.P2PListen
	}
	io.RPCListen = o.RPCListen
	io.Settings.CometMetrics = o.CometMetrics
	if o.Out != nil {
		io.Out = o.Out
	}
	return ds, Init(io)
}
