package app

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Registry entries. None of them holds personal data: facilities are
// institutions, vaccinators appear as a pseudonymous code and a commitment to
// their details (which stay in the vault), authorities are agencies.

// Roles a key or an authority can hold.
const (
	RoleGovernance = "governance"
	RoleIssuer     = "issuer"
	RoleAuditor    = "auditor"
	RoleFacility   = "facility"
)

// Status values of registry entries.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// Authority is an agency: it governs, issues certificates, or audits.
type Authority struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Roles  []string `json:"roles"`
	Status string   `json:"status"`
}

// Facility is a place that vaccinates: the programs it is approved for,
// its daily capacity per program, how it is paid.
type Facility struct {
	Caps         []Cap    `json:"caps,omitempty"`
	Category     string   `json:"category"`
	Code         string   `json:"code"`
	District     string   `json:"district"`
	Name         string   `json:"name"`
	PaymentModes []string `json:"payment_modes,omitempty"`
	Pincode      string   `json:"pincode"`
	Programs     []string `json:"programs"`
	State        string   `json:"state"`
	Status       string   `json:"status"`
	Type         string   `json:"type"`
}

// Cap is a daily limit of doses for one program (0: no limit).
type Cap struct {
	Daily   int    `json:"daily"`
	Program string `json:"program"`
}

// capFor returns the daily cap for a program (0: none).
func capFor(caps []Cap, program string) int {
	for _, c := range caps {
		if c.Program == program {
			return c.Daily
		}
	}
	return 0
}

// Payment modes a facility can accept.
const (
	PayGovernment = "government"
	PayEmployer   = "employer"
	PaySelf       = "self"
)

// Vaccinator is a person who vaccinates, known on the ledger only by code:
// where they work and the programs they are trained and certified for
// (none listed: every program).
type Vaccinator struct {
	Code       string   `json:"code"`
	Commitment string   `json:"commitment"`
	Facilities []string `json:"facilities"`
	Programs   []string `json:"programs,omitempty"`
	Status     string   `json:"status"`
}

// Program is a vaccination program: a disease, when it runs, the vaccines
// approved for it, who is eligible (ordered phases of priority groups, each
// open or not), which identity types it accepts, and whether a course may
// mix vaccines.
type Program struct {
	AllowMixed bool     `json:"allow_mixed,omitempty"`
	Disease    string   `json:"disease"`
	EndDate    string   `json:"end_date,omitempty"`
	ID         string   `json:"id"`
	IDTypes    []string `json:"id_types,omitempty"`
	Name       string   `json:"name"`
	Phases     []Phase  `json:"phases,omitempty"`
	StartDate  string   `json:"start_date,omitempty"`
	Status     string   `json:"status"`
	Vaccines   []string `json:"vaccines"`
}

// Phase is one step of a program's eligibility policy.
type Phase struct {
	Groups []string `json:"groups"`
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Open   bool     `json:"open"`
}

// Priority groups.
const (
	GroupHealthWorker    = "health_worker"
	GroupFrontlineWorker = "frontline_worker"
	Group60Plus          = "age_60_plus"
	Group45PlusComorbid  = "age_45_plus_comorbid"
	GroupAdult           = "adult"
	GroupChild           = "child"
)

// PriorityGroups are the groups an event can name.
var PriorityGroups = []string{GroupHealthWorker, GroupFrontlineWorker, Group60Plus, Group45PlusComorbid, GroupAdult, GroupChild}

// Identity types a program can accept.
const (
	IDNational = "national_id"
	IDOtherGov = "other_government_id"
	IDMobile   = "mobile_only"
	IDAttested = "facility_attested"
)

// IDTypes are the identity types an event can name.
var IDTypes = []string{IDNational, IDOtherGov, IDMobile, IDAttested}

// eligible reports whether a priority group may be vaccinated now: the
// program has no phases, or an open phase lists the group.
func (p *Program) eligible(group string) bool {
	if len(p.Phases) == 0 {
		return true
	}
	for _, ph := range p.Phases {
		if ph.Open && contains(ph.Groups, group) {
			return true
		}
	}
	return false
}

// Vaccine is a product with its schedule: the doses of a course, the
// interval between them, the boosters and when they are due, how long a
// completed course is valid, and its codes (ICD-11, EU value set).
type Vaccine struct {
	BoosterIntervalDays int    `json:"booster_interval_days,omitempty"`
	Boosters            int    `json:"boosters"`
	Code                string `json:"code"`
	Doses               int    `json:"doses"`
	EUProduct           string `json:"eu_product,omitempty"`
	ICD11               string `json:"icd11,omitempty"`
	Manufacturer        string `json:"manufacturer"`
	MaxIntervalDays     int    `json:"max_interval_days,omitempty"`
	MinIntervalDays     int    `json:"min_interval_days"`
	Name                string `json:"name"`
	Status              string `json:"status"`
	ValidityDays        int    `json:"validity_days,omitempty"`
}

