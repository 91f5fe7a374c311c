package node

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/divoc/divoc/abci"
	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/credential"
	"github.com/divoc/divoc/credential/dcc"
	"github.com/divoc/divoc/credential/divocld"
	"github.com/divoc/divoc/credential/shc"
	"github.com/divoc/divoc/credential/vccose"
	"github.com/divoc/divoc/credential/vcjwt"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/vault"
)

// IssuerURL is the credential issuer id of an authority.
func IssuerURL(authority string) string { return "urn:divoc:authority:" + authority }

// issue signs a credential for each row (in parallel: signing is the
// node's heaviest work per event) and returns the vault records and the
// ledger anchors, in row order.
func (s *Service) issue(snap *app.Snapshot, upload string, b ingest.Batch) ([]*vault.Record, []app.Anchor, error) {
	now := time.Now().UTC().Truncate(time.Second)
	recs := make([]*vault.Record, len(b.Rows))
	anchors := make([]app.Anchor, len(b.Rows))
	fac := snap.Facility(b.Facility)
	vaccines := map[string]*app.Vaccine{}
	for _, r := range b.Rows {
		if _, ok := vaccines[r.Event.Vaccine]; !ok {
			vaccines[r.Event.Vaccine] = snap.Vaccine(r.Event.Vaccine)
		}
	}
	var (
		wg       sync.WaitGroup
		firstErr error
		errMu    sync.Mutex
	)
	workers := runtime.GOMAXPROCS(0)
	per := (len(b.Rows) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(b.Rows))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				row := b.Rows[i]
				v := s.credentialFor(newCertID(), row.Cert, row.Event, fac, vaccines[row.Event.Vaccine], now, "")
				jwt, err := s.sign(v)
				if err != nil {
					errMu.Lock()
					firstErr = errors.Join(firstErr, err)
					errMu.Unlock()
					return
				}
				hash := sha256Hex([]byte(jwt))
				recs[i] = &vault.Record{ID: v.ID, Facility: b.Facility, Upload: upload, Cert: row.Cert, Credential: jwt, Hash: hash, CreatedAt: now}
				anchors[i] = app.Anchor{Certificate: v.ID, Hash: hash}
			}
		}(lo, hi)
	}
	wg.Wait()
	return recs, anchors, firstErr
}

func (s *Service) sign(v *credential.Vaccination) (string, error) {
	doc, err := v.Document()
	if err != nil {
		return "", err
	}
	return vcjwt.IssueEncoded(doc, s.issuer)
}

// credentialFor assembles the certificate of a record.
func (s *Service) credentialFor(id string, c divocfmt.Certificate, ev app.Event, fac *app.Facility, vac *app.Vaccine, now time.Time, replaces string) *credential.Vaccination {
	v := &credential.Vaccination{
		ID: id, Issuer: IssuerURL(s.settings.IssuerID), IssuerName: s.settings.IssuerName, IssuedAt: now,
		StatusURL: strings.TrimRight(s.settings.PublicURL, "/") + "/v1/certificates/" + id, Replaces: replaces,
		Holder: credential.Person{
			Name: c.Recipient.Name, Gender: c.Recipient.Gender, Age: c.Recipient.Age, DOB: c.Recipient.DOB,
			Nationality: c.Recipient.Nationality, Identity: c.Recipient.Identity, RefID: c.PreEnrollmentCode,
		},
		Dose: credential.Dose{
			Program: ev.Program, Vaccine: c.Vaccination.Name, Manufacturer: c.Vaccination.Manufacturer,
			Batch: ev.Batch, Date: ev.Date, Dose: ev.Dose, TotalDoses: c.Vaccination.TotalDoses, EffectiveUntil: c.Vaccination.EffectiveUntil,
		},
		Vaccinator: c.VaccinatorName,
		Facility:   credential.Place{Name: c.FacilityName, District: c.FacilityAddress.District, State: c.FacilityAddress.State},
	}
	// The facility and the vaccine are named as the ledger registers them,
	// whatever the upload says: a facility cannot put another's name on
	// a certificate, nor a course length the vaccine does not have.
	if fac != nil {
		v.Facility = credential.Place{Name: fac.Name, Code: fac.Code, District: fac.District, State: fac.State}
	}
	if vac != nil {
		v.Dose.Vaccine, v.Dose.Manufacturer, v.Dose.TotalDoses = vac.Name, vac.Manufacturer, vac.Doses
		// Nor a validity beyond the vaccine's policy.
		if d, err := time.Parse(time.DateOnly, ev.Date); err == nil && vac.ValidityDays > 0 {
			if limit := d.AddDate(0, 0, vac.ValidityDays).Format(time.DateOnly); v.Dose.EffectiveUntil > limit {
				v.Dose.EffectiveUntil = limit
			}
		}
	}
	return v
}

