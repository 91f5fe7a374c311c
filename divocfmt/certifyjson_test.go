package divocfmt

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/divoc/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseCertifyJSONSample(t *testing.T) {
	certs, errs, err := ParseCertifyJSON(readSample(t, "certify.json"), JSONOptions{})
	if err != nil || len(errs) > 0 {
		t.Fatalf("err %v, row errors %v", err, errs)
	}
	if want := []Certificate{sampleCertificate(0, "1234")}; !reflect.DeepEqual(certs, want) {
		t.Errorf("got  %+v\nwant %+v", certs, want)
	}
}

// sampleRequest is the certify.json sample's one element, decoded.
func sampleRequest(t testing.TB) map[string]any {
	var list []map[string]any
	if err := json.Unmarshal(readSample(t, "certify.json"), &list); err != nil {
		t.Fatal(err)
	}
	return list[0]
}

// set changes the value at a dotted path; a nil value deletes the key.
func set(m map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	if v == nil {
		delete(m, keys[len(keys)-1])
		return
	}
	m[keys[len(keys)-1]] = v
}

type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

func TestParseCertifyJSONElements(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]any
		want    []fieldCode
		check   func(t *testing.T, c Certificate)
	}{
		{"sample", nil, nil, nil},
		{"unknown fields ignored", map[string]any{"extra": 1, "recipient.extra": []int{1}}, nil, nil},
		{"dose as a string", map[string]any{"vaccination.dose": "2"}, nil, func(t *testing.T, c Certificate) {
			if c.Vaccination.Dose != 2 {
				t.Errorf("dose %d", c.Vaccination.Dose)
			}
		}},
		{"age as a string", map[string]any{"recipient.age": "27"}, nil, func(t *testing.T, c Certificate) {
			if c.Recipient.Age != 27 {
				t.Errorf("age %d", c.Recipient.Age)
			}
		}},
		{"age as a number", map[string]any{"recipient.age": 27}, nil, func(t *testing.T, c Certificate) {
			if c.Recipient.Age != 27 {
				t.Errorf("age %d", c.Recipient.Age)
			}
		}},
		{"pincode as a number", map[string]any{"recipient.address.pincode": 560034}, nil, func(t *testing.T, c Certificate) {
			if c.Recipient.Address.Pincode != "560034" {
				t.Errorf("pincode %q", c.Recipient.Address.Pincode)
			}
		}},
		{"null is empty", map[string]any{"recipient.gender": jsonNull{}}, nil, nil},
		{"mobile from the first tel: entry", map[string]any{"recipient.contact": []string{"mailto:a@b.in", "tel:9876543210", "tel:9999999999"}}, nil,
			func(t *testing.T, c Certificate) {
				if c.Recipient.Mobile != "9876543210" {
					t.Errorf("mobile %q", c.Recipient.Mobile)
				}
			}},
		{"contact as one string", map[string]any{"recipient.contact": "tel:9876543210"}, nil, nil},
		{"dose 1.5", map[string]any{"vaccination.dose": 1.5}, []fieldCode{{"[0].vaccination.dose", CodeInvalidNumber}}, nil},
		{"dose above total", map[string]any{"vaccination.dose": 3}, []fieldCode{{"[0].vaccination.dose", CodeDoseOutOfRange}}, nil},
		{"dose a boolean", map[string]any{"vaccination.dose": true}, []fieldCode{{"[0].vaccination.dose", CodeInvalidType}}, nil},
		{"missing dose", map[string]any{"vaccination.dose": nil}, []fieldCode{{"[0].vaccination.dose", CodeMissingValue}}, nil},
		{"name an object", map[string]any{"recipient.name": map[string]any{"first": "B"}}, []fieldCode{{"[0].recipient.name", CodeInvalidType}}, nil},
		{"recipient a string", map[string]any{"recipient": "Bhaya Mitra"}, []fieldCode{{"[0].recipient", CodeInvalidType}}, nil},
		{"vaccination missing", map[string]any{"vaccination": nil}, []fieldCode{
			{"[0].vaccination.batch", CodeMissingValue}, {"[0].vaccination.date", CodeMissingValue},
			{"[0].vaccination.dose", CodeMissingValue}, {"[0].vaccination.name", CodeMissingValue}}, nil},
		{"contact entry a number", map[string]any{"recipient.contact": []any{9876543210}}, []fieldCode{{"[0].recipient.contact[0]", CodeInvalidType}}, nil},
		{"bad mobile", map[string]any{"recipient.contact": []string{"tel:12345"}}, []fieldCode{{"[0].recipient.contact", CodeInvalidMobile}}, nil},
		{"no identity, no tel", map[string]any{"recipient.identity": nil, "recipient.contact": []string{"mailto:a@b.in"}},
			[]fieldCode{{"[0].recipient.identity", CodeMissingContact}}, nil},
		{"bad date", map[string]any{"vaccination.date": "2 Dec 2020"}, []fieldCode{{"[0].vaccination.date", CodeInvalidDate}}, nil},
		{"bad effectiveUntil", map[string]any{"vaccination.effectiveUntil": "2025"}, []fieldCode{{"[0].vaccination.effectiveUntil", CodeInvalidDate}}, nil},
		{"long programId", map[string]any{"programId": strings.Repeat("p", MaxFieldLen+1)}, []fieldCode{{"[0].programId", CodeTooLong}}, nil},
		{"missing vaccinator", map[string]any{"vaccinator.name": ""}, []fieldCode{{"[0].vaccinator.name", CodeMissingValue}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := sampleRequest(t)
			for path, v := range tt.changes {
				set(req, path, v)
			}
			data, err := json.Marshal([]any{req})
			if err != nil {
				t.Fatal(err)
			}
			certs, errs, err := ParseCertifyJSON(data, JSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := fieldCodes(errs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("row errors %v, want %v (%v)", got, tt.want, errs)
			}
			if tt.want != nil {
				if len(certs) != 0 {
					t.Errorf("bad element returned as a certificate: %+v", certs)
				}
				return
			}
			if len(certs) != 1 {
				t.Fatalf("got %d certificates, want 1", len(certs))
			}
			if tt.check != nil {
				tt.check(t, certs[0])
			}
		})
	}
}

