package node

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/credential"
	"github.com/divoc/divoc/credential/dcc"
	"github.com/divoc/divoc/credential/divocld"
	"github.com/divoc/divoc/credential/shc"
	"github.com/divoc/divoc/credential/vccose"
	"github.com/divoc/divoc/credential/vcjwt"
	"github.com/divoc/divoc/keys"
)

// Every certificate is one ledger entry (its id, anchored with the hash of
// its vc+jwt) that the node can hand out in several formats: the vc+jwt
// itself, an EU DCC and a SMART Health Card, each signed with the
// authority's key for that format (registered on the ledger, see
// app/formatkeys.go). A revocation on the ledger revokes all of them.

// formatSigners are the node's signers for the other formats.
type formatSigners struct {
	dcc       *dcc.DocumentSigner
	dccCert   *x509.Certificate
	shc       *keys.Signer
	shcIssuer string
	country   string
	ridSecret []byte
}

func loadFormatSigners(h Home, s Settings, pseudonym []byte) (*formatSigners, error) {
	fs := &formatSigners{shcIssuer: s.SHCIssuer, country: s.Country, ridSecret: pseudonym}
	if s.DCCKey != "" && s.DCCCert != "" {
		k, err := keys.Load(h.Resolve(s.DCCKey))
		if err != nil {
			return nil, fmt.Errorf("dcc key: %w", err)
		}
		b, err := os.ReadFile(h.Resolve(s.DCCCert))
		if err != nil {
			return nil, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM certificate", s.DCCCert)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		if fs.dcc, err = dcc.NewDocumentSigner(cert, k.PrivateKey()); err != nil {
			return nil, err
		}
		fs.dccCert = cert
	}
	if s.SHCKey != "" {
		k, err := keys.Load(h.Resolve(s.SHCKey))
		if err != nil {
			return nil, fmt.Errorf("shc key: %w", err)
		}
		fs.shc = k
	}
	return fs, nil
}

// Formats a certificate can be had in.
const (
	FormatVCJWT = "vc-jwt"
	FormatDCC   = "dcc"
	FormatSHC   = "shc"
)

// CertificateAs implements api.Backend: the certificate in a format, as
// text (a vc+jwt, an HC1: string, a health card JWS).
func (s *Service) CertificateAs(id, format string) (string, error) {
	c, err := s.Certificate(id)
	if err != nil {
		return "", err
	}
	if c.Credential == "" {
		return "", api.NewProblem(http.StatusNotFound, api.CodeNotFound, "this node does not hold the credential of certificate "+id)
	}
	if format == "" || format == FormatVCJWT || format == "jwt" {
		return c.Credential, nil
	}
	res, err := vcjwt.Verify(c.Credential, func(string) ([]crypto.PublicKey, error) { return []crypto.PublicKey{s.issuer.Public()}, nil }, vcjwt.VerifyOptions{})
	if err != nil {
		return "", fmt.Errorf("stored credential of %s: %w", id, err)
	}
	v, err := credential.ParseDocument(res.Payload)
	if err != nil {
		return "", err
	}
	snap, err := s.snapshot()
	if err != nil {
		return "", err
	}
	vac := snap.Vaccine(c.Event.Vaccine)
	switch format {
	case FormatDCC:
		if s.formats.dcc == nil {
			return "", api.NewProblem(http.StatusNotFound, "format_unavailable", "this node has no EU DCC document signer")
		}
		product := ""
		if vac != nil {
			product = vac.EUProduct
		}
		codes, ok := dcc.ProductCodesFor(product)
		if !ok {
			return "", api.NewProblem(http.StatusUnprocessableEntity, "no_eu_codes", fmt.Sprintf("vaccine %s has no code in the EU DCC value sets, so it cannot be an EU DCC", c.Event.Vaccine)).WithField("format", "eu_value_set")
		}
		codes.Country = s.formats.country
		p, err := dcc.FromVaccination(v, codes)
		if err != nil {
			return "", api.NewProblem(http.StatusUnprocessableEntity, string(dcc.CodeOf(err)), err.Error()).WithField("format", "dcc")
		}
		now := time.Now()
		exp := now.AddDate(1, 0, 0)
		if na := s.formats.dccCert.NotAfter; exp.After(na) {
			exp = na
		}
		return dcc.Issue(p, s.formats.dcc, now, exp)
	case FormatSHC:
		if s.formats.shc == nil {
			return "", api.NewProblem(http.StatusNotFound, "format_unavailable", "this node has no SMART Health Cards key")
		}
		card := *v
		card.Dose.Vaccine = c.Event.Vaccine // the ledger's code picks the card's codings
		rid := shc.RevocationID(s.formats.ridSecret, s.formats.shc.KID(), id)
		jws, err := shc.Issue(&card, s.formats.shc, shc.IssueOptions{Issuer: s.formats.shcIssuer, RevocationID: rid, VaccineCodes: shc.CommonVaccineCodes})
		if err != nil {
			return "", api.NewProblem(http.StatusUnprocessableEntity, string(shc.CodeOf(err)), err.Error()).WithField("format", "shc")
		}
		if err := s.vault.PutRID(rid, id); err != nil {
			return "", err
		}
		return jws, nil
	}
	return "", api.NewProblem(http.StatusBadRequest, api.CodeBadRequest, "format must be vc-jwt, dcc or shc").WithField("format", "enum")
}

