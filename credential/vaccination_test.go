package credential

import (
	"strings"
	"testing"
	"time"
)

func TestMaskIdentity(t *testing.T) {
	if got := MaskIdentity("did:in.gov.uidai.aadhaar:234234333412"); got != "did:in.gov.uidai.aadhaar:XXXXXXXX3412" {
		t.Errorf("aadhaar masked as %q", got)
	}
	for _, c := range []struct{ in, want string }{
		{"did:in.gov.driverlicense:CVGHGV1", "did:in.gov.driverlicense:XXXXXXX"}, // short: masked whole
		{"passport:Z1234567", "passport:XXXX4567"},
		{"mobile:9876543210", "mobile:XXXXXX3210"},
		{"1234", "XXXX"},
		{"ab:", "ab:"},
		{"", ""},
	} {
		if got := MaskIdentity(c.in); got != c.want {
			t.Errorf("MaskIdentity(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The document carries the masked identity, not the number, and reads back.
func TestDocumentRoundTrip(t *testing.T) {
	v := Vaccination{ID: "0N35330CQKB9BMQE", Issuer: "urn:divoc:authority:moh", IssuedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Holder: Person{Name: "Asha Verma", Identity: "did:in.gov.uidai.aadhaar:123412349876"},
		Dose:   Dose{Vaccine: "Covishield", Batch: "B1", Date: "2026-11-30", Dose: 1}}
	doc, err := v.Document()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), "12341234") {
		t.Fatalf("document holds the identity number: %s", doc)
	}
	back, err := ParseDocument(doc)
	if err != nil || back.ID != v.ID || back.Holder.Name != v.Holder.Name || back.Dose != v.Dose || !back.IssuedAt.Equal(v.IssuedAt) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if _, err := (&Vaccination{ID: "x"}).Document(); err == nil {
		t.Fatal("document without issuer and holder accepted")
	}
}
