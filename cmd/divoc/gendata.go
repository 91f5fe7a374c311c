package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/gendata"
	"github.com/divoc/divoc/node"
)

func genDataCmd() *cobra.Command {
	o := gendata.Options{Seed: 1, Facilities: 20, VaccinatorsPerFacility: 3, Certificates: 10000}
	var out string
	var days int
	c := &cobra.Command{
		Use:   "gen-data --out DIR",
		Short: "Generate realistic DIVOC-format CSVs (facilities, vaccinators, certificates) from a seed",
		Long: `gen-data writes facilities.csv, vaccinators.csv, certificates.csv (DIVOC's bulk
upload format) and one certificates-<FACILITY>.csv per facility, with plausible
names, ages, districts, batches, dose sequences and dates for the vaccines of
the default genesis. --bad-rows mixes in deliberately bad rows (missing name,
bad or future date, dose beyond the course, unknown vaccine, vaccinator of
another facility, duplicate dose) and a valid row with a spreadsheet formula as
a name; README.txt lists them with the error each must get.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now().UTC()
			o.Vaccines, o.Start, o.End = node.VaccineSpecs(), now.AddDate(0, 0, -days), now
			// The library treats 0 as "the default"; on the command line
			// the defaults are the flags', so 0 is a mistake.
			for _, c := range []struct {
				flag string
				v    int
			}{{"--facilities", o.Facilities}, {"--vaccinators-per-facility", o.VaccinatorsPerFacility}, {"--certificates", o.Certificates}} {
				if c.v < 1 {
					return fmt.Errorf("%s %d: must be at least 1", c.flag, c.v)
				}
			}
			if o.BadRows < 0 || o.BadRows > o.Certificates {
				return fmt.Errorf("--bad-rows %d: must be within 0 and --certificates (%d)", o.BadRows, o.Certificates)
			}
			ds, err := gendata.Generate(o)
			if err != nil {
				return err
			}
			if err := ds.WriteDir(out); err != nil {
				return err
			}
			fmt.Printf("wrote %s: %d facilities, %d vaccinators, %d certificate rows (%d people, %d bad rows)\n",
				out, len(ds.Facilities), len(ds.Vaccinators), len(ds.Certificates), ds.Recipients, len(ds.Bad))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "gen-data", "output directory")
	f.Int64Var(&o.Seed, "seed", o.Seed, "random seed (the same seed gives the same files)")
	f.IntVar(&o.Facilities, "facilities", o.Facilities, "number of facilities")
	f.IntVar(&o.VaccinatorsPerFacility, "vaccinators-per-facility", o.VaccinatorsPerFacility, "vaccinators per facility")
	f.IntVar(&o.Certificates, "certificates", o.Certificates, "number of good certificate rows (doses)")
	f.IntVar(&o.BadRows, "bad-rows", 0, "deliberately bad rows to mix in")
	f.IntVar(&days, "days", 300, "vaccination dates span this many days up to today")
	return c
}
