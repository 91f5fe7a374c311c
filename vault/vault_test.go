package vault

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/divocfmt"
)

func open(t *testing.T) *Vault {
	t.Helper()
	v, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func TestRecordsByIDAndEnrollment(t *testing.T) {
	v := open(t)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	recs := []*Record{
		{ID: "CERT0001", Facility: "DEL010", Cert: divocfmt.Certificate{PreEnrollmentCode: "E1", Recipient: divocfmt.Recipient{Name: "Asha"}}, Credential: "a.b.c", Hash: "h1", CreatedAt: now},
		{ID: "CERT0002", Facility: "DEL010", Cert: divocfmt.Certificate{PreEnrollmentCode: "E1"}, Credential: "d.e.f", Hash: "h2", CreatedAt: now},
		{ID: "CERT0003", Facility: "BLR311", Cert: divocfmt.Certificate{PreEnrollmentCode: "E1"}, CreatedAt: now},
	}
	if err := v.PutRecords(recs); err != nil {
		t.Fatal(err)
	}
	got, err := v.Record("CERT0001")
	if err != nil || got.Cert.Recipient.Name != "Asha" || got.Credential != "a.b.c" || !got.CreatedAt.Equal(now) {
		t.Fatalf("record: %+v %v", got, err)
	}
	recs[0].Cert.Recipient.Gender = "Female"
	if err := v.PutRecords(recs[:1]); err != nil {
		t.Fatal(err)
	}
	if g, ok := v.Gender("CERT0001"); !ok || g != "Female" {
		t.Fatalf("gender: %q %v", g, ok)
	}
	if _, ok := v.Gender("NOPE"); ok {
		t.Fatal("gender of a certificate the vault does not hold")
	}
	ids, err := v.ByPreEnrollment("DEL010", "E1")
	if err != nil || len(ids) != 2 {
		t.Fatalf("by enrollment: %v %v", ids, err)
	}
	if err := v.DeleteRecords(recs[1:2]); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Record("CERT0002"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted record: %v", err)
	}
	if ids, _ := v.ByPreEnrollment("DEL010", "E1"); len(ids) != 1 || ids[0] != "CERT0001" {
		t.Fatalf("enrollment index after delete: %v", ids)
	}
	// Erasure removes the person's data and leaves a tombstone.
	if err := v.Erase("CERT0001", now); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Record("CERT0001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("erased record still readable: %v", err)
	}
	if g, ok := v.Gender("CERT0001"); ok {
		t.Fatalf("erased record's gender still readable: %q", g)
	}
	if ids, _ := v.ByPreEnrollment("DEL010", "E1"); len(ids) != 0 {
		t.Fatalf("erased record still indexed: %v", ids)
	}
	if err := v.Erase("NOPE", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("erasing an unknown record: %v", err)
	}
}

func TestUploadsAndVaccinators(t *testing.T) {
	v := open(t)
	up := &Upload{ID: "u1", Facility: "DEL010", Status: UploadProcessing, Rows: 3, Errors: []divocfmt.RowError{{Row: 2, Field: "vaccinationDate", Code: "invalid_date"}}}
	if err := v.PutUpload(up); err != nil {
		t.Fatal(err)
	}
	up.Status = UploadCommitted
	if err := v.PutUpload(up); err != nil {
		t.Fatal(err)
	}
	got, err := v.Upload("u1")
	if err != nil || got.Status != UploadCommitted || len(got.Errors) != 1 || got.Errors[0].Field != "vaccinationDate" {
		t.Fatalf("upload: %+v %v", got, err)
	}
	if _, err := v.Upload("u2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown upload: %v", err)
	}
	vs := []divocfmt.Vaccinator{{Code: "A1", Name: "Amar", FacilityCodes: []string{"DEL010"}}, {Code: "A2", Name: "Akbar"}}
	if err := v.PutVaccinators(vs); err != nil {
		t.Fatal(err)
	}
	back, err := v.Vaccinators()
	if err != nil || len(back) != 2 || back[0].Name != "Amar" || back[0].FacilityCodes[0] != "DEL010" {
		t.Fatalf("vaccinators: %+v %v", back, err)
	}
}

// An upload that was processing when the node stopped is marked
// interrupted on the next start, not left "processing" forever.
func TestInterruptUploads(t *testing.T) {
	dir := t.TempDir()
	v, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	v.PutUpload(&Upload{ID: "a", Status: UploadProcessing, Rows: 10, Pending: 4, Results: make([]RowResult, 6)})
	v.PutUpload(&Upload{ID: "b", Status: UploadCommitted})
	v.Close()
	v, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	n, err := v.InterruptUploads(time.Now())
	if err != nil || n != 1 {
		t.Fatalf("interrupted %d: %v", n, err)
	}
	a, _ := v.Upload("a")
	b, _ := v.Upload("b")
	if a.Status != UploadInterrupted || !strings.Contains(a.Message, "4 were not processed") || b.Status != UploadCommitted {
		t.Fatalf("a %+v, b %+v", a, b)
	}
}
