// Package ingest turns DIVOC records (a bulk CSV row, a certify request
// element) into ledger events, and signs a batch of them as the facility.
//
// A facility's client and the node run the same code: the facility signs
// the canonical statement of the events derived from the rows it uploads,
// and the node derives them again from the upload and checks that the
// signature covers exactly those events. The personal data stays with the
// node's vault; the ledger event carries two keyed hashes instead (see
// PseudonymKey), and non-personal facts.
package ingest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/internal/strictjson"
)

// PseudonymKey keys the two hashes that stand for a person on the ledger.
// It is a consortium secret given to nodes and facilities, never to the
// ledger: without it, a plain hash of a 12-digit identity number could be
// reversed by trying them all (threat 11).
type PseudonymKey []byte

// NewPseudonymKey makes a random key.
func NewPseudonymKey() PseudonymKey {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}

// LoadPseudonymKey reads a key file (64 hex digits).
func LoadPseudonymKey(path string) (PseudonymKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("%s: a pseudonym key is 64 hex digits", path)
	}
	return k, nil
}

// Save writes the key file, readable by its owner only.
func (k PseudonymKey) Save(path string) error {
	return os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600)
}

func (k PseudonymKey) mac(domain string, data []byte) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// RecipientRef is the person's pseudonym: a keyed hash of their normalized
// identity (or, without one, of mobile number, name and date of birth). The
// same person gets the same ref at every facility, which is what duplicate
// detection needs.
func (k PseudonymKey) RecipientRef(r divocfmt.Recipient) string {
	return k.mac("divoc/recipient/v1", []byte(identityOf(r)))
}

func identityOf(r divocfmt.Recipient) string {
	if id := NormalizeIdentity(r.Identity); id != "" {
		return "id:" + id
	}
	return "m:" + normalizeMobile(r.Mobile) + "|n:" + normalize(r.Name) + "|d:" + r.DOB
}

// aadhaarScheme is the DID prefix DIVOC uses for Aadhaar numbers.
const aadhaarScheme = "did:in.gov.uidai.aadhaar:"

// NormalizeIdentity is the form of an identity that pseudonyms are
// computed from, so that one person is one pseudonym however the number was
// typed: lower case, without spaces or invisible characters; an Aadhaar
// number keeps its 12 digits only (4444-5555-6666, 4444 5555 6666 and the
// bare number are the same DID).
func NormalizeIdentity(s string) string {
	id := normalize(s)
	if id == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(id, aadhaarScheme); ok {
		return aadhaarScheme + digits(rest)
	}
	if d := digits(id); len(d) == 12 && strings.Trim(id, "0123456789-") == "" {
		return aadhaarScheme + d
	}
	return id
}

// normalizeMobile keeps the 10 digits of an Indian mobile number (without
// +91 or a leading 0), or all the digits of another.
func normalizeMobile(s string) string {
	d := digits(s)
	switch {
	case len(d) == 12 && strings.HasPrefix(d, "91"):
		return d[2:]
	case len(d) == 11 && strings.HasPrefix(d, "0"):
		return d[1:]
	}
	return d
}

