package dcc

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/divoc/divoc/credential"
)

// SchemaVersion is the DCC schema version Issue writes in "ver".
const SchemaVersion = "1.3.0"

// TargetCOVID19 is the disease-agent-targeted code (SNOMED CT 840539006)
// of COVID-19, the only value in that value set.
const TargetCOVID19 = "840539006"

// Payload is the DCC itself (the hcert: CWT claim -260, key 1) for a
// vaccination, as DCC schema 1.3 defines it. Field names are the schema's.
type Payload struct {
	Ver string             `json:"ver" cbor:"ver"`
	Nam Name               `json:"nam" cbor:"nam"`
	Dob string             `json:"dob" cbor:"dob"` // YYYY-MM-DD, YYYY-MM, YYYY or ""
	V   []VaccinationEntry `json:"v" cbor:"v"`     // exactly one entry
}

// Name is the holder's name: surname(s) and forename(s) as written, and
// standardised per ICAO Doc 9303 part 3 (A-Z and "<").
type Name struct {
	Fn  string `json:"fn,omitempty" cbor:"fn,omitempty"`
	Fnt string `json:"fnt,omitempty" cbor:"fnt,omitempty"`
	Gn  string `json:"gn,omitempty" cbor:"gn,omitempty"`
	Gnt string `json:"gnt,omitempty" cbor:"gnt,omitempty"`
}

// VaccinationEntry is the "v" entry of DCC schema 1.3.
type VaccinationEntry struct {
	Tg string `json:"tg" cbor:"tg"` // disease or agent targeted (840539006)
	Vp string `json:"vp" cbor:"vp"` // vaccine or prophylaxis (SNOMED CT)
	Mp string `json:"mp" cbor:"mp"` // medicinal product (EU/1/21/1529, Covishield, ...)
	Ma string `json:"ma" cbor:"ma"` // marketing authorisation holder or manufacturer
	Dn int    `json:"dn" cbor:"dn"` // dose number
	Sd int    `json:"sd" cbor:"sd"` // total doses in the series
	Dt string `json:"dt" cbor:"dt"` // date of vaccination, YYYY-MM-DD
	Co string `json:"co" cbor:"co"` // country of vaccination, ISO 3166-1 alpha-2
	Is string `json:"is" cbor:"is"` // certificate issuer
	Ci string `json:"ci" cbor:"ci"` // unique certificate identifier (UVCI)
}

// ProductCodes are the EU value-set codes for one vaccine, and the country
// where it is given. The vaccine registry holds them per vaccine; see
// ProductCodesFor for the products the EU value sets list.
type ProductCodes struct {
	MedicinalProduct string // mp, vaccine-medicinal-product: "Covishield", "EU/1/21/1529", ...
	Manufacturer     string // ma, vaccine-mah-manf: "ORG-100001981", "Bharat-Biotech", ...
	Prophylaxis      string // vp, vaccine-prophylaxis (SNOMED CT): "29061000087103", ...
	Target           string // tg; empty means TargetCOVID19
	Country          string // co, ISO 3166-1 alpha-2 country of vaccination: "IN"
}

var (
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	dateRE    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	dobRE     = regexp.MustCompile(`^((19|20)\d\d(-\d\d){0,2}){0,1}$`)
)

// FromVaccination maps a certificate's facts to a DCC vaccination payload.
// The holder's name is split at its last space into forenames and surname
// (a single word is a surname), and each part is transliterated per ICAO
// 9303; the UVCI is URN:UVCI:01:<country>:<certificate id> with its
// Luhn mod 38 check character. A vaccine whose codes are missing or not in
// the EU value sets is refused (CodeNoEUCodes).
func FromVaccination(v *credential.Vaccination, codes ProductCodes) (Payload, error) {
	if v == nil {
		return Payload{}, fail(CodeBadVaccination, "no vaccination")
	}
	if codes.Target == "" {
		codes.Target = TargetCOVID19
	}
	if err := checkProductCodes(v.Dose.Vaccine, codes); err != nil {
		return Payload{}, err
	}
	nam, err := nameFrom(v.Holder.Name)
	if err != nil {
		return Payload{}, err
	}
	dob := strings.TrimSpace(v.Holder.DOB)
	if !dobRE.MatchString(dob) {
		return Payload{}, fail(CodeBadVaccination, "date of birth %q is not YYYY-MM-DD, YYYY-MM or YYYY (1900-2099)", dob)
	}
	dt, err := vaccinationDate(v.Dose.Date)
	if err != nil {
		return Payload{}, err
	}
	if v.Dose.Dose < 1 || v.Dose.TotalDoses < 1 {
		return Payload{}, fail(CodeBadVaccination, "dose %d of %d: a DCC needs both, each at least 1", v.Dose.Dose, v.Dose.TotalDoses)
	}
	issuer := v.IssuerName
	if issuer == "" {
		issuer = v.Issuer
	}
	if issuer == "" || utf8.RuneCountInString(issuer) > 80 {
		return Payload{}, fail(CodeBadVaccination, "issuer name %q must be 1 to 80 characters", issuer)
	}
	ci, err := UVCI(codes.Country, v.ID)
	if err != nil {
		return Payload{}, err
	}
	return Payload{
		Ver: SchemaVersion,
		Nam: nam,
		Dob: dob,
		V: []VaccinationEntry{{
			Tg: codes.Target, Vp: codes.Prophylaxis, Mp: codes.MedicinalProduct, Ma: codes.Manufacturer,
			Dn: v.Dose.Dose, Sd: v.Dose.TotalDoses, Dt: dt, Co: codes.Country, Is: issuer, Ci: ci,
		}},
	}, nil
}