// Upload implements api.Backend.
func (s *Service) Upload(id string) (*vault.Upload, error) {
	up, err := s.vault.Upload(id)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, api.NewProblem(http.StatusNotFound, api.CodeNotFound, "no upload "+id)
	}
	return up, err
}

// anchored returns the committed state and the index entry of an anchored
// certificate, or a 404 problem.
func (s *Service) anchored(id string) (*app.Snapshot, *app.CertRecord, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, nil, err
	}
	rec, err := s.app.Certificate(snap, id)
	if err != nil {
		return nil, nil, err
	}
	if rec == nil {
		return nil, nil, api.NewProblem(http.StatusNotFound, string(app.CodeUnknownCert), "certificate "+id+" is not anchored on the ledger")
	}
	return snap, rec, nil
}

// Certificate implements api.Backend.
func (s *Service) Certificate(id string) (*api.Certificate, error) {
	snap, rec, err := s.anchored(id)
	if err != nil {
		return nil, err
	}
	c := &api.Certificate{ID: id, Status: app.CertActive, Issuer: rec.Issuer, Facility: rec.Facility, Anchor: rec.Anchor, EventAt: rec.EventAt,
		Hash: rec.Hash, Event: rec.Event, Replaces: rec.Replaces, URL: strings.TrimRight(s.settings.PublicURL, "/") + "/v1/certificates/" + id}
	if bc := snap.Batch(rec.Anchor.Height, rec.Anchor.Tx); bc != nil {
		c.BatchRoot = bc.Root
	}
	if st := snap.Status(id); st != nil {
		c.Status, c.StatusHeight, c.StatusReason, c.SupersededBy = st.Status, st.Height, st.Reason, st.SupersededBy
	}
	if vr, err := s.vault.Record(id); err == nil {
		c.Credential = vr.Credential
	}
	return c, nil
}