func normalize(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if !unicode.IsSpace(c) && !unicode.Is(unicode.Cf, c) {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func digits(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Commitment is a keyed hash of a certificate's personal details: the
// ledger can later show that the vault's record is the one the facility
// attested, without holding it. Erasing the record leaves the hash
// meaningless.
func (k PseudonymKey) Commitment(c divocfmt.Certificate) string {
	// Besides the person, what else of the upload the certificate carries
	// (validity dates, the vaccinator's name): the facility's signature
	// covers the commitment, so it covers these too. Absent when all are
	// empty, so that a commitment without them is what it always was.
	type certified struct {
		EffectiveStart string `json:"s,omitempty"`
		EffectiveUntil string `json:"u,omitempty"`
		Vaccinator     string `json:"n,omitempty"`
	}
	pii := struct {
		PreEnrollmentCode string             `json:"p"`
		Recipient         divocfmt.Recipient `json:"r"`
		Certified         *certified         `json:"v,omitempty"`
	}{PreEnrollmentCode: c.PreEnrollmentCode, Recipient: c.Recipient}
	if x := (certified{c.Vaccination.EffectiveStart, c.Vaccination.EffectiveUntil, c.VaccinatorName}); x != (certified{}) {
		pii.Certified = &x
	}
	b, err := strictjson.Marshal(pii)
	if err != nil {
		panic(err)
	}
	return k.mac("divoc/commitment/v1", b)
}

// AgeBand buckets an age for the ledger.
func AgeBand(age int, known bool) string {
	switch {
	case !known:
		return ""
	case age < 18:
		return "0-17"
	case age < 45:
		return "18-44"
	case age < 60:
		return "45-59"
	}
	return "60+"
}

// IDTypeOf classifies the identity a recipient showed: the national
// digital ID (Aadhaar), another government ID, a mobile number only, or
// none (the facility attests who they are).
func IDTypeOf(r divocfmt.Recipient) string {
	id := NormalizeIdentity(r.Identity)
	switch {
	case strings.HasPrefix(id, aadhaarScheme):
		return app.IDNational
	case id != "":
		return app.IDOtherGov
	case digits(r.Mobile) != "":
		return app.IDMobile
	}
	return app.IDAttested
}

// PriorityOf is the priority group DIVOC's files let a facility show: by
// age (they carry no occupation or comorbidity column). Unknown age: none.
func PriorityOf(age int, known bool) string {
	switch {
	case !known:
		return ""
	case age >= 60:
		return app.Group60Plus
	case age >= 18:
		return app.GroupAdult
	}
	return app.GroupChild
}

// Resolver maps the names a DIVOC record uses to registry codes.
type Resolver interface {
	// Vaccine resolves a vaccine name (and manufacturer, if given) to its
	// code, and the program it is given under when the record names none.
	Vaccine(name, manufacturer string) (code, program string, err error)
	// Vaccinator resolves a vaccinator's name (or code) at a facility.
	Vaccinator(facility, name string) (code string, err error)
	// Zone is the consortium's time zone: an event's date is the
	// vaccination's day there.
	Zone() *time.Location
}

// Row is one record ready for the ledger: the personal data for the vault
// and the event for the ledger.
type Row struct {
	Cert  divocfmt.Certificate
	Event app.Event
}

// Batch is what one upload gives.
type Batch struct {
	Facility string
	Rows     []Row
	Errors   []divocfmt.RowError
}

// Row error codes added by Prepare (the parser's are in divocfmt).
const (
	CodeUnknownVaccine    = "unknown_vaccine"
	CodeUnknownVaccinator = "unknown_vaccinator"
	CodeUnknownProgram    = "unknown_program"
)

// Prepare derives the events of certs for facility. program overrides the
// program of every record (the upload's programId); otherwise a record's own
// programId, else the vaccine's program, is used. Records that cannot be
// resolved become row errors; the others are returned in order.
func Prepare(facility, program string, certs []divocfmt.Certificate, res Resolver, key PseudonymKey) Batch {
	b := Batch{Facility: facility}
	for _, c := range certs {
		vaccine, vprog, err := res.Vaccine(c.Vaccination.Name, c.Vaccination.Manufacturer)
		if err != nil {
			b.Errors = append(b.Errors, divocfmt.RowError{Row: c.Row, Field: "vaccinationName", Code: CodeUnknownVaccine, Message: err.Error()})
			continue
		}
		vaccinator, err := res.Vaccinator(facility, c.VaccinatorName)
		if err != nil {
			b.Errors = append(b.Errors, divocfmt.RowError{Row: c.Row, Field: "vaccinatorName", Code: CodeUnknownVaccinator, Message: err.Error()})
			continue
		}
		prog := firstNonEmpty(program, c.ProgramID, vprog)
		if prog == "" {
			b.Errors = append(b.Errors, divocfmt.RowError{Row: c.Row, Field: "programId", Code: CodeUnknownProgram, Message: "no program given and the vaccine is not in exactly one program"})
			continue
		}
		when := c.Vaccination.Date.In(res.Zone())
		day := time.Date(when.Year(), when.Month(), when.Day(), 0, 0, 0, 0, time.UTC)
		age, known := c.Recipient.Age, c.Recipient.Age > 0
		if a, ok := divocfmt.AgeAt(c.Recipient.DOB, day); ok {
			age, known = a, true
		}
		b.Rows = append(b.Rows, Row{Cert: c, Event: app.Event{
			AgeBand:    AgeBand(age, known),
			Batch:      c.Vaccination.Batch,
			Commitment: key.Commitment(c),
			Date:       day.Format(time.DateOnly),
			Dose:       c.Vaccination.Dose,
			IDType:     IDTypeOf(c.Recipient),
			Priority:   PriorityOf(age, known),
			Program:    prog,
			Recipient:  key.RecipientRef(c.Recipient),
			Vaccinator: vaccinator,
			Vaccine:    vaccine,
		}})
	}
	return b
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// Statement is the record statement the facility signs for these rows.
func (b *Batch) Statement() app.RecordStatement {
	evs := make([]app.Event, len(b.Rows))
	for i, r := range b.Rows {
		evs[i] = r.Event
	}
	return app.RecordStatement{Events: evs, Facility: b.Facility}
}

// Payload is the canonical JSON of the statement: the JWS payload.
func (b *Batch) Payload() []byte {
	p, err := strictjson.Marshal(b.Statement())
	if err != nil {
		panic(err)
	}
	return p
}

// Signer signs with a registered key.
type Signer interface {
	KID() string
	Sign([]byte) ([]byte, error)
}

// NewNonce returns a fresh random nonce for a protected header.
func NewNonce() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Sign signs the batch's statement as the facility and returns the part.
// Its DetachedJWS goes in the Divoc-Signature header of the upload.
func (b *Batch) Sign(chain string, s Signer, now time.Time) (app.Part, error) {
	if len(b.Rows) == 0 {
		return app.Part{}, errors.New("nothing to sign: no valid rows")
	}
	h := app.Header{Alg: app.Algorithm, Chain: chain, IAT: now.Unix(), KID: s.KID(), Nonce: NewNonce(), Typ: app.TypRecord}
	return app.SignPayload(h, b.Payload(), s.Sign)
}
