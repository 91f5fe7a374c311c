// Package shc issues and verifies SMART Health Cards: a FHIR R4 bundle
// (Patient, Immunization) inside a verifiable credential, carried as the
// payload of a compact JWS signed with ES256, DEFLATE-compressed
// ("zip":"DEF"), and presented as a .smart-health-card file or a numeric
// "shc:/" QR code. Verify checks the signature against the issuer's JWKS
// and revocation against the issuer's card revocation list (CRL).
//
// Specification: https://spec.smarthealth.cards (smart-on-fhir/health-cards).
package shc

import (
	"bytes"
	"compress/flate"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"time"

	"github.com/divoc/divoc/credential"
	"github.com/divoc/divoc/internal/strictjson"
	"github.com/divoc/divoc/keys"
)

// Credential types (vc.type). TypeHealthCard is required; the others say
// what the card is about.
const (
	TypeHealthCard   = "https://smarthealth.cards#health-card"
	TypeImmunization = "https://smarthealth.cards#immunization"
	TypeCovid19      = "https://smarthealth.cards#covid19"
)

// MaxRIDChars is the longest revocation identifier the specification allows.
const MaxRIDChars = 24

var ridPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,24}$`)

// IssueOptions say who issues the card and how to code the vaccine.
type IssueOptions struct {
	// Issuer is the iss claim: an https URL without a trailing slash,
	// under which the issuer serves /.well-known/jwks.json (and
	// /.well-known/crl/<kid>.json when cards carry a rid). Required.
	Issuer string
	// NotBefore is the nbf claim (issuance time). Zero: the vaccination's
	// IssuedAt.
	NotBefore time.Time
	// Expires is the optional exp claim. Health cards usually do not expire.
	Expires time.Time
	// RevocationID is the optional vc.rid: base64url characters, at most
	// 24. See RevocationID for the recommended derivation.
	RevocationID string
	// VaccineCodes maps the ledger's vaccine code to the card's codings.
	// A vaccine missing from it is coded in SystemLedger only, which
	// verifiers that expect CVX will not recognise.
	VaccineCodes VaccineCodes
	// ExtraTypes are added to vc.type after health-card and immunization,
	// e.g. TypeCovid19.
	ExtraTypes []string
	// DoseNumber adds Immunization.protocolApplied with the dose number
	// (and the series' total). The SMART vaccination profile leaves it
	// out to keep the QR code small, so it is off by default.
	DoseNumber bool
}

// RevocationID derives a revocation identifier as the specification
// recommends: base64url of the first 64 bits of HMAC-SHA-256 keyed with
// secret‖kid over the identifier the issuer revokes by (a certificate id
// for one card, a recipient reference for all of a person's cards).
func RevocationID(secret []byte, kid, id string) string {
	key := append(append([]byte{}, secret...), kid...)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:8])
}

// The JSON shapes of the JWS header and payload, fields in output order.

type jwsHeader struct {
	Zip string `json:"zip"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

type payloadDoc struct {
	Iss string `json:"iss"`
	Nbf int64  `json:"nbf"`
	Exp int64  `json:"exp,omitempty"`
	VC  vcDoc  `json:"vc"`
}

type vcDoc struct {
	Type              []string   `json:"type"`
	CredentialSubject subjectDoc `json:"credentialSubject"`
	RID               string     `json:"rid,omitempty"`
}

type subjectDoc struct {
	FHIRVersion string `json:"fhirVersion"`
	FHIRBundle  bundle `json:"fhirBundle"`
}

// buildBundle builds the FHIR bundle of a vaccination: the Patient (name,
// birthDate) as resource:0 and one Immunization as resource:1.
func buildBundle(v *credential.Vaccination, opts IssueOptions) (bundle, error) {
	if v == nil {
		return bundle{}, fail(CodeBadInput, "no vaccination")
	}
	name := splitName(v.Holder.Name)
	if name.Family == "" {
		return bundle{}, fail(CodeBadInput, "the holder has no name")
	}
	if v.Holder.DOB != "" && !isFHIRDate(v.Holder.DOB) {
		return bundle{}, fail(CodeBadInput, "date of birth %q is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)", v.Holder.DOB)
	}
	if !isFHIRDate(v.Dose.Date) && !isFHIRDateTime(v.Dose.Date) {
		return bundle{}, fail(CodeBadInput, "vaccination date %q is not a FHIR date or dateTime", v.Dose.Date)
	}
	if v.Dose.Vaccine == "" {
		return bundle{}, fail(CodeBadInput, "the dose names no vaccine")
	}
	codings := opts.VaccineCodes[v.Dose.Vaccine]
	for _, c := range codings {
		if c.System == "" || c.Code == "" {
			return bundle{}, fail(CodeBadInput, "vaccine %q: a coding without system or code", v.Dose.Vaccine)
		}
	}
	if len(codings) == 0 {
		codings = []Coding{{System: SystemLedger, Code: v.Dose.Vaccine}}
	}
	im := immunization{
		ResourceType:       "Immunization",
		Status:             "completed",
		VaccineCode:        codeableConcept{Coding: codings},
		Patient:            reference{Reference: "resource:0"},
		OccurrenceDateTime: v.Dose.Date,
		LotNumber:          v.Dose.Batch,
	}
	if v.Facility.Name != "" {
		var p performer
		p.Actor.Display = v.Facility.Name
		im.Performer = []performer{p}
	}
	if opts.DoseNumber && v.Dose.Dose > 0 {
		pa := protocolApplied{DoseNumberPositiveInt: v.Dose.Dose}
		if v.Dose.TotalDoses >= v.Dose.Dose {
			pa.SeriesDosesPositiveInt = v.Dose.TotalDoses
		}
		im.ProtocolApplied = []protocolApplied{pa}
	}
	return bundle{
		ResourceType: "Bundle",
		Type:         "collection",
		Entry: []entry{
			{FullURL: "resource:0", Resource: patient{ResourceType: "Patient", Name: []humanName{name}, BirthDate: v.Holder.DOB}},
			{FullURL: "resource:1", Resource: im},
		},
	}, nil
}