// QRText implements api.Formatter: what a format's QR code holds: the
// compact DV1: form of a vc+jwt, the HC1: string of a DCC, the shc:/
// numeric text of a card.
func (s *Service) QRText(format, text string) (string, error) {
	switch format {
	case FormatDCC:
		return text, nil
	case FormatSHC:
		return shc.QRText(text)
	}
	return vcjwt.Compact(text)
}

// ledgerStatus adds the anchor and status checks of certificate id to a
// verification, whatever format carried it.
func (s *Service) ledgerStatus(snap *app.Snapshot, out *api.Verification, id string) {
	out.Certificate = id
	rec, _ := s.app.Certificate(snap, id)
	if rec == nil {
		out.Checks = append(out.Checks, api.Check{Name: "anchor", Code: string(app.CodeUnknownCert), Detail: "certificate " + id + " is not anchored on the ledger"})
		return
	}
	a := rec.Anchor
	out.Anchor = &a
	out.Checks = append(out.Checks, api.Check{Name: "anchor", OK: true, Detail: fmt.Sprintf("certificate %s is anchored at height %d", id, a.Height)})
	fillFromLedger(snap, out.Holder, rec)
	st := snap.Status(id)
	switch {
	case st == nil:
		out.Status = app.CertActive
		out.Checks = append(out.Checks, api.Check{Name: "status", OK: true, Detail: fmt.Sprintf("not revoked or superseded as of height %d", snap.Height)})
	case st.Status == app.CertSuperseded:
		out.Status = st.Status
		out.Checks = append(out.Checks, api.Check{Name: "status", Code: app.CertSuperseded, Detail: fmt.Sprintf("superseded by %s at height %d (%s)", st.SupersededBy, st.Height, st.Reason)})
	default:
		out.Status = st.Status
		out.Checks = append(out.Checks, api.Check{Name: "status", Code: app.CertRevoked, Detail: fmt.Sprintf("revoked at height %d (%s)", st.Height, st.Reason)})
	}
}

// verifyDCC verifies an EU DCC against the document signers on the ledger.
func (s *Service) verifyDCC(snap *app.Snapshot, text string, out *api.Verification) {
	out.Format = "eu-dcc"
	trust := dcc.TrustList{}
	for _, k := range snap.FormatKeys(app.FormatDCC) {
		if cert, err := k.Certificate(); err == nil {
			trust.Add(cert)
		}
	}
	r := dcc.Verify(text, trust, time.Now())
	for _, c := range r.Checks {
		if c.Status == dcc.StatusNotRun {
			continue
		}
		out.Checks = append(out.Checks, api.Check{Name: "dcc:" + string(c.Step), OK: c.Status == dcc.StatusOK, Code: string(c.Code), Detail: orDefault(c.Reason, "ok")})
	}
	if r.Holder != nil && r.Dose != nil {
		out.Holder = &api.HolderFacts{Name: strings.TrimSpace(r.Holder.GivenName + " " + r.Holder.FamilyName), Vaccine: orDefault(r.Dose.ProductName, r.Dose.Product),
			Manufacturer: orDefault(r.Dose.ManufacturerName, r.Dose.Manufacturer), Date: r.Dose.Date, Dose: r.Dose.Dose, TotalDoses: r.Dose.TotalDoses, Issuer: r.Dose.Issuer}
	}
	if r.Valid && r.Dose != nil {
		if id := idFromUVCI(r.Dose.CertificateID); id != "" {
			s.ledgerStatus(snap, out, id)
		}
	}
}