// checkProductCodes refuses a vaccine without EU codes, or with codes
// outside the value sets.
func checkProductCodes(vaccine string, c ProductCodes) error {
	if c.MedicinalProduct == "" || c.Manufacturer == "" || c.Prophylaxis == "" {
		return fail(CodeNoEUCodes, "vaccine %q has no EU DCC codes (medicinal product %q, manufacturer %q, prophylaxis %q): "+
			"an EU DCC cannot be issued for it", vaccine, c.MedicinalProduct, c.Manufacturer, c.Prophylaxis)
	}
	for _, f := range []struct{ set, field, code string }{
		{SetMedicinalProduct, "medicinal product (mp)", c.MedicinalProduct},
		{SetManufacturer, "manufacturer (ma)", c.Manufacturer},
		{SetProphylaxis, "prophylaxis (vp)", c.Prophylaxis},
		{SetDiseaseTargeted, "target (tg)", c.Target},
	} {
		if _, ok := LookupValue(f.set, f.code); !ok {
			return fail(CodeNoEUCodes, "vaccine %q: %s %q is not in the EU value set %s", vaccine, f.field, f.code, f.set)
		}
	}
	if !countryRE.MatchString(c.Country) {
		return fail(CodeBadVaccination, "country of vaccination %q is not an ISO 3166-1 alpha-2 code", c.Country)
	}
	if _, ok := LookupValue(SetCountry, c.Country); !ok {
		return fail(CodeBadVaccination, "country of vaccination %q is not in the EU value set %s", c.Country, SetCountry)
	}
	return nil
}

// vaccinationDate accepts YYYY-MM-DD or an RFC 3339 timestamp (its date).
func vaccinationDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	if dateRE.MatchString(s) {
		if _, err := time.Parse(time.DateOnly, s); err == nil {
			return s, nil
		}
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format(time.DateOnly), nil
	}
	return "", fail(CodeBadVaccination, "vaccination date %q is not a date (YYYY-MM-DD)", s)
}

// nameFrom splits a full name at its last space: "Asha Devi Verma" is
// forenames "Asha Devi", surname "Verma"; one word is a surname only.
func nameFrom(full string) (Name, error) {
	words := strings.Fields(full)
	if len(words) == 0 {
		return Name{}, fail(CodeBadVaccination, "holder has no name")
	}
	n := Name{Fn: words[len(words)-1], Gn: strings.Join(words[:len(words)-1], " ")}
	var err error
	if n.Fnt, err = Transliterate(n.Fn); err != nil {
		return Name{}, err
	}
	if n.Gn != "" {
		if n.Gnt, err = Transliterate(n.Gn); err != nil {
			return Name{}, err
		}
	}
	for _, s := range []string{n.Fn, n.Fnt, n.Gn, n.Gnt} {
		if utf8.RuneCountInString(s) > 80 {
			return Name{}, fail(CodeBadVaccination, "name part %q is longer than the 80 characters a DCC allows", s)
		}
	}
	return n, nil
}