// Verify implements api.Backend: the signature against the issuer keys on
// the ledger, the issuer's authority at issuance, the anchor, and the
// status.
func (s *Service) Verify(_ context.Context, cred string) (*api.Verification, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	out := &api.Verification{Format: "vc+jwt", CheckedAt: time.Now().UTC(), Height: snap.Height}
	done := func() (*api.Verification, error) {
		out.Valid = len(out.Checks) > 0
		for _, c := range out.Checks {
			out.Valid = out.Valid && c.OK
		}
		return out, nil
	}
	// Which format: an EU DCC, a SMART Health Card (numeric QR, file or
	// JWS with zip DEF), a legacy DIVOC JSON-LD certificate (or its zipped
	// QR), a vc+cose (base64 COSE_Sign1), or a vc+jwt (or its DV1: form).
	switch {
	case strings.HasPrefix(cred, dcc.Prefix):
		s.verifyDCC(snap, cred, out)
		return done()
	case shc.Recognize([]byte(cred)):
		s.verifySHC(snap, []byte(cred), out)
		return done()
	case divocld.Recognize([]byte(cred)):
		s.verifyLegacy([]byte(cred), out)
		return done()
	case isCOSE(cred):
		s.verifyCOSE(snap, cred, out)
		return done()
	}
	if strings.HasPrefix(cred, vcjwt.CompactPrefix) {
		token, err := vcjwt.Expand(cred)
		if err != nil {
			out.Checks = append(out.Checks, api.Check{Name: "signature", Code: string(vcjwt.CodeOf(err)), Detail: err.Error()})
			return out, nil
		}
		cred = token
	}
	var key *app.Key
	res, verr := vcjwt.Verify(cred, func(kid string) ([]crypto.PublicKey, error) {
		key = snap.Key(kid)
		if key == nil {
			return nil, nil
		}
		pub, err := key.PublicKey()
		if err != nil {
			return nil, err
		}
		return []crypto.PublicKey{pub}, nil
	}, vcjwt.VerifyOptions{Now: time.Now()})
	if verr != nil {
		code := string(vcjwt.CodeOf(verr))
		detail := verr.Error()
		if code == string(vcjwt.CodeUnknownKID) {
			detail = "the signing key is not registered on the ledger: " + detail
		}
		out.Checks = append(out.Checks, api.Check{Name: "signature", Code: code, Detail: detail})
		return out, nil
	}
	out.Checks = append(out.Checks, api.Check{Name: "signature", OK: true, Detail: "EdDSA signature by key " + key.KID + " of " + key.Owner})
	v, err := credential.ParseDocument(res.Payload)
	if err != nil {
		out.Checks = append(out.Checks, api.Check{Name: "credential", Code: "bad_credential", Detail: err.Error()})
		return out, nil
	}
	out.Certificate = v.ID
	out.Holder = api.HolderFactsOf(v)

	rec, _ := s.app.Certificate(snap, v.ID)
	issuerOK, issuerDetail := issuerAuthorized(snap, key, v.Issuer, rec)
	out.Checks = append(out.Checks, api.Check{Name: "issuer", OK: issuerOK, Code: codeIf(!issuerOK, "unauthorized_issuer"), Detail: issuerDetail})

	switch {
	case rec == nil:
		out.Checks = append(out.Checks, api.Check{Name: "anchor", Code: string(app.CodeUnknownCert), Detail: "certificate " + v.ID + " is not anchored on the ledger"})
	case rec.Hash != sha256Hex([]byte(cred)):
		out.Checks = append(out.Checks, api.Check{Name: "anchor", Code: "hash_mismatch", Detail: "the ledger anchors a different credential under id " + v.ID})
	default:
		a := rec.Anchor
		out.Anchor = &a
		out.Checks = append(out.Checks, api.Check{Name: "anchor", OK: true, Detail: fmt.Sprintf("anchored at height %d (transaction %d, position %d)", a.Height, a.Tx, a.Pos)})
	}
	if rec != nil {
		st := snap.Status(v.ID)
		switch {
		case st == nil:
			out.Status = app.CertActive
			out.Checks = append(out.Checks, api.Check{Name: "status", OK: true, Detail: fmt.Sprintf("not revoked or superseded as of height %d", snap.Height)})
		case st.Status == app.CertSuperseded:
			out.Status = st.Status
			out.Checks = append(out.Checks, api.Check{Name: "status", Code: app.CertSuperseded, Detail: fmt.Sprintf("superseded by %s at height %d: %s", st.SupersededBy, st.Height, st.Reason)})
		default:
			out.Status = st.Status
			out.Checks = append(out.Checks, api.Check{Name: "status", Code: app.CertRevoked, Detail: fmt.Sprintf("revoked at height %d: %s", st.Height, st.Reason)})
		}
	}
	out.Valid = true
	for _, c := range out.Checks {
		out.Valid = out.Valid && c.OK
	}
	return out, nil
}

// isCOSE recognises a base64 COSE_Sign1 (tag 18, or the array alone).
func isCOSE(s string) bool {
	if strings.ContainsAny(s, ".{") || len(s) < 16 {
		return false
	}
	b, err := vccose.DecodeBase64(s)
	return err == nil && len(b) > 0 && (b[0] == 0xD2 || b[0] == 0x84 || b[0] == 0xD8)
}

// issuerAuthorized checks the key belongs to an authority with the issuer
// role, that it is the credential's issuer, and that the key was valid when
// the certificate was anchored (threat 14).
func issuerAuthorized(snap *app.Snapshot, k *app.Key, issuer string, rec *app.CertRecord) (bool, string) {
	if k.Role != app.RoleIssuer || !strings.HasPrefix(k.Owner, "authority/") {
		return false, "key " + k.KID + " is not an issuer key (it belongs to " + k.Owner + " as " + k.Role + ")"
	}
	id := strings.TrimPrefix(k.Owner, "authority/")
	if issuer != IssuerURL(id) {
		return false, fmt.Sprintf("the credential names issuer %s but is signed by a key of %s", issuer, id)
	}
	a := snap.Authority(id)
	if a == nil || !contains(a.Roles, app.RoleIssuer) {
		return false, "authority " + id + " does not hold the issuer role"
	}
	if rec != nil {
		if !k.ValidAt(rec.Anchor.Height) {
			return false, fmt.Sprintf("key %s was not valid at height %d, when the certificate was anchored", k.KID, rec.Anchor.Height)
		}
		if rec.Issuer != id {
			return false, "the ledger records issuer " + rec.Issuer + " for this certificate"
		}
	}
	return true, "issued by " + a.Name + " (" + id + "), an issuer on the ledger"
}

