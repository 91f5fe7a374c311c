package ingest

import (
	"fmt"
	"strings"
	"time"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/divocfmt"
)

// Catalog resolves names against the ledger's registries (vaccines and
// programs) and the facility's own list of vaccinators (names are personal
// data: they are in DIVOC's vaccinators.csv and the node's vault, not on
// the ledger).
type Catalog struct {
	vaccines    map[string]app.Vaccine // by lower-case name and by code
	programOf   map[string]string      // vaccine code -> its only program ("" if several)
	vaccinators map[string][]divocfmt.Vaccinator
	all         []divocfmt.Vaccinator
	zone        *time.Location
}

// InZone sets the consortium's time zone (the ledger's
// timezone_offset_minutes): a vaccination's date is its day there.
func (c *Catalog) InZone(offsetMinutes int) *Catalog {
	c.zone = app.Params{TimezoneOffsetMinutes: offsetMinutes}.Zone()
	return c
}

// Zone implements Resolver.
func (c *Catalog) Zone() *time.Location {
	if c.zone == nil {
		return time.UTC
	}
	return c.zone
}

// NewCatalog builds a resolver.
func NewCatalog(vaccines []app.Vaccine, programs []app.Program, vaccinators []divocfmt.Vaccinator) *Catalog {
	c := &Catalog{vaccines: map[string]app.Vaccine{}, programOf: map[string]string{}, vaccinators: map[string][]divocfmt.Vaccinator{}}
	for _, v := range vaccines {
		c.vaccines[strings.ToLower(v.Name)] = v
		c.vaccines[strings.ToLower(v.Code)] = v
	}
	count := map[string]int{}
	for _, p := range programs {
		for _, v := range p.Vaccines {
			count[v]++
			c.programOf[v] = p.ID
		}
	}
	for v, n := range count {
		if n > 1 {
			c.programOf[v] = ""
		}
	}
	c.all = vaccinators
	for _, v := range vaccinators {
		for _, f := range v.FacilityCodes {
			c.vaccinators[f] = append(c.vaccinators[f], v)
		}
	}
	return c
}

// Vaccine implements Resolver.
func (c *Catalog) Vaccine(name, manufacturer string) (string, string, error) {
	v, ok := c.vaccines[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return "", "", fmt.Errorf("vaccine %q is not in the registry", name)
	}
	if manufacturer != "" && !strings.EqualFold(strings.TrimSpace(manufacturer), v.Manufacturer) {
		return "", "", fmt.Errorf("vaccine %q is made by %q, not %q", name, v.Manufacturer, manufacturer)
	}
	return v.Code, c.programOf[v.Code], nil
}

// Vaccinator implements Resolver: an exact code, or a unique name, first
// among the facility's vaccinators, then among all (so that a vaccinator of
// another facility reaches the ledger, which refuses it with
// vaccinator_not_at_facility and keeps the attempt on record).
func (c *Catalog) Vaccinator(facility, name string) (string, error) {
	name = strings.TrimSpace(name)
	if code, n := match(c.vaccinators[facility], name); n == 1 {
		return code, nil
	} else if n > 1 {
		return "", fmt.Errorf("%d vaccinators named %q work at facility %s: use the vaccinator code", n, name, facility)
	}
	if code, n := match(c.all, name); n == 1 {
		return code, nil
	}
	return "", fmt.Errorf("no vaccinator named %q works at facility %s", name, facility)
}

// match finds name as a code (exactly) or as a name (ignoring case) and
// returns the code and how many matched.
func match(vs []divocfmt.Vaccinator, name string) (string, int) {
	var found []string
	for _, v := range vs {
		if v.Code == name {
			return v.Code, 1
		}
		if strings.EqualFold(v.Name, name) {
			found = append(found, v.Code)
		}
	}
	if len(found) == 0 {
		return "", 0
	}
	return found[0], len(found)
}