// idFromUVCI reads this node's certificate id back from a UVCI
// (URN:UVCI:01:IN:<id>#<check>).
func idFromUVCI(ci string) string {
	rest, _, _ := strings.Cut(strings.TrimPrefix(ci, "URN:UVCI:"), "#")
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return ""
	}
	return parts[2]
}

// verifySHC verifies a SMART Health Card against the keys on the ledger.
func (s *Service) verifySHC(snap *app.Snapshot, data []byte, out *api.Verification) {
	out.Format = "smart-health-card"
	jwss, err := shc.Extract(data)
	if err != nil || len(jwss) == 0 {
		out.Checks = append(out.Checks, api.Check{Name: "shc:decode", Code: string(shc.CodeOf(err)), Detail: fmt.Sprint(err)})
		return
	}
	var infos []keys.PublicKeyInfo
	for _, k := range snap.FormatKeys(app.FormatSHC) {
		if pub, err := k.ECDSA(); err == nil {
			infos = append(infos, keys.PublicKeyInfo{Key: pub, KID: k.KID, Owner: "authority/" + k.Authority})
		}
	}
	resolve := func(iss, kid string) ([]keys.PublicKeyInfo, error) { return infos, nil }
	res, err := shc.Verify(jwss[0], resolve, shc.VerifyOptions{Now: time.Now()})
	if err != nil && res == nil {
		out.Checks = append(out.Checks, api.Check{Name: "signature", Code: string(shc.CodeOf(err)), Detail: err.Error()})
		return
	}
	out.Checks = append(out.Checks, api.Check{Name: "signature", OK: true, Detail: "ES256 signature by a SMART Health Cards key of an authority on the ledger (" + res.Header.KID + ")"})
	if err != nil {
		out.Checks = append(out.Checks, api.Check{Name: "validity", Code: string(shc.CodeOf(err)), Detail: err.Error()})
	}
	h := &api.HolderFacts{Name: res.Patient.Name, Issuer: res.Issuer}
	if len(res.Immunizations) > 0 {
		im := res.Immunizations[len(res.Immunizations)-1]
		h.Date, h.Dose, h.Facility = im.Date, im.DoseNumber, im.Performer
		if len(im.Codes) > 0 {
			h.Vaccine = im.Codes[0].Code
		}
	}
	out.Holder = h
	if id := s.vault.RID(res.RID); id != "" {
		s.ledgerStatus(snap, out, id)
	} else {
		out.Checks = append(out.Checks, api.Check{Name: "status", Code: "unknown_rid", Detail: "this card's revocation id is not one this node issued"})
	}
}

// verifyCOSE verifies a vc+cose credential against the issuer keys on the ledger.
func (s *Service) verifyCOSE(snap *app.Snapshot, text string, out *api.Verification) {
	out.Format = "vc+cose"
	res, err := vccose.VerifyBase64(text, func(kid string) ([]crypto.PublicKey, error) {
		k := snap.Key(kid)
		if k == nil || k.Role != app.RoleIssuer {
			return nil, nil
		}
		pub, err := k.PublicKey()
		return []crypto.PublicKey{pub}, err
	}, vccose.VerifyOptions{Now: time.Now()})
	if err != nil {
		out.Checks = append(out.Checks, api.Check{Name: "signature", Code: string(vcjwt.CodeOf(err)), Detail: err.Error()})
		return
	}
	out.Checks = append(out.Checks, api.Check{Name: "signature", OK: true, Detail: "COSE signature by issuer key " + res.Header.KID})
	if v, err := credential.ParseDocument(res.Payload); err == nil {
		out.Holder = api.HolderFactsOf(v)
		s.ledgerStatus(snap, out, v.ID)
	}
}