func TestParseCertifyJSONKeepsGoodElements(t *testing.T) {
	good := sampleRequest(t)
	bad := sampleRequest(t)
	set(bad, "recipient.name", "")
	data, _ := json.Marshal([]any{good, bad, 7, good})
	certs, errs, err := ParseCertifyJSON(data, JSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || certs[0].Row != 0 || certs[1].Row != 3 {
		t.Errorf("good elements %+v, want rows 0 and 3", certs)
	}
	want := []fieldCode{{"[1].recipient.name", CodeMissingValue}, {"[2]", CodeInvalidType}}
	if got := fieldCodes(errs); !reflect.DeepEqual(got, want) {
		t.Errorf("row errors %v, want %v", got, want)
	}
	if errs[0].Row != 1 || errs[1].Row != 2 {
		t.Errorf("rows of errors %v", errs)
	}
}

func TestParseCertifyJSONFileErrors(t *testing.T) {
	sample := string(readSample(t, "certify.json"))
	tests := []struct {
		name       string
		data       string
		opts       JSONOptions
		wantCode   string
		wantOffset int64 // -1: not checked
		wantNames  []string
	}{
		{"empty", "", JSONOptions{}, CodeInvalidJSON, 0, nil},
		{"malformed", `[{"a": 1,}]`, JSONOptions{}, CodeInvalidJSON, 9, nil}, // the } at byte 9
		{"truncated", sample[:200], JSONOptions{}, CodeInvalidJSON, 200, nil},
		{"trailing comma in array", `[{},]`, JSONOptions{}, CodeInvalidJSON, -1, nil},
		{"trailing data", `[] []`, JSONOptions{}, CodeInvalidJSON, -1, nil},
		{"trailing garbage", `[] x`, JSONOptions{}, CodeInvalidJSON, -1, nil},
		{"not UTF-8", `[{"a": "` + "\xff" + `"}]`, JSONOptions{}, CodeInvalidEncoding, 8, nil},
		{"an object", `{"preEnrollmentCode": "1"}`, JSONOptions{}, CodeNotAnArray, -1, nil},
		{"a string", `"x"`, JSONOptions{}, CodeNotAnArray, -1, nil},
		{"duplicate top-level key", `[{"programId": "1", "programId": "2"}]`, JSONOptions{}, CodeDuplicateKey, -1, []string{"programId"}},
		{"duplicate nested key", strings.Replace(sample, `"dose": 1,`, `"dose": 1, "dose": 2,`, 1), JSONOptions{}, CodeDuplicateKey, -1, []string{"dose"}},
		{"duplicate key spelt with an escape", `[{"name": 1, "n\u0061me": 2}]`, JSONOptions{}, CodeDuplicateKey, -1, []string{"name"}},
		{"duplicate key in another case", `[{"recipient": {"name": "a", "Name": "b"}}]`, JSONOptions{}, CodeDuplicateKey, -1, []string{"Name"}},
		{"duplicate key in an ignored field", `[{"comorbidities": [{"x": 1, "x": 1}]}]`, JSONOptions{}, CodeDuplicateKey, -1, []string{"x"}},
		{"too many items", `[{}, {}, {}]`, JSONOptions{MaxItems: 2}, CodeTooManyItems, -1, nil},
		{"items at the limit", `[{}, {}]`, JSONOptions{MaxItems: 2}, "", -1, nil},
		{"too deep", "[" + strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40) + "]", JSONOptions{}, CodeTooDeep, -1, nil},
		{"BOM accepted", "\xef\xbb\xbf[]", JSONOptions{}, "", -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseCertifyJSON([]byte(tt.data), tt.opts)
			checkFileError(t, err, tt.wantCode, tt.wantNames)
			if fe, ok := err.(*FileError); ok && tt.wantOffset >= 0 && fe.Offset != tt.wantOffset {
				t.Errorf("offset %d, want %d (%v)", fe.Offset, tt.wantOffset, fe)
			}
		})
	}
}

// TestParseCertifyJSONDefaultMaxItems checks the default limit applies.
func TestParseCertifyJSONDefaultMaxItems(t *testing.T) {
	data := "[" + strings.Repeat("{},", DefaultMaxItems) + "{}]"
	_, _, err := ParseCertifyJSON([]byte(data), JSONOptions{})
	checkFileError(t, err, CodeTooManyItems, nil)
	_, errs, err := ParseCertifyJSON([]byte(data), JSONOptions{MaxItems: -1})
	if err != nil || len(errs) == 0 {
		t.Errorf("no limit: err %v, %d row errors", err, len(errs))
	}
}
