package dcc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	"github.com/veraison/go-cose"
)

// Step is one check of Verify, named as the EU test data names its
// expectations.
type Step string

// The steps, in the order Verify runs them.
const (
	StepPrefix     Step = "prefix"     // "HC1:" (EXPECTEDUNPREFIX)
	StepBase45     Step = "base45"     // base45 text (EXPECTEDB45DECODE)
	StepDecompress Step = "decompress" // zlib, with a size limit (EXPECTEDCOMPRESSION)
	StepCOSE       Step = "cose"       // COSE_Sign1 structure and headers
	StepCWT        Step = "cwt"        // CWT claims and the hcert (EXPECTEDDECODE)
	StepSignature  Step = "signature"  // ES256 / PS256 by a trusted DSC with the kid (EXPECTEDVERIFY)
	StepKeyUsage   Step = "key_usage"  // the DSC may sign this type (EXPECTEDKEYUSAGE)
	StepExpiration Step = "expiration" // iat ≤ now ≤ exp, within the DSC's validity (EXPECTEDEXPIRATIONCHECK)
	StepSchema     Step = "schema"     // DCC JSON schema 1.3 (EXPECTEDSCHEMAVALIDATION)
	StepValueSets  Step = "value_sets" // coded fields are in the EU value sets
)

// Steps lists every step in order.
var Steps = []Step{StepPrefix, StepBase45, StepDecompress, StepCOSE, StepCWT, StepSignature, StepKeyUsage, StepExpiration, StepSchema, StepValueSets}

// Status is the outcome of a step.
type Status string

// Step outcomes. A step is not run when an earlier failure left it nothing
// to check (no CWT after a broken COSE, no key usage without a signer).
const (
	StatusOK     Status = "ok"
	StatusFailed Status = "failed"
	StatusNotRun Status = "not_run"
)

