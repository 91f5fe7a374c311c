package dcc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// CertificateType is the kind of DCC: the hcert holds exactly one of the
// entries "v", "t" or "r".
type CertificateType string

// Certificate types.
const (
	TypeVaccination CertificateType = "v"
	TypeTest        CertificateType = "t"
	TypeRecovery    CertificateType = "r"
)

// Extended key usage OIDs a document signer certificate may carry to limit
// the types it signs (eHN DCC technical specification, volume 1, 5.1.1).
var (
	OIDTest        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 1}
	OIDVaccination = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 2}
	OIDRecovery    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 3}
)

// typeOIDs lists, per type, the OIDs that allow it: the specified one and
// the variant with an extra ".0" after the enterprise arc
// (1.3.6.1.4.1.0.1847.2021.1.x) that early signers and the EU test data use.
var typeOIDs = map[CertificateType][]asn1.ObjectIdentifier{
	TypeTest:        {OIDTest, {1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 1}},
	TypeVaccination: {OIDVaccination, {1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 2}},
	TypeRecovery:    {OIDRecovery, {1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 3}},
}

// AllowsType reports whether a document signer certificate may sign a DCC
// of type t. A certificate whose extended key usage names none of the DCC
// type OIDs (or has no such extension) may sign every type; one that names
// some may sign only those.
func AllowsType(cert *x509.Certificate, t CertificateType) bool {
	var named []CertificateType
	for typ, oids := range typeOIDs {
		for _, oid := range oids {
			if slices.ContainsFunc(cert.UnknownExtKeyUsage, oid.Equal) {
				named = append(named, typ)
			}
		}
	}
	return len(named) == 0 || slices.Contains(named, t)
}

// KIDOf is the DCC key id of a document signer certificate: the first 8
// bytes of the SHA-256 of its DER encoding.
func KIDOf(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.Raw)
	return sum[:8]
}

// TrustList maps a key id (standard base64 of its 8 bytes, as the EU
// gateway publishes it) to the document signer certificates filed under it.
// Two certificates can share a kid (THREATS 32): Verify tries each.
type TrustList map[string][]*x509.Certificate

// NewTrustList files each certificate under its own kid (KIDOf).
func NewTrustList(certs ...*x509.Certificate) TrustList {
	t := TrustList{}
	for _, c := range certs {
		t.Add(c)
	}
	return t
}

// Add files cert under its own kid.
func (t TrustList) Add(cert *x509.Certificate) {
	t.AddWithKID(KIDOf(cert), cert)
}

// AddWithKID files cert under kid, which a trust list may state
// explicitly.
func (t TrustList) AddWithKID(kid []byte, cert *x509.Certificate) {
	k := base64.StdEncoding.EncodeToString(kid)
	t[k] = append(t[k], cert)
}

// Certificates returns the certificates filed under kid.
func (t TrustList) Certificates(kid []byte) []*x509.Certificate {
	return t[base64.StdEncoding.EncodeToString(kid)]
}

// CSCA is a country signing certificate authority: a self-signed root that
// certifies document signers. It is what makes a DSC recognisable to a
// gateway; Verify itself trusts document signer certificates directly.
type CSCA struct {
	Certificate *x509.Certificate
	key         crypto.Signer
}

// NewCSCA makes a self-signed CSCA certificate for key (ECDSA P-256 or
// P-384, or RSA) in country (ISO 3166-1 alpha-2).
func NewCSCA(key crypto.Signer, country, commonName string, notBefore, notAfter time.Time) (*CSCA, error) {
	if !countryRE.MatchString(country) {
		return nil, fail(CodeBadSigner, "CSCA country %q is not an ISO 3166-1 alpha-2 code", country)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Country: []string{country}, CommonName: commonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, failWrap(CodeBadSigner, err, "create CSCA certificate")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, failWrap(CodeBadSigner, err, "parse CSCA certificate")
	}
	return &CSCA{Certificate: cert, key: key}, nil
}

