package divocfmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzz targets check that no input panics, that every error is a
// *FileError, and that what a parser accepts survives a write and a re-read.

func FuzzParseBulkCSV(f *testing.F) {
	f.Add(bulkFile(f, sampleRow()))
	f.Add(bulkFile(f, with(map[string]string{"recipientName": "=1+1", "vaccinationDose": "3"})))
	f.Add(bulkFile(f, with(map[string]string{"recipientDOB": "", "recipientAge": "0", "recipientAddressLine1": "a\nb"})))
	f.Add("recipientName,vaccinationDate,vaccinationDose,vaccinationName,vaccinationBatch,vaccinatorName,recipientMobileNumber\r\n" +
		"'@x,2021-01-01,1,V,B,N,+919876543210\r\n\"a\"b,,,\n")
	if data, err := os.ReadFile("testdata/bulk-bom-crlf.csv"); err == nil {
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, data string) {
		certs, rowErrs, err := ParseBulkCSV(strings.NewReader(data), CSVOptions{MaxRows: 50})
		if err != nil {
			requireFileError(t, err)
			return
		}
		requireRowErrors(t, rowErrs)
		var buf bytes.Buffer
		if err := WriteBulkCSV(&buf, certs); err != nil {
			t.Fatal(err)
		}
		again, rowErrs, err := ParseBulkCSV(&buf, CSVOptions{MaxRows: 50})
		if err != nil || len(rowErrs) > 0 {
			t.Fatalf("re-reading what was written: %v %v\n%s", err, rowErrs, buf.Bytes())
		}
		requireSameCertificates(t, again, certs)
	})
}

func FuzzParseCertifyJSON(f *testing.F) {
	sample, err := os.ReadFile("testdata/divoc/certify.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add([]byte(`[{"recipient": {"name": "a", "Name": "b"}}]`))
	f.Add([]byte(`[{"vaccination": {"dose": "2", "totalDoses": 1.5}, "recipient": {"contact": "tel:+919876543210", "age": "40"}}, 7, null]`))
	f.Add([]byte(`[[[[[[]]]]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, rowErrs, err := ParseCertifyJSON(data, JSONOptions{MaxItems: 50})
		valid := utf8.Valid(data) && json.Valid(bytes.TrimPrefix(data, utf8BOM))
		if err != nil {
			fe := requireFileError(t, err)
			if valid && (fe.Code == CodeInvalidJSON || fe.Code == CodeInvalidEncoding) {
				t.Fatalf("valid JSON refused as %v", err)
			}
			return
		}
		if !valid {
			t.Fatalf("invalid JSON accepted: %q", data)
		}
		requireRowErrors(t, rowErrs)
		// What a certify request gives, the bulk CSV carries too.
		var buf bytes.Buffer
		if err := WriteBulkCSV(&buf, certs); err != nil {
			t.Fatal(err)
		}
		again, rowErrs, err := ParseBulkCSV(&buf, CSVOptions{MaxRows: 50})
		if err != nil || len(rowErrs) > 0 {
			t.Fatalf("re-reading as CSV: %v %v\n%s", err, rowErrs, buf.Bytes())
		}
		for i := range certs {
			certs[i].ProgramID = ""
		}
		requireSameCertificates(t, again, certs)
	})
}

func FuzzParseFacilitiesCSV(f *testing.F) {
	sample, err := os.ReadFile("testdata/divoc/facilities.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add([]byte("facilityCode,facilityName,category\nA,=B,GOVT\na,B,PRIVATE\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		facilities, rowErrs, err := ParseFacilitiesCSV(bytes.NewReader(data))
		if err != nil {
			requireFileError(t, err)
			return
		}
		requireRowErrors(t, rowErrs)
		var buf bytes.Buffer
		if err := WriteFacilitiesCSV(&buf, facilities); err != nil {
			t.Fatal(err)
		}
		again, rowErrs, err := ParseFacilitiesCSV(&buf)
		if err != nil || len(rowErrs) > 0 || len(again) != len(facilities) {
			t.Fatalf("re-reading: %v %v", err, rowErrs)
		}
		for i := range again {
			again[i].Row = facilities[i].Row
		}
		if !reflect.DeepEqual(again, facilities) {
			t.Fatalf("round trip\n got %+v\nwant %+v", again, facilities)
		}
	})
}

func FuzzParseVaccinatorsCSV(f *testing.F) {
	sample, err := os.ReadFile("testdata/divoc/vaccinators.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add([]byte("code,name,facilityIds\nV1,@x,\"A, B,,A\"\nv1,y,C\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vaccinators, rowErrs, err := ParseVaccinatorsCSV(bytes.NewReader(data))
		if err != nil {
			requireFileError(t, err)
			return
		}
		requireRowErrors(t, rowErrs)
		var buf bytes.Buffer
		if err := WriteVaccinatorsCSV(&buf, vaccinators); err != nil {
			t.Fatal(err)
		}
		again, rowErrs, err := ParseVaccinatorsCSV(&buf)
		if err != nil || len(rowErrs) > 0 || len(again) != len(vaccinators) {
			t.Fatalf("re-reading: %v %v", err, rowErrs)
		}
		for i := range again {
			again[i].Row = vaccinators[i].Row
		}
		if !reflect.DeepEqual(again, vaccinators) {
			t.Fatalf("round trip\n got %+v\nwant %+v", again, vaccinators)
		}
	})
}

func requireFileError(t *testing.T, err error) *FileError {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) || fe.Code == "" || fe.Message == "" {
		t.Fatalf("error %v (%T) is not a *FileError with a code and a message", err, err)
	}
	return fe
}

func requireRowErrors(t *testing.T, errs []RowError) {
	t.Helper()
	for _, e := range errs {
		if e.Code == "" || e.Message == "" {
			t.Fatalf("row error without a code or message: %+v", e)
		}
	}
}

// requireSameCertificates compares certificates but not their Row.
func requireSameCertificates(t *testing.T, got, want []Certificate) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d certificates, want %d", len(got), len(want))
	}
	for i := range got {
		g := got[i]
		g.Row = want[i].Row
		if !reflect.DeepEqual(g, want[i]) {
			t.Fatalf("certificate %d\n got %+v\nwant %+v", i, g, want[i])
		}
	}
}
