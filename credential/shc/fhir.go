package shc

import (
	"encoding/json"
	"strings"
)

// Code systems of vaccine codings.
const (
	SystemCVX    = "http://hl7.org/fhir/sid/cvx"
	SystemSNOMED = "http://snomed.info/sct"
	SystemICD11  = "http://id.who.int/icd11/mms"
	// SystemLedger names the ledger's own vaccine codes, used when the
	// caller's table has no coding for a vaccine.
	SystemLedger = "urn:divoc:vaccine"
)

// FHIRVersion is the FHIR release of the bundles Issue builds.
const FHIRVersion = "4.0.1"

// Coding is a FHIR Coding: a code in a code system. Health cards leave out
// Coding.display, so it has none.
type Coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// VaccineCodes maps the ledger's vaccine code (credential.Dose.Vaccine) to
// the codings a health card carries for it, most important first: CVX
// (which SMART verifiers read), then SNOMED CT or ICD-11 where known.
type VaccineCodes map[string][]Coding

// CommonVaccineCodes is a starting table for the vaccines in the sample
// genesis (ledger codes COVISHIELD and COVAXIN): CVX 210 (ChAdOx1, the
// AstraZeneca / Serum Institute vaccine) and 502 (COVAXIN), with the SNOMED
// CT vaccine-type concepts the EU DCC value set uses. A deployment should
// pass its own table, reviewed against the CVX list.
var CommonVaccineCodes = VaccineCodes{
	"COVISHIELD": {{System: SystemCVX, Code: "210"}, {System: SystemSNOMED, Code: "1119305005"}},
	"COVAXIN":    {{System: SystemCVX, Code: "502"}, {System: SystemSNOMED, Code: "1157024006"}},
}

// The JSON shapes of the FHIR resources Issue writes. Field order is the
// order of the minified payload.

type bundle struct {
	ResourceType string  `json:"resourceType"`
	Type         string  `json:"type"`
	Entry        []entry `json:"entry"`
}

type entry struct {
	FullURL  string `json:"fullUrl"`
	Resource any    `json:"resource"`
}

type patient struct {
	ResourceType string      `json:"resourceType"`
	Name         []humanName `json:"name"`
	BirthDate    string      `json:"birthDate,omitempty"`
}

type humanName struct {
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type immunization struct {
	ResourceType       string            `json:"resourceType"`
	Status             string            `json:"status"`
	VaccineCode        codeableConcept   `json:"vaccineCode"`
	Patient            reference         `json:"patient"`
	OccurrenceDateTime string            `json:"occurrenceDateTime"`
	Performer          []performer       `json:"performer,omitempty"`
	LotNumber          string            `json:"lotNumber,omitempty"`
	ProtocolApplied    []protocolApplied `json:"protocolApplied,omitempty"`
}

type codeableConcept struct {
	Coding []Coding `json:"coding"`
}

type reference struct {
	Reference string `json:"reference"`
}

type performer struct {
	Actor struct {
		Display string `json:"display"`
	} `json:"actor"`
}

type protocolApplied struct {
	DoseNumberPositiveInt  int `json:"doseNumberPositiveInt"`
	SeriesDosesPositiveInt int `json:"seriesDosesPositiveInt,omitempty"`
}

// splitName turns a full name into a FHIR HumanName: the last word is the
// family name and the words before it the given names. A single word is
// the family name.
func splitName(name string) humanName {
	words := strings.Fields(name)
	switch len(words) {
	case 0:
		return humanName{}
	case 1:
		return humanName{Family: words[0]}
	default:
		return humanName{Family: words[len(words)-1], Given: words[:len(words)-1]}
	}
}

// Patient is the holder as a health card names them.
type Patient struct {
	Name      string   // given names and family name joined by spaces (or the name's text)
	Family    string   // first HumanName's family
	Given     []string // first HumanName's given names
	BirthDate string   // FHIR date: YYYY, YYYY-MM or YYYY-MM-DD
}

// Immunization is one dose recorded on a card.
type Immunization struct {
	Status     string   // "completed" on a valid card
	Date       string   // occurrenceDateTime (or occurrenceString)
	Codes      []Coding // vaccineCode.coding
	LotNumber  string
	Performer  string // performer[0].actor.display
	DoseNumber int    // protocolApplied[0].doseNumberPositiveInt, 0 if absent
}

// CVX returns the CVX code among the codings, or "".
func (im Immunization) CVX() string {
	for _, c := range im.Codes {
		if c.System == SystemCVX {
			return c.Code
		}
	}
	return ""
}

// readBundle pulls the holder and the immunizations out of a FHIR bundle.
// Cards about other things (lab results) have no Immunization; a bundle
// without a Patient gives an empty Patient. It reads loosely: the
// signature, not this reader, vouches for the data.
func readBundle(raw json.RawMessage) (Patient, []Immunization) {
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(raw, &b) != nil {
		return Patient{}, nil
	}
	var p Patient
	var seenPatient bool
	var ims []Immunization
	for _, e := range b.Entry {
		var kind struct {
			ResourceType string `json:"resourceType"`
		}
		if json.Unmarshal(e.Resource, &kind) != nil {
			continue
		}
		switch kind.ResourceType {
		case "Patient":
			if seenPatient {
				continue
			}
			var r struct {
				Name      []humanName `json:"name"`
				BirthDate string      `json:"birthDate"`
			}
			if json.Unmarshal(e.Resource, &r) != nil {
				continue
			}
			seenPatient = true
			p.BirthDate = r.BirthDate
			if len(r.Name) > 0 {
				n := r.Name[0]
				p.Family, p.Given = n.Family, n.Given
				parts := append(append([]string{}, n.Given...), n.Family)
				p.Name = strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
				if p.Name == "" {
					p.Name = n.Text
				}
			}
		case "Immunization":
			var r struct {
				Status             string          `json:"status"`
				VaccineCode        codeableConcept `json:"vaccineCode"`
				OccurrenceDateTime string          `json:"occurrenceDateTime"`
				OccurrenceString   string          `json:"occurrenceString"`
				LotNumber          string          `json:"lotNumber"`
				Performer          []performer     `json:"performer"`
				ProtocolApplied    []struct {
					DoseNumberPositiveInt int `json:"doseNumberPositiveInt"`
				} `json:"protocolApplied"`
			}
			if json.Unmarshal(e.Resource, &r) != nil {
				continue
			}
			im := Immunization{Status: r.Status, Date: r.OccurrenceDateTime, Codes: r.VaccineCode.Coding, LotNumber: r.LotNumber}
			if im.Date == "" {
				im.Date = r.OccurrenceString
			}
			if len(r.Performer) > 0 {
				im.Performer = r.Performer[0].Actor.Display
			}
			if len(r.ProtocolApplied) > 0 {
				im.DoseNumber = r.ProtocolApplied[0].DoseNumberPositiveInt
			}
			ims = append(ims, im)
		}
	}
	return p, ims
}