// UVCI returns URN:UVCI:01:<country>:<id>#<check>, the unique vaccination
// certificate identifier (eHealth Network guidelines, annex 2), with the
// Luhn mod 38 check character. The certificate id must be made of A-Z and
// 0-9, as the node's ids are: lower-case letters are refused rather than
// upper-cased, which could merge two ids.
func UVCI(country, id string) (string, error) {
	if !countryRE.MatchString(country) {
		return "", fail(CodeBadVaccination, "UVCI: country %q is not an ISO 3166-1 alpha-2 code", country)
	}
	if id == "" {
		return "", fail(CodeBadVaccination, "UVCI: no certificate id")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return "", fail(CodeBadVaccination, "UVCI: certificate id %q has %q; a UVCI carries only A-Z, 0-9, '/' and ':'", id, c)
		}
	}
	base := "URN:UVCI:01:" + country + ":" + id
	check, err := luhnModN(base)
	if err != nil {
		return "", err
	}
	ci := base + "#" + string(check)
	if len(ci) > 80 {
		return "", fail(CodeBadVaccination, "UVCI %q is longer than 80 characters", ci)
	}
	return ci, nil
}

// uvciAlphabet is the code point order of the UVCI check character.
const uvciAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:"

// luhnModN computes the Luhn mod N check character (N = 38) of s.
func luhnModN(s string) (byte, error) {
	n := len(uvciAlphabet)
	sum, factor := 0, 2
	for i := len(s) - 1; i >= 0; i-- {
		cp := strings.IndexByte(uvciAlphabet, s[i])
		if cp < 0 {
			return 0, fail(CodeBadVaccination, "UVCI: character %q is outside the UVCI alphabet", s[i])
		}
		addend := factor * cp
		sum += addend/n + addend%n
		factor = 3 - factor
	}
	return uvciAlphabet[(n-sum%n)%n], nil
}

// ValidUVCICheck reports whether a UVCI that ends in "#<check>" has the
// right check character.
func ValidUVCICheck(ci string) bool {
	base, check, ok := strings.Cut(ci, "#")
	if !ok || len(check) != 1 {
		return false
	}
	c, err := luhnModN(strings.ToUpper(base))
	return err == nil && c == check[0]
}

// icaoSpecial are the ICAO 9303 part 3 (table A) transliterations that are
// not "drop the diacritic". German umlauts take the two-letter form, as the
// DCC test data does (Gößinger → GOESSINGER, Lövström → LOEVSTROEM).
var icaoSpecial = map[rune]string{
	'Ä': "AE", 'Ö': "OE", 'Ü': "UE", 'ß': "SS", 'Æ': "AE", 'Œ': "OE", 'Ø': "OE", 'Å': "AA",
	'Ĳ': "IJ", 'Þ': "TH", 'Ð': "D", 'Đ': "D", 'Ł': "L", 'Ħ': "H", 'İ': "I", 'ı': "I", 'Ŀ': "L",
	'ẞ': "SS", 'Ŋ': "N", 'ſ': "S",
}

// Transliterate standardises a name part per ICAO Doc 9303 part 3 for
// fnt/gnt: Latin letters upper-cased without diacritics (with the
// table's two-letter forms for Ä, Ö, Ü, ß, Æ, Ø, Å, ...), spaces and
// hyphens become "<", apostrophes and dots are dropped. Letters of other
// scripts have no transliteration here: such a name is refused, so that a
// DCC never carries an empty or guessed standardised name.
func Transliterate(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case 'A' <= r && r <= 'Z':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '‐' || r == '–' || r == ',':
			b.WriteByte('<')
		case r == '\'' || r == '’' || r == '‘' || r == '.' || r == '`':
			// dropped
		default:
			up := []rune(strings.ToUpper(string(r)))
			if len(up) == 1 {
				r = up[0]
			}
			if t, ok := icaoSpecial[r]; ok {
				b.WriteString(t)
				continue
			}
			if base, ok := latinBase(r); ok {
				b.WriteByte(base)
				continue
			}
			return "", fail(CodeBadVaccination, "name %q has %q, which has no ICAO 9303 Latin transliteration here", s, r)
		}
	}
	out := strings.Trim(b.String(), "<")
	for strings.Contains(out, "<<") {
		out = strings.ReplaceAll(out, "<<", "<")
	}
	if out == "" {
		return "", fail(CodeBadVaccination, "name %q has no letters to standardise", s)
	}
	return out, nil
}

// latinBase returns the unaccented capital letter of a Latin letter with
// diacritics (É → E, Ñ → N, Č → C), from its canonical decomposition.
func latinBase(r rune) (byte, bool) {
	d := []rune(norm.NFD.String(string(r)))
	if len(d) == 0 {
		return 0, false
	}
	c := d[0]
	if 'a' <= c && c <= 'z' {
		c -= 'a' - 'A'
	}
	if c < 'A' || c > 'Z' {
		return 0, false
	}
	for _, m := range d[1:] {
		if !unicode.Is(unicode.Mn, m) {
			return 0, false
		}
	}
	return byte(c), true
}
