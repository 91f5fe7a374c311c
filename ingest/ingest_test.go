package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/divocfmt"
)

func person(id, name string) divocfmt.Recipient {
	return divocfmt.Recipient{Name: name, Identity: id, Mobile: "9880414889", DOB: "1990-01-02"}
}

// Threat 11: the pseudonym is a keyed hash. Without the key a 12-digit
// identity cannot be found by hashing all of them; with it, the same person
// gets the same pseudonym at every facility, however the identity is typed.
func TestRecipientRefIsKeyed(t *testing.T) {
	k1, k2 := PseudonymKey(make([]byte, 32)), NewPseudonymKey()
	id := "did:in.gov.uidai.aadhaar:234234333412"
	r := k1.RecipientRef(person(id, "Bhaya Mitra"))
	plain := sha256.Sum256([]byte(id))
	plainNorm := sha256.Sum256([]byte("id:" + id))
	if r == hex.EncodeToString(plain[:]) || r == hex.EncodeToString(plainNorm[:]) {
		t.Fatal("recipient ref is a plain hash of the identity")
	}
	// The fresh-eyes review got a second dose 1 accepted by retyping the number.
	for _, same := range []string{"did:in.gov.uidai.aadhaar:2342-3433-3412", "234234333412", "2342 3433 3412", "did:in.gov.uidai.aadhaar:234234333412\u200b"} {
		if k1.RecipientRef(person(same, "x")) != r {
			t.Errorf("%q gives another pseudonym than %q", same, id)
		}
	}
	if r == k2.RecipientRef(person(id, "Bhaya Mitra")) {
		t.Fatal("two keys give the same pseudonym")
	}
	if r != k1.RecipientRef(person(" DID:in.gov.uidai.aadhaar:234234333412 ", "B. Mitra")) {
		t.Fatal("the same identity typed differently gives another pseudonym")
	}
	if r == k1.RecipientRef(person("did:in.gov.uidai.aadhaar:234234333413", "Bhaya Mitra")) {
		t.Fatal("two identities share a pseudonym")
	}
	// Without an identity, mobile, name and date of birth stand for it.
	a := k1.RecipientRef(divocfmt.Recipient{Name: "Megha Das", Mobile: "+91 98804 14889", DOB: "1975-06-22"})
	b := k1.RecipientRef(divocfmt.Recipient{Name: "megha das", Mobile: "09880414889", DOB: "1975-06-22"})
	if a != b {
		t.Fatal("fallback pseudonym depends on formatting")
	}
	// The commitment changes with any personal detail.
	c := divocfmt.Certificate{Recipient: person(id, "Bhaya Mitra")}
	d := c
	d.Recipient.Name = "Bhaya Mitraa"
	if k1.Commitment(c) == k1.Commitment(d) {
		t.Fatal("commitment ignores the name")
	}
}

func TestPrepare(t *testing.T) {
	cat := NewCatalog(
		[]app.Vaccine{{Code: "COVISHIELD", Name: "Covishield", Manufacturer: "Serum Institute of India", Doses: 2}, {Code: "MRVAC", Name: "MR-VAC", Manufacturer: "Serum Institute of India", Doses: 2}},
		[]app.Program{{ID: "C19", Vaccines: []string{"COVISHIELD"}}, {ID: "MR", Vaccines: []string{"MRVAC"}}},
		[]divocfmt.Vaccinator{{Code: "A1", Name: "Amar", FacilityCodes: []string{"DEL010"}}, {Code: "A2", Name: "Akbar", FacilityCodes: []string{"PUN001"}}},
	)
	day := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
	row := func(n int, vaccine, vaccinator string) divocfmt.Certificate {
		return divocfmt.Certificate{Row: n, Recipient: person("did:x:1234567890"+string(rune('0'+n)), "P"), VaccinatorName: vaccinator,
			Vaccination: divocfmt.Vaccination{Name: vaccine, Batch: "B1", Date: day, Dose: 1, TotalDoses: 2}}
	}
	b := Prepare("DEL010", "", []divocfmt.Certificate{
		row(2, "Covishield", "Amar"),
		row(3, "Sputnik", "Amar"),
		row(4, "MR-VAC", "A1"),
		row(5, "Covishield", "Nobody"),
		row(6, "covishield", "Akbar"), // a vaccinator of another facility: the ledger decides
	}, cat, NewPseudonymKey())
	if len(b.Rows) != 3 || len(b.Errors) != 2 {
		t.Fatalf("rows %d errors %+v", len(b.Rows), b.Errors)
	}
	if b.Errors[0].Row != 3 || b.Errors[0].Code != CodeUnknownVaccine || b.Errors[1].Row != 5 || b.Errors[1].Code != CodeUnknownVaccinator {
		t.Fatalf("errors: %+v", b.Errors)
	}
	ev := b.Rows[0].Event
	if ev.Program != "C19" || ev.Vaccine != "COVISHIELD" || ev.Vaccinator != "A1" || ev.Date != "2026-11-30" || ev.AgeBand != "18-44" {
		t.Fatalf("event: %+v", ev)
	}
	if b.Rows[1].Event.Program != "MR" || b.Rows[2].Event.Vaccinator != "A2" {
		t.Fatalf("program or vaccinator resolution: %+v %+v", b.Rows[1].Event, b.Rows[2].Event)
	}
	// The program of the upload overrides the vaccine's.
	if got := Prepare("DEL010", "C19", []divocfmt.Certificate{row(2, "MR-VAC", "Amar")}, cat, NewPseudonymKey()); got.Rows[0].Event.Program != "C19" {
		t.Fatalf("program override: %+v", got.Rows[0].Event)
	}
}

func TestAgeBand(t *testing.T) {
	for _, c := range []struct {
		age   int
		known bool
		want  string
	}{{0, false, ""}, {17, true, "0-17"}, {18, true, "18-44"}, {44, true, "18-44"}, {45, true, "45-59"}, {60, true, "60+"}, {101, true, "60+"}} {
		if got := AgeBand(c.age, c.known); got != c.want {
			t.Errorf("AgeBand(%d) = %q, want %q", c.age, got, c.want)
		}
	}
}
