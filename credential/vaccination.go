// Package credential holds what every certificate format shares: the facts
// of a vaccination certificate and the W3C VC (data model 2.0) document
// that carries them. Each format (vcjwt, and later EU DCC and SMART Health
// Cards) is a sub-package that secures or encodes it, with Issue and
// Verify, and knows nothing of the ledger.
package credential

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/divoc/divoc/internal/strictjson"
)

// Contexts of the vaccination credential. The second is DIVOC's
// vaccination vocabulary.
var Contexts = []string{"https://www.w3.org/ns/credentials/v2", "https://divoc.dev/credentials/vaccination/v2"}

// CredentialType is the type DIVOC gives its certificates.
const CredentialType = "ProofOfVaccinationCredential"

// StatusType names the ledger-anchor status mechanism in credentialStatus.
const StatusType = "DivocLedgerAnchor"

// IDPrefix turns a certificate id into the credential's id.
const IDPrefix = "urn:divoc:certificate:"

// Vaccination is a vaccination certificate: the holder, the dose, who gave
// it and where, and who issued the certificate.
type Vaccination struct {
	ID         string    // certificate id (the ledger's)
	Issuer     string    // issuer URL, e.g. urn:divoc:authority:moh
	IssuerName string    // e.g. Ministry of Health
	IssuedAt   time.Time // validFrom
	StatusURL  string    // where its ledger status is served
	Replaces   string    // certificate id this one corrects, if any

	Holder     Person
	Dose       Dose
	Vaccinator string
	Facility   Place
}

// Person is the holder. Identity is masked to its last four characters.
// The postal address stays in the vault: a verifier compares the name, date
// of birth and identity with an ID document, and a shorter credential makes
// a smaller QR code.
type Person struct {
	Name        string `json:"name"`
	Gender      string `json:"gender,omitempty"`
	Age         int    `json:"age,omitempty"`
	DOB         string `json:"dob,omitempty"`
	Nationality string `json:"nationality,omitempty"`
	Identity    string `json:"id,omitempty"`
	RefID       string `json:"refId,omitempty"`
}

// Dose is the vaccination event. Program and vaccine are the ledger's codes.
type Dose struct {
	Program        string `json:"program,omitempty"`
	Vaccine        string `json:"vaccine"`
	Manufacturer   string `json:"manufacturer,omitempty"`
	Batch          string `json:"batch"`
	Date           string `json:"date"`
	Dose           int    `json:"dose"`
	TotalDoses     int    `json:"totalDoses,omitempty"`
	EffectiveUntil string `json:"effectiveUntil,omitempty"`
}

// Place is a facility: its name, its registry code, and where it is.
type Place struct {
	Name     string `json:"name"`
	Code     string `json:"code,omitempty"`
	District string `json:"district,omitempty"`
	State    string `json:"addressRegion,omitempty"`
}

// document is the JSON shape of the credential.
type document struct {
	Context           []string   `json:"@context"`
	ID                string     `json:"id"`
	Type              []string   `json:"type"`
	Issuer            issuer     `json:"issuer"`
	ValidFrom         string     `json:"validFrom"`
	CredentialSubject subject    `json:"credentialSubject"`
	Evidence          []evidence `json:"evidence"`
	CredentialStatus  status     `json:"credentialStatus"`
}

type issuer struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

type subject struct {
	Type string `json:"type"`
	Person
}

type evidence struct {
	Type     []string `json:"type"`
	Verifier struct {
		Name string `json:"name"`
	} `json:"verifier"`
	Facility Place `json:"facility"`
	Dose
}

type status struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Replaces string `json:"replaces,omitempty"`
}

// MaskIdentity keeps the scheme and the last four characters of an
// identity number: did:in.gov.uidai.aadhaar:XXXXXXXX1234. A number shorter
// than eight characters is masked whole: its last four would give most of
// it away.
func MaskIdentity(id string) string {
	i := strings.LastIndex(id, ":")
	scheme, num := id[:i+1], id[i+1:]
	keep := 4
	if len(num) < 8 {
		keep = 0
	}
	return scheme + strings.Repeat("X", len(num)-keep) + num[len(num)-keep:]
}

// Document returns the credential as canonical JSON.
func (v *Vaccination) Document() ([]byte, error) {
	if v.ID == "" || v.Issuer == "" || v.Holder.Name == "" {
		return nil, errors.New("credential: id, issuer and holder name are required")
	}
	d := document{
		Context:           Contexts,
		ID:                IDPrefix + v.ID,
		Type:              []string{"VerifiableCredential", CredentialType},
		Issuer:            issuer{ID: v.Issuer, Name: v.IssuerName},
		ValidFrom:         v.IssuedAt.UTC().Format(time.RFC3339),
		CredentialSubject: subject{Type: "Person", Person: v.Holder},
		CredentialStatus:  status{ID: v.StatusURL, Type: StatusType, Replaces: v.Replaces},
	}
	d.CredentialSubject.Identity = MaskIdentity(v.Holder.Identity)
	ev := evidence{Type: []string{"Vaccination"}, Facility: v.Facility, Dose: v.Dose}
	ev.Verifier.Name = v.Vaccinator
	d.Evidence = []evidence{ev}
	return strictjson.Marshal(d)
}

// ParseDocument reads a credential document back.
func ParseDocument(b []byte) (*Vaccination, error) {
	var d document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	if !strings.HasPrefix(d.ID, IDPrefix) || len(d.Evidence) != 1 {
		return nil, errors.New("credential: not a DIVOC vaccination credential (id or evidence)")
	}
	at, _ := time.Parse(time.RFC3339, d.ValidFrom)
	ev := d.Evidence[0]
	return &Vaccination{
		ID: strings.TrimPrefix(d.ID, IDPrefix), Issuer: d.Issuer.ID, IssuerName: d.Issuer.Name, IssuedAt: at,
		StatusURL: d.CredentialStatus.ID, Replaces: d.CredentialStatus.Replaces,
		Holder: d.CredentialSubject.Person, Dose: ev.Dose, Vaccinator: ev.Verifier.Name, Facility: ev.Facility,
	}, nil
}
