package dcc

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// The EU DCC value sets (ehn-dcc-development/eu-dcc-valuesets @ 60ea3d86,
// Apache-2.0, LICENSE beside them), by the file names the schema's
// "valueset-uri" annotations use.
//
//go:embed valuesets/*.json
var valueSetFiles embed.FS

// Value sets, by file name.
const (
	SetDiseaseTargeted  = "disease-agent-targeted"
	SetProphylaxis      = "vaccine-prophylaxis"
	SetMedicinalProduct = "vaccine-medicinal-product"
	SetManufacturer     = "vaccine-mah-manf"
	SetCountry          = "country-2-codes"
	SetTestType         = "test-type"
	SetTestResult       = "test-result"
)

// Value is one entry of a value set.
type Value struct {
	Display string `json:"display"`
	Active  bool   `json:"active"`
	System  string `json:"system"`
}

type valueSet struct {
	ID     string           `json:"valueSetId"`
	Date   string           `json:"valueSetDate"`
	Values map[string]Value `json:"valueSetValues"`
}

type encodingInstruction struct {
	VaccineCode  string   `json:"vaccine-code"`
	Manufacturer string   `json:"vaccine-manufacturer"`
	SCTCodes     []string `json:"sct-codes"`
	Note         string   `json:"note"`
}

var loadValueSets = sync.OnceValues(func() (map[string]valueSet, error) {
	sets := map[string]valueSet{}
	for _, name := range []string{SetDiseaseTargeted, SetProphylaxis, SetMedicinalProduct, SetManufacturer, SetCountry, SetTestType, SetTestResult} {
		data, err := valueSetFiles.ReadFile("valuesets/" + name + ".json")
		if err != nil {
			return nil, err
		}
		var vs valueSet
		if err := json.Unmarshal(data, &vs); err != nil {
			return nil, fmt.Errorf("value set %s: %w", name, err)
		}
		sets[name] = vs
	}
	return sets, nil
})

var loadInstructions = sync.OnceValues(func() (map[string]encodingInstruction, error) {
	data, err := valueSetFiles.ReadFile("valuesets/vaccine-encoding-instructions.json")
	if err != nil {
		return nil, err
	}
	var f struct {
		Values map[string]encodingInstruction `json:"valueSetValues"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("vaccine encoding instructions: %w", err)
	}
	return f.Values, nil
})

// LookupValue finds code in a value set (Set* constants). Deprecated
// entries (Active false) are found too: certificates issued with them stay
// readable.
func LookupValue(set, code string) (Value, bool) {
	sets, err := loadValueSets()
	if err != nil {
		return Value{}, false
	}
	v, ok := sets[set].Values[code]
	return v, ok
}

// ProductCodesFor returns the EU codes of a vaccine by the product name the
// value sets' encoding instructions use ("Covishield", "Covaxin",
// "Vaxzevria", "Comirnaty", ...). Prophylaxis is the most specific SNOMED
// CT code the instructions list (for Covishield 29061000087103, "COVID-19
// non-replicating viral vector vaccine"); 28531000087107 ("COVID-19
// vaccine") is also allowed for every product. Country is left empty: it is
// where the dose was given. ok is false for a product the value sets do not
// list.
func ProductCodesFor(product string) (ProductCodes, bool) {
	instr, err := loadInstructions()
	if err != nil {
		return ProductCodes{}, false
	}
	in, ok := instr[product]
	if !ok || in.VaccineCode == "" || len(in.SCTCodes) == 0 {
		return ProductCodes{}, false
	}
	vp := in.SCTCodes[0]
	for _, c := range in.SCTCodes {
		if c != genericCOVID19Vaccine {
			vp = c
		}
	}
	return ProductCodes{MedicinalProduct: in.VaccineCode, Manufacturer: in.Manufacturer, Prophylaxis: vp, Target: TargetCOVID19}, true
}

// genericCOVID19Vaccine is SNOMED CT "COVID-19 vaccine", which the encoding
// instructions allow for every product.
const genericCOVID19Vaccine = "28531000087107"

// Products lists the product names ProductCodesFor knows, sorted.
func Products() []string {
	instr, err := loadInstructions()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(instr))
	for name := range instr {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// codedFields are the hcert fields whose values come from a value set,
// per certificate type. The rapid test device ("t" entry "ma") is left
// out: its value set is the JRC database, which is not shipped here.
var codedFields = map[string][]struct{ field, set string }{
	"v": {{"tg", SetDiseaseTargeted}, {"vp", SetProphylaxis}, {"mp", SetMedicinalProduct}, {"ma", SetManufacturer}, {"co", SetCountry}},
	"t": {{"tg", SetDiseaseTargeted}, {"tt", SetTestType}, {"tr", SetTestResult}, {"co", SetCountry}},
	"r": {{"tg", SetDiseaseTargeted}, {"co", SetCountry}},
}

// checkValueSets checks every coded field present in hcert's entries
// against its value set. Missing or non-string fields are the schema's
// business, not this check's.
func checkValueSets(hcert map[string]any) error {
	if _, err := loadValueSets(); err != nil {
		return failWrap(CodeUnknownCode, err, "value sets unreadable")
	}
	types := []string{"v", "t", "r"}
	for _, typ := range types {
		entries, _ := hcert[typ].([]any)
		for i, e := range entries {
			entry, _ := e.(map[string]any)
			for _, f := range codedFields[typ] {
				code, ok := entry[f.field].(string)
				if !ok {
					continue
				}
				if _, found := LookupValue(f.set, code); !found {
					return fail(CodeUnknownCode, "%s[%d].%s %q is not in the value set %s", typ, i, f.field, code, f.set)
				}
			}
		}
	}
	return nil
}