// Check is the outcome of one step.
type Check struct {
	Step   Step   `json:"step"`
	Status Status `json:"status"`
	Code   Code   `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Result is what Verify found: every step's outcome and, as far as the
// decoding got, what the certificate says.
type Result struct {
	Valid  bool    `json:"valid"`  // every step is ok
	Checks []Check `json:"checks"` // one per step, in Steps order

	KID       []byte            `json:"kid,omitempty"`         // the key id the message names
	Alg       string            `json:"alg,omitempty"`         // "ES256", "PS256", or the number it gave
	Signer    *x509.Certificate `json:"-"`                     // the DSC that verified the signature
	Issuer    string            `json:"issuer,omitempty"`      // CWT iss: the issuing country
	IssuedAt  time.Time         `json:"issuedAt,omitzero"`     // CWT iat (zero if absent)
	ExpiresAt time.Time         `json:"expiresAt,omitzero"`    // CWT exp (zero if absent)
	Type      CertificateType   `json:"type,omitempty"`        // "v", "t" or "r"; empty unless exactly one is present
	HCert     json.RawMessage   `json:"hcert,omitempty"`       // the DCC as JSON
	Holder    *Holder           `json:"holder,omitempty"`      // decoded for display
	Dose      *Dose             `json:"vaccination,omitempty"` // the vaccination entry, for a "v" DCC

	// The intermediate forms, for tests that compare each step's output.
	base45     string
	compressed []byte
	cose       []byte
	payload    []byte
	hcert      map[string]any
}

// Holder is who the certificate names.
type Holder struct {
	FamilyName             string `json:"familyName,omitempty"`
	GivenName              string `json:"givenName,omitempty"`
	FamilyNameStandardised string `json:"familyNameStandardised,omitempty"`
	GivenNameStandardised  string `json:"givenNameStandardised,omitempty"`
	DOB                    string `json:"dob"`
}

// Dose is the vaccination entry of a DCC, with the value sets' display
// names next to the codes.
type Dose struct {
	Target           string `json:"target"`
	Prophylaxis      string `json:"prophylaxis"`
	Product          string `json:"product"`
	ProductName      string `json:"productName,omitempty"`
	Manufacturer     string `json:"manufacturer"`
	ManufacturerName string `json:"manufacturerName,omitempty"`
	Dose             int    `json:"dose"`
	TotalDoses       int    `json:"totalDoses"`
	Date             string `json:"date"`
	Country          string `json:"country"`
	Issuer           string `json:"issuer"`
	CertificateID    string `json:"certificateId"`
}

// Check returns the outcome of step s.
func (r *Result) Check(s Step) Check {
	for _, c := range r.Checks {
		if c.Step == s {
			return c
		}
	}
	return Check{Step: s, Status: StatusNotRun, Code: CodeNotRun}
}

// OK reports whether step s passed.
func (r *Result) OK(s Step) bool { return r.Check(s).Status == StatusOK }

// Err returns the first failed step as an *Error, or nil if the DCC is
// valid.
func (r *Result) Err() error {
	for _, c := range r.Checks {
		if c.Status == StatusFailed {
			return &Error{Code: c.Code, Detail: string(c.Step) + ": " + c.Reason}
		}
	}
	if !r.Valid {
		return fail(CodeNotRun, "not every step ran")
	}
	return nil
}

// Verify decodes and checks an HC1 string: prefix, base45, zlib (at most
// MaxDecompressedBytes), COSE_Sign1 (tagged, untagged, or tagged 61 around
// 18), the CWT claims and hcert, the signature (ES256 or PS256, against
// every certificate the trust list files under the kid), the signer's
// extended key usage for the certificate type, iat and exp against now
// and the signer's validity, the DCC JSON schema 1.3, and the value sets.
// It never panics and never stops at the first failure when later steps
// can still run: the Result lists every step. now must not be zero.
func Verify(hc1 string, trust TrustList, now time.Time) *Result {
	v := newVerification(trust, now)
	v.fromPrefix(hc1)
	return v.finish()
}

type verification struct {
	res   *Result
	trust TrustList
	now   time.Time
	msg   *coseSign1
	cwt   *cwt
}

func newVerification(trust TrustList, now time.Time) *verification {
	return &verification{res: &Result{}, trust: trust, now: now}
}

func (v *verification) ok(s Step) {
	v.res.Checks = append(v.res.Checks, Check{Step: s, Status: StatusOK})
}

func (v *verification) failed(s Step, err error) {
	c := Check{Step: s, Status: StatusFailed, Code: CodeOf(err), Reason: err.Error()}
	if e, isErr := err.(*Error); isErr {
		c.Reason = e.Detail
		if e.Err != nil {
			c.Reason += ": " + e.Err.Error()
		}
	}
	v.res.Checks = append(v.res.Checks, c)
}

func (v *verification) fromPrefix(s string) {
	rest, err := unprefix(s)
	if err != nil {
		v.failed(StepPrefix, err)
		return
	}
	v.ok(StepPrefix)
	v.fromBase45(rest)
}

func (v *verification) fromBase45(s string) {
	v.res.base45 = s
	b, err := decodeBase45(s)
	if err != nil {
		v.failed(StepBase45, err)
		return
	}
	v.ok(StepBase45)
	v.fromCompressed(b)
}

func (v *verification) fromCompressed(b []byte) {
	v.res.compressed = b
	cose, err := inflate(b)
	if err != nil {
		if bytes.HasPrefix(b, []byte(Prefix)) {
			err = fail(CodeDoubleEncoded, "the base45 text decodes to %q...: an HC1 string encoded twice", Prefix)
		}
		v.failed(StepDecompress, err)
		return
	}
	v.ok(StepDecompress)
	v.fromCOSE(cose)
}

func (v *verification) fromCOSE(b []byte) {
	v.res.cose = b
	msg, err := decodeCOSE(b)
	if err != nil {
		v.failed(StepCOSE, err)
		return
	}
	v.ok(StepCOSE)
	v.msg = msg
	v.res.KID = msg.KID
	v.res.Alg = algName(msg.Alg, msg.AlgFound)
	v.res.payload = msg.Payload

	c, err := decodeCWT(msg.Payload)
	if err != nil {
		v.failed(StepCWT, err)
	} else {
		v.ok(StepCWT)
		v.setCWT(c)
	}

	if err := v.checkSignature(); err != nil {
		v.failed(StepSignature, err)
	} else {
		v.ok(StepSignature)
	}
	if v.cwt == nil {
		return
	}
	if v.res.Signer != nil {
		if err := checkKeyUsage(v.res.Signer, v.cwt.HCert); err != nil {
			v.failed(StepKeyUsage, err)
		} else {
			v.ok(StepKeyUsage)
		}
	}
	if err := checkTimes(v.cwt, v.res.Signer, v.now); err != nil {
		v.failed(StepExpiration, err)
	} else {
		v.ok(StepExpiration)
	}
	v.fromHCert(v.cwt.HCertJSON, v.cwt.HCert)
}

// fromHCert runs the content checks on the DCC in its JSON form.
func (v *verification) fromHCert(hcertJSON []byte, hcert map[string]any) {
	if err := ValidateSchema(hcertJSON); err != nil {
		v.failed(StepSchema, err)
	} else {
		v.ok(StepSchema)
	}
	if err := checkValueSets(hcert); err != nil {
		v.failed(StepValueSets, err)
	} else {
		v.ok(StepValueSets)
	}
}

func (v *verification) setCWT(c *cwt) {
	v.cwt = c
	r := v.res
	r.Issuer, r.IssuedAt, r.ExpiresAt = c.Issuer, c.IssuedAt, c.ExpiresAt
	r.HCert = c.HCertJSON
	r.hcert = c.HCert
	r.Type, _ = certificateType(c.HCert)
	r.Holder, r.Dose = facts(c.HCert)
}

// finish lists the steps that did not run and sets Valid.
func (v *verification) finish() *Result {
	r := v.res
	byStep := map[Step]Check{}
	for _, c := range r.Checks {
		byStep[c.Step] = c
	}
	r.Checks = r.Checks[:0]
	r.Valid = true
	for _, s := range Steps {
		c, ran := byStep[s]
		if !ran {
			c = Check{Step: s, Status: StatusNotRun, Code: CodeNotRun, Reason: notRunReason(s, byStep)}
		}
		if c.Status != StatusOK {
			r.Valid = false
		}
		r.Checks = append(r.Checks, c)
	}
	return r
}

func notRunReason(s Step, ran map[Step]Check) string {
	if s == StepKeyUsage {
		if c, ok := ran[StepSignature]; ok && c.Status != StatusOK {
			return "no trusted signer certificate: the signature did not verify"
		}
	}
	for _, prev := range Steps {
		if prev == s {
			break
		}
		if c, ok := ran[prev]; ok && c.Status == StatusFailed {
			return "an earlier step failed: " + string(prev)
		}
	}
	return "the input started after this step"
}

func algName(alg int64, found bool) string {
	switch {
	case !found:
		return ""
	case alg == algES256:
		return "ES256"
	case alg == algPS256:
		return "PS256"
	}
	return fmt.Sprint(alg)
}

// checkSignature verifies the COSE signature with each trusted certificate
// filed under the kid whose key fits the alg; one that verifies is the
// signer. ES256 needs a P-256 key, PS256 an RSA key of 2048 bits or more;
// no other algorithm is accepted (THREATS 15).
func (v *verification) checkSignature() error {
	msg := v.msg
	if !msg.AlgFound {
		return fail(CodeAlgNotAllowed, "no alg header parameter")
	}
	if msg.Alg != algES256 && msg.Alg != algPS256 {
		return fail(CodeAlgNotAllowed, "alg %d is not allowed (only ES256 (-7) and PS256 (-37))", msg.Alg)
	}
	if len(msg.KID) == 0 {
		return fail(CodeUnknownKID, "no kid header parameter")
	}
	certs := v.trust.Certificates(msg.KID)
	if len(certs) == 0 {
		return fail(CodeUnknownKID, "no trusted certificate has kid %x", msg.KID)
	}
	tbs, err := sigStructure(msg.Protected, msg.Payload)
	if err != nil {
		return failWrap(CodeBadCOSE, err, "Sig_structure")
	}
	tried := 0
	var lastErr error
	for _, cert := range certs {
		verifier, err := verifierFor(msg.Alg, cert)
		if err != nil {
			lastErr = err
			continue
		}
		tried++
		if err := verifier.Verify(tbs, msg.Signature); err == nil {
			v.res.Signer = cert
			return nil
		} else {
			lastErr = err
		}
	}
	if tried == 0 {
		return failWrap(CodeAlgNotAllowed, lastErr, "none of the %d certificate(s) with kid %x has a key for %s", len(certs), msg.KID, algName(msg.Alg, true))
	}
	return failWrap(CodeBadSignature, lastErr, "the signature does not verify with the %d certificate(s) with kid %x", tried, msg.KID)
}

func verifierFor(alg int64, cert *x509.Certificate) (cose.Verifier, error) {
	switch alg {
	case algES256:
		k, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ES256 needs a P-256 key, the certificate has %s", keyKind(cert))
		}
		return cose.NewVerifier(cose.AlgorithmES256, k)
	case algPS256:
		k, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("PS256 needs an RSA key, the certificate has %s", keyKind(cert))
		}
		return cose.NewVerifier(cose.AlgorithmPS256, k)
	}
	return nil, fmt.Errorf("alg %d is not allowed", alg)
}

func keyKind(cert *x509.Certificate) string {
	switch k := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	}
	return fmt.Sprintf("%T", cert.PublicKey)
}

// certificateType returns the one type entry ("v", "t", "r") of an hcert.
func certificateType(hcert map[string]any) (CertificateType, error) {
	var found []CertificateType
	for _, t := range []CertificateType{TypeVaccination, TypeTest, TypeRecovery} {
		if _, ok := hcert[string(t)]; ok {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		return "", fail(CodeSchema, "the DCC has %d of the entries v, t, r (%v); it must have exactly one", len(found), found)
	}
	return found[0], nil
}

// checkKeyUsage checks the signer's extended key usage against the
// certificate type (THREATS 33).
func checkKeyUsage(signer *x509.Certificate, hcert map[string]any) error {
	t, err := certificateType(hcert)
	if err != nil {
		return &Error{Code: CodeKeyUsage, Detail: "cannot tell the certificate type", Err: err}
	}
	if !AllowsType(signer, t) {
		return fail(CodeKeyUsage, "the signer certificate's extended key usage %v does not allow %q certificates", signer.UnknownExtKeyUsage, t)
	}
	return nil
}

// checkTimes: iat ≤ now ≤ exp; and, when the signer is known, the DCC's
// lifetime lies within the signer certificate's (notBefore ≤ iat,
// exp ≤ notAfter), as the EU test suite requires.
func checkTimes(c *cwt, signer *x509.Certificate, now time.Time) error {
	if now.IsZero() {
		return fail(CodeNoClock, "no clock to check iat and exp against")
	}
	if !c.HasIat || !c.HasExp {
		return fail(CodeBadCWT, "the CWT needs both iat (6) and exp (4)")
	}
	const layout = time.RFC3339
	if now.Before(c.IssuedAt) {
		return fail(CodeNotYetValid, "issued at %s, after now (%s)", c.IssuedAt.Format(layout), now.UTC().Format(layout))
	}
	if now.After(c.ExpiresAt) {
		return fail(CodeExpired, "expired at %s, before now (%s)", c.ExpiresAt.Format(layout), now.UTC().Format(layout))
	}
	if signer != nil {
		if c.IssuedAt.Before(signer.NotBefore) {
			return fail(CodeSignerNotValid, "issued at %s, before the signer certificate's notBefore %s", c.IssuedAt.Format(layout), signer.NotBefore.UTC().Format(layout))
		}
		if c.ExpiresAt.After(signer.NotAfter) {
			return fail(CodeSignerNotValid, "expires at %s, after the signer certificate's notAfter %s", c.ExpiresAt.Format(layout), signer.NotAfter.UTC().Format(layout))
		}
	}
	return nil
}

// facts picks the holder and the vaccination entry out of an hcert for
// display. Fields of the wrong type are left empty: the schema step
// reports them.
func facts(hcert map[string]any) (*Holder, *Dose) {
	str := func(m map[string]any, k string) string {
		s, _ := m[k].(string)
		return s
	}
	num := func(m map[string]any, k string) int {
		n, _ := m[k].(json.Number)
		i, err := n.Int64()
		if err != nil || i < 0 || i > 1<<20 {
			return 0
		}
		return int(i)
	}
	nam, _ := hcert["nam"].(map[string]any)
	h := &Holder{
		FamilyName: str(nam, "fn"), GivenName: str(nam, "gn"),
		FamilyNameStandardised: str(nam, "fnt"), GivenNameStandardised: str(nam, "gnt"),
		DOB: str(hcert, "dob"),
	}
	entries, _ := hcert["v"].([]any)
	if len(entries) == 0 {
		return h, nil
	}
	e, _ := entries[0].(map[string]any)
	d := &Dose{
		Target: str(e, "tg"), Prophylaxis: str(e, "vp"), Product: str(e, "mp"), Manufacturer: str(e, "ma"),
		Dose: num(e, "dn"), TotalDoses: num(e, "sd"), Date: str(e, "dt"), Country: str(e, "co"),
		Issuer: str(e, "is"), CertificateID: str(e, "ci"),
	}
	if val, ok := LookupValue(SetMedicinalProduct, d.Product); ok {
		d.ProductName = val.Display
	}
	if val, ok := LookupValue(SetManufacturer, d.Manufacturer); ok {
		d.ManufacturerName = val.Display
	}
	return h, d
}