// Issue makes a SMART Health Card of a vaccination, signed by s (an ES256
// signer: its kid, the RFC 7638 thumbprint, is the header's kid). It
// returns the compact JWS; File and QRText render it.
func Issue(v *credential.Vaccination, s *keys.Signer, opts IssueOptions) (string, error) {
	if s == nil {
		return "", fail(CodeBadInput, "no signer")
	}
	if s.Alg() != keys.AlgES256 {
		return "", fail(CodeAlgNotAllowed, "health cards are signed with ES256; the signer is %s", s.Alg())
	}
	if !strings.HasPrefix(opts.Issuer, "https://") || strings.HasSuffix(opts.Issuer, "/") || len(opts.Issuer) <= len("https://") {
		return "", fail(CodeBadInput, "issuer %q must be an https URL without a trailing slash", opts.Issuer)
	}
	if opts.RevocationID != "" && !ridPattern.MatchString(opts.RevocationID) {
		return "", fail(CodeBadInput, "revocation id %q must be 1..%d base64url characters", opts.RevocationID, MaxRIDChars)
	}
	b, err := buildBundle(v, opts)
	if err != nil {
		return "", err
	}
	nbf := opts.NotBefore
	if nbf.IsZero() {
		nbf = v.IssuedAt
	}
	if nbf.IsZero() {
		return "", fail(CodeBadInput, "no issuance time (nbf)")
	}
	p := payloadDoc{
		Iss: opts.Issuer,
		Nbf: nbf.Unix(),
		VC: vcDoc{
			Type:              append([]string{TypeHealthCard, TypeImmunization}, opts.ExtraTypes...),
			CredentialSubject: subjectDoc{FHIRVersion: FHIRVersion, FHIRBundle: b},
			RID:               opts.RevocationID,
		},
	}
	if !opts.Expires.IsZero() {
		if !opts.Expires.After(nbf) {
			return "", fail(CodeBadInput, "expiry %s is not after issuance %s", opts.Expires.UTC().Format(time.RFC3339), nbf.UTC().Format(time.RFC3339))
		}
		p.Exp = opts.Expires.Unix()
	}
	payload, err := strictjson.Marshal(p)
	if err != nil {
		return "", failWrap(CodeBadInput, err, "encode payload")
	}
	return signPayload(payload, s)
}

// signPayload compresses a minified payload and signs it.
func signPayload(payload []byte, s *keys.Signer) (string, error) {
	if len(payload) > MaxPayloadBytes {
		return "", fail(CodeTooLarge, "payload is %d bytes, more than %d", len(payload), MaxPayloadBytes)
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write(payload)
	w.Close()
	hdr, err := strictjson.Marshal(jwsHeader{Zip: "DEF", Alg: keys.AlgES256, Kid: s.KID()})
	if err != nil {
		return "", failWrap(CodeBadInput, err, "encode header")
	}
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(z.Bytes())
	sig, err := s.Sign([]byte(input))
	if err != nil {
		return "", failWrap(CodeBadInput, err, "sign")
	}
	jws := input + "." + base64.RawURLEncoding.EncodeToString(sig)
	if len(jws) > MaxJWSBytes {
		return "", fail(CodeTooLarge, "JWS is %d bytes, more than %d", len(jws), MaxJWSBytes)
	}
	return jws, nil
}

var (
	fhirDate     = regexp.MustCompile(`^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$`)
	fhirDateTime = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
)

func isFHIRDate(s string) bool     { return fhirDate.MatchString(s) }
func isFHIRDateTime(s string) bool { return fhirDateTime.MatchString(s) }