// District is a district's policy: its daily caps per program.
type District struct {
	Caps     []Cap  `json:"caps"`
	District string `json:"district"`
	State    string `json:"state"`
}

// Key is a public key the ledger accepts signatures from, for one role of
// one owner, within a window of heights. ValidUntil 0 means open-ended.
// Keys are never deleted: a retired key keeps its window so that old
// signatures stay checkable against the key that was valid when they were made.
type Key struct {
	Alg        string `json:"alg"`
	KID        string `json:"kid"`
	Owner      string `json:"owner"`
	Public     string `json:"public"`
	Role       string `json:"role"`
	ValidFrom  int64  `json:"valid_from"`
	ValidUntil int64  `json:"valid_until"`
}

// ValidAt reports whether the key may sign at height h.
func (k *Key) ValidAt(h int64) bool {
	return h >= k.ValidFrom && (k.ValidUntil == 0 || h <= k.ValidUntil)
}

// PublicKey decodes the key's Ed25519 public key.
func (k *Key) PublicKey() (ed25519.PublicKey, error) {
	b, err := b64.DecodeString(k.Public)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("key %s: public key is not a base64url Ed25519 key", k.KID)
	}
	return ed25519.PublicKey(b), nil
}

// Ed25519KID is the RFC 7638 JWK thumbprint of an Ed25519 public key: the
// base64url SHA-256 of {"crv":"Ed25519","kty":"OKP","x":"..."}.
func Ed25519KID(pub ed25519.PublicKey) string {
	h := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`))
	return b64.EncodeToString(h[:])
}

// NewKey describes an Ed25519 public key for the ledger.
func NewKey(pub ed25519.PublicKey, owner, role string, validFrom int64) Key {
	return Key{Alg: Algorithm, KID: Ed25519KID(pub), Owner: owner, Public: b64.EncodeToString(pub), Role: role, ValidFrom: validFrom}
}

var (
	codeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	hexRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func validCode(s string) bool { return codeRE.MatchString(s) }

func (a *Authority) validate() error {
	if !validCode(a.ID) {
		return fmt.Errorf("authority id %q: 1-64 letters, digits, _ . -", a.ID)
	}
	if a.Name == "" || len(a.Name) > 256 {
		return fmt.Errorf("authority %s: name is required (at most 256 bytes)", a.ID)
	}
	if len(a.Roles) == 0 {
		return fmt.Errorf("authority %s: at least one role", a.ID)
	}
	for _, r := range a.Roles {
		if r != RoleGovernance && r != RoleIssuer && r != RoleAuditor {
			return fmt.Errorf("authority %s: unknown role %q", a.ID, r)
		}
	}
	return validStatus(a.Status)
}

// Validate applies the checks the ledger applies to a facility entry, for
// callers that must refuse a bad one before acting on it (a node writes a
// new facility's key file under its code).
func (f *Facility) Validate() error { return f.validate() }

func (f *Facility) validate() error {
	if !validCode(f.Code) {
		return fmt.Errorf("facility code %q: 1-64 letters, digits, _ . -", f.Code)
	}
	if f.Name == "" || len(f.Name) > 256 {
		return fmt.Errorf("facility %s: name is required (at most 256 bytes)", f.Code)
	}
	for _, p := range f.Programs {
		if !validCode(p) {
			return fmt.Errorf("facility %s: program %q is not a valid id", f.Code, p)
		}
	}
	for _, m := range f.PaymentModes {
		if m != PayGovernment && m != PayEmployer && m != PaySelf {
			return fmt.Errorf("facility %s: payment mode %q: want %s, %s or %s", f.Code, m, PayGovernment, PayEmployer, PaySelf)
		}
	}
	if err := validCaps(f.Caps); err != nil {
		return fmt.Errorf("facility %s: %w", f.Code, err)
	}
	return validStatus(f.Status)
}

func (v *Vaccinator) validate() error {
	if !validCode(v.Code) {
		return fmt.Errorf("vaccinator code %q: 1-64 letters, digits, _ . -", v.Code)
	}
	if v.Commitment != "" && !hexRE.MatchString(v.Commitment) {
		return fmt.Errorf("vaccinator %s: commitment must be 64 lowercase hex digits", v.Code)
	}
	if len(v.Facilities) == 0 {
		return fmt.Errorf("vaccinator %s: attached to no facility", v.Code)
	}
	for _, p := range v.Programs {
		if !validCode(p) {
			return fmt.Errorf("vaccinator %s: program %q is not a valid id", v.Code, p)
		}
	}
	return validStatus(v.Status)
}

func (p *Program) validate() error {
	if !validCode(p.ID) {
		return fmt.Errorf("program id %q: 1-64 letters, digits, _ . -", p.ID)
	}
	if p.Name == "" || len(p.Vaccines) == 0 {
		return fmt.Errorf("program %s: name and at least one vaccine are required", p.ID)
	}
	for _, d := range []string{p.StartDate, p.EndDate} {
		if _, err := time.Parse(time.DateOnly, d); d != "" && err != nil {
			return fmt.Errorf("program %s: date %q is not YYYY-MM-DD", p.ID, d)
		}
	}
	if p.StartDate != "" && p.EndDate != "" && p.EndDate < p.StartDate {
		return fmt.Errorf("program %s: ends before it starts", p.ID)
	}
	for _, t := range p.IDTypes {
		if !contains(IDTypes, t) {
			return fmt.Errorf("program %s: identity type %q: want one of %v", p.ID, t, IDTypes)
		}
	}
	seen := map[string]bool{}
	for _, ph := range p.Phases {
		if !validCode(ph.ID) || seen[ph.ID] {
			return fmt.Errorf("program %s: phase id %q is invalid or repeated", p.ID, ph.ID)
		}
		seen[ph.ID] = true
		for _, g := range ph.Groups {
			if !contains(PriorityGroups, g) {
				return fmt.Errorf("program %s phase %s: priority group %q: want one of %v", p.ID, ph.ID, g, PriorityGroups)
			}
		}
	}
	return validStatus(p.Status)
}

func (v *Vaccine) validate() error {
	if !validCode(v.Code) {
		return fmt.Errorf("vaccine code %q: 1-64 letters, digits, _ . -", v.Code)
	}
	if v.Name == "" {
		return fmt.Errorf("vaccine %s: name is required", v.Code)
	}
	if v.Doses < 1 || v.Doses > 10 || v.Boosters < 0 || v.Boosters > 10 || v.MinIntervalDays < 0 || v.BoosterIntervalDays < 0 || v.ValidityDays < 0 {
		return fmt.Errorf("vaccine %s: doses 1-10, boosters 0-10, intervals and validity ≥ 0", v.Code)
	}
	if v.MaxIntervalDays != 0 && v.MaxIntervalDays < v.MinIntervalDays {
		return fmt.Errorf("vaccine %s: max interval %d is below the minimum %d", v.Code, v.MaxIntervalDays, v.MinIntervalDays)
	}
	return validStatus(v.Status)
}

func (k *Key) validate() error {
	pub, err := k.PublicKey()
	if err != nil {
		return err
	}
	if k.Alg != Algorithm {
		return fmt.Errorf("key %s: alg must be %s", k.KID, Algorithm)
	}
	if Ed25519KID(pub) != k.KID {
		return fmt.Errorf("key %s: kid is not the JWK thumbprint of the key", k.KID)
	}
	if !slices.Contains([]string{RoleGovernance, RoleIssuer, RoleAuditor, RoleFacility}, k.Role) {
		return fmt.Errorf("key %s: unknown role %q", k.KID, k.Role)
	}
	if k.Owner == "" {
		return fmt.Errorf("key %s: owner is required", k.KID)
	}
	if k.ValidFrom < 0 || (k.ValidUntil != 0 && k.ValidUntil < k.ValidFrom) {
		return fmt.Errorf("key %s: validity window is empty", k.KID)
	}
	return nil
}

func (d *District) validate() error {
	if d.State == "" || d.District == "" || len(d.State) > 64 || len(d.District) > 64 {
		return fmt.Errorf("district: state and district are required (at most 64 bytes)")
	}
	return validCaps(d.Caps)
}

func validCaps(caps []Cap) error {
	seen := map[string]bool{}
	for _, c := range caps {
		if !validCode(c.Program) || c.Daily < 0 || seen[c.Program] {
			return fmt.Errorf("cap for program %q: a valid program, once, and a daily limit ≥ 0", c.Program)
		}
		seen[c.Program] = true
	}
	return nil
}

func validStatus(s string) error {
	if s != StatusActive && s != StatusSuspended {
		return fmt.Errorf("status %q: want %s or %s", s, StatusActive, StatusSuspended)
	}
	return nil
}