// verifyLegacy verifies a certificate DIVOC issued before this ledger
// (W3C JSON-LD with an Ed25519Signature2018 or RsaSignature2018 proof)
// against the legacy keys in the node's settings.
func (s *Service) verifyLegacy(data []byte, out *api.Verification) {
	out.Format = "divoc-jsonld"
	keysByMethod := map[string]crypto.PublicKey{}
	for method, b58 := range s.settings.LegacyKeys {
		if k, err := divocld.Ed25519KeyFromBase58(b58); err == nil {
			keysByMethod[method] = k
		}
	}
	res, err := divocld.VerifyQR(string(data), divocld.StaticKeys(keysByMethod), divocld.Options{Now: time.Now()})
	if err != nil {
		out.Checks = append(out.Checks, api.Check{Name: "signature", Code: string(divocld.CodeOf(err)), Detail: err.Error()})
		return
	}
	out.Checks = append(out.Checks, api.Check{Name: "signature", OK: true, Detail: res.ProofType + " by " + res.VerificationMethod + " (a legacy DIVOC key in this node's settings)"})
	v := res.Vaccination
	v.Holder.Identity = credential.MaskIdentity(v.Holder.Identity)
	out.Holder = api.HolderFactsOf(&v)
	out.Checks = append(out.Checks, api.Check{Name: "status", OK: true, Detail: "a legacy certificate has no status on this ledger"})
}

// SHCKeys implements api.Backend: the SMART Health Cards keys on the
// ledger as a JWKS (served at /.well-known/jwks.json).
func (s *Service) SHCKeys() ([]byte, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		Alg string `json:"alg"`
	}
	var out []jwk
	for _, k := range snap.FormatKeys(app.FormatSHC) {
		pub, err := k.ECDSA()
		if err != nil || (k.ValidUntil != 0 && k.ValidUntil < snap.Height) {
			continue
		}
		out = append(out, jwk{Kty: "EC", Crv: "P-256", X: b64u(pub.X.FillBytes(make([]byte, 32))), Y: b64u(pub.Y.FillBytes(make([]byte, 32))), Kid: k.KID, Use: "sig", Alg: "ES256"})
	}
	return json.MarshalIndent(map[string]any{"keys": out}, "", "  ")
}

// SHCRevocations implements api.Backend: the revocation list of a card
// key (/.well-known/crl/<kid>.json): the rid of every certificate the
// ledger lists as revoked or superseded.
func (s *Service) SHCRevocations(kid string) ([]byte, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	known := false
	for _, k := range snap.FormatKeys(app.FormatSHC) {
		known = known || k.KID == kid
	}
	if !known {
		return nil, api.NewProblem(http.StatusNotFound, api.CodeNotFound, "no SMART Health Cards key "+kid+" on the ledger")
	}
	var rids []string
	snap.Iterate("status/", func(key string, _ []byte) bool {
		rids = append(rids, shc.RevocationID(s.formats.ridSecret, kid, strings.TrimPrefix(key, "status/")))
		return false
	})
	sort.Strings(rids)
	crl := shc.CRL{KID: kid, Method: "rid", Ctr: int64(len(rids)), RIDs: rids}
	return crl.Document()
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// fillFromLedger completes the facts a format carries thinly (a health
// card names its vaccine by CVX code and may omit the course length and
// the place) with what the ledger records for the certificate: no
// personal data, only the event's coded facts and the registries' names.
func fillFromLedger(snap *app.Snapshot, h *api.HolderFacts, rec *app.CertRecord) {
	if h == nil {
		return
	}
	if h.Dose == 0 {
		h.Dose = rec.Event.Dose
	}
	if h.Date == "" {
		h.Date = rec.Event.Date
	}
	if v := snap.Vaccine(rec.Event.Vaccine); v != nil {
		if h.Vaccine == "" || strings.Trim(h.Vaccine, "0123456789") == "" { // empty or a bare code
			h.Vaccine = v.Name
		}
		if h.Manufacturer == "" {
			h.Manufacturer = v.Manufacturer
		}
		if h.TotalDoses == 0 {
			h.TotalDoses = v.Doses
		}
	}
	if f := snap.Facility(rec.Facility); f != nil && h.Facility == "" {
		h.Facility = f.Name
	}
}
