package divocld

import (
	"strconv"
	"strings"
	"time"

	"github.com/divoc/divoc/credential"
)

// readFacts reads a DIVOC certificate's holder and vaccination into the
// format-neutral shape: credentialSubject (name, gender, age, dob,
// nationality, id, refId) and the first evidence (certificateId, vaccine,
// manufacturer, batch, date, dose, totalDoses, effectiveUntil, verifier,
// facility). It reads loosely: DIVOC wrote numbers as strings or numbers,
// and empty strings for unknown values.
func readFacts(doc map[string]any) credential.Vaccination {
	var v credential.Vaccination
	switch is := doc["issuer"].(type) {
	case string:
		v.Issuer = is
	case map[string]any:
		v.Issuer = str(is["id"])
		v.IssuerName = str(is["name"])
	}
	if at, err := time.Parse(time.RFC3339Nano, str(doc["issuanceDate"])); err == nil {
		v.IssuedAt = at.UTC()
	}
	if cs, ok := doc["credentialSubject"].(map[string]any); ok {
		v.Holder = credential.Person{
			Name:        str(cs["name"]),
			Gender:      str(cs["gender"]),
			Age:         integer(cs["age"]),
			DOB:         str(cs["dob"]),
			Nationality: str(cs["nationality"]),
			Identity:    str(cs["id"]),
			RefID:       str(cs["refId"]),
		}
	}
	evs, _ := doc["evidence"].([]any)
	if len(evs) == 0 {
		if one, ok := doc["evidence"].(map[string]any); ok {
			evs = []any{one}
		}
	}
	if len(evs) > 0 {
		if ev, ok := evs[0].(map[string]any); ok {
			v.ID = str(ev["certificateId"])
			if v.ID == "" {
				// DIVOC's evidence id is <base>/vaccine/<certificate id>.
				if id := str(ev["id"]); strings.Contains(id, "/vaccine/") {
					v.ID = id[strings.LastIndex(id, "/")+1:]
				}
			}
			v.Dose = credential.Dose{
				Vaccine:        str(ev["vaccine"]),
				Manufacturer:   str(ev["manufacturer"]),
				Batch:          str(ev["batch"]),
				Date:           str(ev["date"]),
				Dose:           integer(ev["dose"]),
				TotalDoses:     integer(ev["totalDoses"]),
				EffectiveUntil: str(ev["effectiveUntil"]),
			}
			if vr, ok := ev["verifier"].(map[string]any); ok {
				v.Vaccinator = str(vr["name"])
			}
			if f, ok := ev["facility"].(map[string]any); ok {
				v.Facility.Name = str(f["name"])
				if a, ok := f["address"].(map[string]any); ok {
					v.Facility.District = str(a["district"])
					v.Facility.State = str(a["addressRegion"])
				}
			}
		}
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// integer reads a whole number written as a JSON number or a string; 0
// when it is neither.
func integer(v any) int {
	switch t := v.(type) {
	case float64:
		if t == float64(int(t)) {
			return int(t)
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(t)); err == nil {
			return n
		}
	}
	return 0
}