// NewDocumentSigner certifies key (ECDSA P-256) as a document signer of
// the CSCA's country, allowed to sign the given types (its extended key
// usage lists their OIDs; no types means no restriction). The validity
// must lie within the CSCA's.
func (ca *CSCA) NewDocumentSigner(key crypto.Signer, commonName string, notBefore, notAfter time.Time, types ...CertificateType) (*DocumentSigner, error) {
	if err := checkP256(key.Public()); err != nil {
		return nil, err
	}
	if notBefore.Before(ca.Certificate.NotBefore) || notAfter.After(ca.Certificate.NotAfter) || !notBefore.Before(notAfter) {
		return nil, fail(CodeBadSigner, "DSC validity %s to %s is empty or outside the CSCA's (%s to %s)",
			notBefore.UTC().Format(time.RFC3339), notAfter.UTC().Format(time.RFC3339),
			ca.Certificate.NotBefore.UTC().Format(time.RFC3339), ca.Certificate.NotAfter.UTC().Format(time.RFC3339))
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	var ekus []asn1.ObjectIdentifier
	for _, t := range types {
		oids, ok := typeOIDs[t]
		if !ok {
			return nil, fail(CodeBadSigner, "unknown certificate type %q", t)
		}
		ekus = append(ekus, oids[0])
	}
	tmpl := &x509.Certificate{
		SerialNumber:       serial,
		Subject:            pkix.Name{Country: ca.Certificate.Subject.Country, CommonName: commonName},
		NotBefore:          notBefore,
		NotAfter:           notAfter,
		KeyUsage:           x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: ekus,
		AuthorityKeyId:     ca.Certificate.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Certificate, key.Public(), ca.key)
	if err != nil {
		return nil, failWrap(CodeBadSigner, err, "create DSC")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, failWrap(CodeBadSigner, err, "parse DSC")
	}
	return NewDocumentSigner(cert, key)
}

// DocumentSigner signs DCCs: a document signer certificate (DSC) and its
// ECDSA P-256 key.
type DocumentSigner struct {
	cert *x509.Certificate
	key  crypto.Signer
	kid  []byte
}

// NewDocumentSigner pairs a DSC with its private key. The key must be
// ECDSA P-256 (DCCs are issued with ES256) and match the certificate, and
// the certificate must name a country.
func NewDocumentSigner(cert *x509.Certificate, key crypto.Signer) (*DocumentSigner, error) {
	if cert == nil || key == nil {
		return nil, fail(CodeBadSigner, "a document signer needs a certificate and a key")
	}
	if err := checkP256(key.Public()); err != nil {
		return nil, err
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return nil, fail(CodeBadSigner, "the key does not match the certificate's public key")
	}
	if len(cert.Subject.Country) != 1 || !countryRE.MatchString(cert.Subject.Country[0]) {
		return nil, fail(CodeBadSigner, "the DSC subject must name one country (C=), has %v", cert.Subject.Country)
	}
	return &DocumentSigner{cert: cert, key: key, kid: KIDOf(cert)}, nil
}

// GenerateDocumentSigner makes a fresh CSCA (P-256, valid ten years from
// notBefore) and a DSC (P-256, allowed to sign vaccination certificates,
// valid from notBefore to notAfter) for country: a signer for tests, demos
// and a first setup. Production CSCA keys live offline.
func GenerateDocumentSigner(country, commonName string, notBefore, notAfter time.Time) (*CSCA, *DocumentSigner, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	ca, err := NewCSCA(caKey, country, commonName+" CSCA", notBefore.Add(-time.Hour), notBefore.AddDate(10, 0, 0))
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	dsc, err := ca.NewDocumentSigner(key, commonName+" DSC", notBefore, notAfter, TypeVaccination)
	if err != nil {
		return nil, nil, err
	}
	return ca, dsc, nil
}

// Certificate is the DSC.
func (s *DocumentSigner) Certificate() *x509.Certificate { return s.cert }

// KID is the DSC's key id (KIDOf).
func (s *DocumentSigner) KID() []byte { return slices.Clone(s.kid) }

// Country is the DSC subject's country: the CWT issuer (iss).
func (s *DocumentSigner) Country() string { return s.cert.Subject.Country[0] }

func checkP256(pub crypto.PublicKey) error {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return fail(CodeBadSigner, "a document signer key must be ECDSA P-256 (ES256), not %T", pub)
	}
	return nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("dcc: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