// Revoke implements api.Backend.
func (s *Service) Revoke(ctx context.Context, id, reason string) (*api.Certificate, error) {
	code := s.reasonCode(id, reason)
	stmt := app.RevokeStatement{Issuer: s.settings.IssuerID, Revocations: []app.Revocation{{Certificate: id, Reason: code}}}
	if err := s.issuerTx(ctx, app.KindRevoke, app.TypRevoke, stmt); err != nil {
		return nil, err
	}
	return s.Certificate(id)
}

// Correct implements api.Backend: a new certificate for the same event,
// with the fixed details, supersedes the old one.
func (s *Service) Correct(ctx context.Context, id string, c api.Correction) (*api.Certificate, error) {
	snap, rec, err := s.anchored(id)
	if err != nil {
		return nil, err
	}
	switch st := snap.Status(id); {
	case st != nil && st.Status == app.CertSuperseded:
		return nil, api.NewProblem(http.StatusConflict, string(app.CodeAlreadyRevoked), fmt.Sprintf("certificate %s was already corrected: %s supersedes it (height %d); correct %s instead", id, st.SupersededBy, st.Height, st.SupersededBy))
	case st != nil:
		return nil, api.NewProblem(http.StatusConflict, string(app.CodeAlreadyRevoked), fmt.Sprintf("certificate %s is revoked (height %d, %s): a revoked certificate is not corrected; record the vaccination again if it happened", id, st.Height, st.Reason))
	}
	old, err := s.vault.Record(id)
	if err != nil {
		return nil, api.NewProblem(http.StatusNotFound, api.CodeNotFound, "this node's vault does not hold the record of certificate "+id)
	}
	fixed := old.Cert
	r := &fixed.Recipient
	for _, f := range []struct {
		dst *string
		v   string
	}{{&r.Name, c.Name}, {&r.DOB, c.DOB}, {&r.Gender, c.Gender}, {&r.Identity, c.Identity}, {&r.Mobile, c.Mobile}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if errs := divocfmt.CheckRecipient(fixed.Recipient, old.Cert.Vaccination.Date); len(errs) > 0 {
		p := api.NewProblem(http.StatusBadRequest, errs[0].Code, "the corrected details break the upload rules: "+errs[0].Message).WithField(errs[0].Field, errs[0].Code)
		p.Errors = errs
		return nil, p
	}
	if fixed.Recipient == old.Cert.Recipient {
		return nil, api.NewProblem(http.StatusBadRequest, api.CodeBadRequest, "the correction changes nothing")
	}
	if s.pseudonym.RecipientRef(fixed.Recipient) != rec.Event.Recipient {
		return nil, api.NewProblem(http.StatusUnprocessableEntity, "identity_change", "this correction changes who the dose belongs to (their identity, or without one their mobile number, name or date of birth, which stand for it): revoke the certificate and record the dose for the right person").WithField("identity", "same_recipient")
	}
	ev := rec.Event
	ev.Commitment = s.pseudonym.Commitment(fixed)
	now := time.Now().UTC().Truncate(time.Second)
	v := s.credentialFor(newCertID(), fixed, ev, snap.Facility(rec.Facility), snap.Vaccine(ev.Vaccine), now, id)
	jwt, err := s.sign(v)
	if err != nil {
		return nil, err
	}
	hash := sha256Hex([]byte(jwt))
	if err := s.vault.PutRecords([]*vault.Record{{ID: v.ID, Facility: rec.Facility, Cert: fixed, Credential: jwt, Hash: hash, Replaces: id, CreatedAt: now}}); err != nil {
		return nil, err
	}
	stmt := app.SupersedeStatement{Issuer: s.settings.IssuerID, Corrections: []app.Correction{{Commitment: ev.Commitment, New: app.Anchor{Certificate: v.ID, Hash: hash}, Old: id, Reason: s.reasonCode(id, c.Reason)}}}
	if err := s.issuerTx(ctx, app.KindSupersede, app.TypSupersede, stmt); err != nil {
		return nil, err
	}
	return s.Certificate(v.ID)
}

// reasonCode turns an operator's reason into the code the ledger records:
// a known code as it is; free text (which could name the person) becomes
// "other", and the text is kept in the vault as the certificate's note.
func (s *Service) reasonCode(id, reason string) string {
	code := strings.ToLower(strings.TrimSpace(reason))
	if contains(app.ReasonCodes, code) {
		return code
	}
	_ = s.vault.PutNote(id, reason, time.Now())
	return "other"
}

// issuerTx signs a one-part statement as the issuer, submits it and turns
// a refused item into a problem.
func (s *Service) issuerTx(ctx context.Context, kind, typ string, stmt any) error {
	p, err := app.SignPart(typ, s.app.ChainID(), s.issuer.KID(), ingest.NewNonce(), time.Now().Unix(), stmt, s.issuer.Sign)
	if err != nil {
		return err
	}
	out, err := s.ledger.Submit(ctx, (&app.Tx{Kind: kind, Parts: []app.Part{p}}).Encode())
	if err != nil {
		return ledgerProblem(err)
	}
	if out.Result.Code != app.OK {
		return api.NewProblem(http.StatusUnprocessableEntity, string(out.Result.Code), out.Result.Reason)
	}
	if it := out.Result.Items[0]; it.Code != app.OK {
		status := http.StatusUnprocessableEntity
		switch it.Code {
		case app.CodeUnknownCert:
			status = http.StatusNotFound
		case app.CodeAlreadyRevoked, app.CodeDuplicateCert:
			status = http.StatusConflict
		}
		return api.NewProblem(status, string(it.Code), it.Reason)
	}
	return nil
}

func ledgerProblem(err error) error {
	var ae *app.Error
	switch {
	case errors.As(err, &ae):
		status := http.StatusUnprocessableEntity
		switch ae.Code {
		case app.CodeUnauthorized, app.CodeBadSignature:
			status = http.StatusUnauthorized
		case app.CodeReplay:
			status = http.StatusConflict
		case app.CodeRateLimited:
			status = http.StatusTooManyRequests
		case app.CodeTooLarge:
			status = http.StatusRequestEntityTooLarge
		}
		return api.NewProblem(status, string(ae.Code), ae.Reason)
	case errors.Is(err, ErrBusy):
		return api.NewProblem(http.StatusServiceUnavailable, api.CodeBusy, err.Error())
	case errors.Is(err, ErrTimeout):
		return api.NewProblem(http.StatusGatewayTimeout, api.CodeTimeout, err.Error())
	}
	return err
}

// TrustJWKS implements api.Backend: every issuer key the ledger lists, with
// its validity window.
func (s *Service) TrustJWKS() ([]byte, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	var infos []keys.PublicKeyInfo
	for _, k := range snap.Keys() {
		if k.Role != app.RoleIssuer {
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			continue
		}
		status := "active"
		if k.ValidUntil != 0 {
			status = "retired"
		}
		infos = append(infos, keys.PublicKeyInfo{Key: pub, KID: k.KID, Owner: k.Owner, Role: k.Role, ValidFromHeight: k.ValidFrom, ValidUntilHeight: k.ValidUntil, Status: status})
	}
	return keys.PublicJWKSet(infos...)
}

// Status implements api.Backend.
func (s *Service) Status() *api.Status {
	st := &api.Status{ChainID: s.app.ChainID(), Issuer: s.settings.IssuerID, Version: abci.Version}
	if snap := s.app.Committed(); snap != nil {
		st.Height, st.AppHash, st.Time, st.Totals = snap.Height, strings.ToUpper(hex.EncodeToString(snap.AppHash)), snap.Time, snap.Totals()
	}
	return st
}

// Registry implements api.Backend.
func (s *Service) Registry() *api.Registry {
	r := &api.Registry{TimezoneOffsetMinutes: s.app.Params().TimezoneOffsetMinutes}
	if snap := s.app.Committed(); snap != nil {
		r.Height = snap.Height
		r.Programs = app.List[app.Program](snap, app.PrefixPrograms)
		r.Vaccines = app.List[app.Vaccine](snap, app.PrefixVaccines)
		r.Facilities = app.List[app.Facility](snap, app.PrefixFacilities)
	}
	return r
}

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// newCertID is 80 random bits in Crockford base32: 16 characters, easy to
// read out over the phone, no I, L, O or U.
func newCertID() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return crockford.EncodeToString(b)
}

func newID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func b64url(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func ed25519Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
}

func codeIf(cond bool, code string) string {
	if cond {
		return code
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func countBadRows(errs []divocfmt.RowError) int {
	rows := map[int]bool{}
	for _, e := range errs {
		rows[e.Row] = true
	}
	return len(rows)
}
