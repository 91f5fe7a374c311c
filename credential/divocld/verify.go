// Package divocld verifies the legacy DIVOC vaccination certificates:
// W3C Verifiable Credentials (data model 1.1) in JSON-LD, signed with
// Ed25519Signature2018 or RsaSignature2018 as jsonld-signatures defines
// them, and reads the zipped-JSON QR code DIVOC printed on them.
//
// The signature covers the URDNA2015 canonical form of the credential, so
// verification is JSON-LD processing, with an offline document loader
// serving bundled contexts. JSON-LD silently drops what its contexts do not
// define, so a field added to a signed certificate would still verify:
// Verify expands in safe mode first and refuses anything that would be
// dropped (CodeDroppedTerm).
package divocld

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mr-tron/base58"
	"github.com/piprate/json-gold/ld"

	"github.com/divoc/divoc/credential"
	"github.com/divoc/divoc/internal/strictjson"
)

// Proof types Verify accepts.
const (
	ProofEd25519Signature2018 = "Ed25519Signature2018"
	ProofRsaSignature2018     = "RsaSignature2018"
)

// ProofPurpose is the only proof purpose a certificate may carry.
const ProofPurpose = "assertionMethod"

// MaxCertificateBytes bounds the certificate JSON Verify reads (and the
// certificate.json a QR archive may expand to).
const MaxCertificateBytes = 64 << 10

// MinRSABits is the smallest RSA modulus Verify accepts.
const MinRSABits = 2048

// jwsHeaders are the only detached-JWS headers each proof type allows
// (RFC 7797 unencoded payload).
var jwsAlgs = map[string]string{
	ProofEd25519Signature2018: "EdDSA",
	ProofRsaSignature2018:     "PS256",
}

// KeyResolver returns the public key a proof's verificationMethod names:
// an ed25519.PublicKey for Ed25519Signature2018, an *rsa.PublicKey for
// RsaSignature2018. A nil key or an error means the key is unknown.
type KeyResolver func(verificationMethod string) (crypto.PublicKey, error)

// StaticKeys resolves verification methods from a fixed map.
func StaticKeys(keys map[string]crypto.PublicKey) KeyResolver {
	keys = maps.Clone(keys)
	return func(vm string) (crypto.PublicKey, error) {
		return keys[vm], nil
	}
}

// Ed25519KeyFromBase58 reads an Ed25519 public key in the base58 form of
// publicKeyBase58 (Ed25519VerificationKey2018).
func Ed25519KeyFromBase58(s string) (ed25519.PublicKey, error) {
	b, err := base58.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("divocld: publicKeyBase58: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("divocld: publicKeyBase58 decodes to %d bytes, an Ed25519 key is %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// RSAKeyFromPEM reads an RSA public key from PEM: "PUBLIC KEY" (PKIX) or
// "RSA PUBLIC KEY" (PKCS #1), at least MinRSABits long.
func RSAKeyFromPEM(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("divocld: no PEM block")
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("divocld: PEM public key: %w", err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("divocld: PEM holds a %T, not an RSA key", k)
		}
		pub = rk
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("divocld: PEM RSA public key: %w", err)
		}
		pub = k
	default:
		return nil, fmt.Errorf("divocld: PEM block %q is not a public key", block.Type)
	}
	if pub.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("divocld: RSA key of %d bits; at least %d are required", pub.N.BitLen(), MinRSABits)
	}
	return pub, nil
}

// Options tune Verify.
type Options struct {
	// Now is compared with issuanceDate, proof.created and expirationDate.
	// The zero time skips these checks.
	Now time.Time
	// Contexts serves the @context documents; nil: the bundled ones.
	Contexts *Contexts
}

// Result is a certificate whose signature verified.
type Result struct {
	ProofType          string
	VerificationMethod string
	Created            time.Time
	Key                crypto.PublicKey
	// Document is the certificate as JSON (proof included); numbers are
	// float64, as JSON-LD processed them.
	Document map[string]any
	// Vaccination holds the certificate's facts in the format-neutral
	// shape, read from the signed document.
	Vaccination credential.Vaccination
}

// Verify checks a DIVOC certificate (JSON) signed with a single
// Ed25519Signature2018 or RsaSignature2018 proof: strict JSON, proof type
// and purpose, the detached JWS header of that proof type, the key the
// resolver gives for the proof's verificationMethod, safe-mode JSON-LD
// (nothing may be dropped), and the signature over
// SHA-256(URDNA2015(proof options)) ‖ SHA-256(URDNA2015(certificate
// without proof)), then the dates against opts.Now. A refusal is an
// *Error; see CodeOf.
func Verify(cert []byte, resolve KeyResolver, opts Options) (*Result, error) {
	doc, err := parseCertificate(cert)
	if err != nil {
		return nil, err
	}
	p, err := readProof(doc)
	if err != nil {
		return nil, err
	}
	key, err := resolveKey(p, resolve)
	if err != nil {
		return nil, err
	}
	ctxs := opts.Contexts
	if ctxs == nil {
		ctxs = defaultContexts
	}
	data, err := verifyData(doc, p.options, ctxs)
	if err != nil {
		return nil, err
	}
	input := append([]byte(p.headerB64+"."), data...)
	if !checkSignature(p.typ, key, input, p.signature) {
		return nil, fail(CodeBadSignature, "%s signature does not verify with the key of %q", p.typ, p.verificationMethod)
	}
	res := &Result{ProofType: p.typ, VerificationMethod: p.verificationMethod, Created: p.created, Key: key, Document: doc}
	res.Vaccination = readFacts(doc)
	if err := checkDates(doc, p.created, opts.Now); err != nil {
		return nil, err
	}
	return res, nil
}

func parseCertificate(cert []byte) (map[string]any, error) {
	if len(cert) > MaxCertificateBytes {
		return nil, fail(CodeTooLarge, "certificate is %d bytes, more than %d", len(cert), MaxCertificateBytes)
	}
	if !utf8.Valid(cert) {
		return nil, fail(CodeMalformed, "certificate is not valid UTF-8")
	}
	if err := strictjson.CheckNoDuplicateKeys(cert); err != nil {
		return nil, failWrap(CodeMalformed, err, "certificate is not strict JSON")
	}
	var doc map[string]any
	if err := json.Unmarshal(cert, &doc); err != nil || doc == nil {
		return nil, fail(CodeMalformed, "certificate is not a JSON object")
	}
	return doc, nil
}

type proof struct {
	typ                string
	verificationMethod string
	created            time.Time
	headerB64          string
	signature          []byte
	options            map[string]any // the proof without its signature, with the security context
}

func readProof(doc map[string]any) (*proof, error) {
	raw, ok := doc["proof"]
	if !ok {
		return nil, fail(CodeMalformed, "certificate has no proof")
	}
	m, ok := raw.(map[string]any)
	if !ok {
		if _, isList := raw.([]any); isList {
			return nil, fail(CodeUnsupportedProof, "certificate carries a set of proofs; DIVOC certificates carry one")
		}
		return nil, fail(CodeMalformed, "proof is not an object")
	}
	str := func(name string) (string, error) {
		v, ok := m[name].(string)
		if !ok || v == "" {
			return "", fail(CodeMalformed, "proof.%s is missing or not a string", name)
		}
		return v, nil
	}
	p := &proof{}
	var err error
	if p.typ, err = str("type"); err != nil {
		return nil, err
	}
	wantAlg, ok := jwsAlgs[p.typ]
	if !ok {
		return nil, fail(CodeUnsupportedProof, "proof type %q (supported: %s, %s)", p.typ, ProofEd25519Signature2018, ProofRsaSignature2018)
	}
	purpose, err := str("proofPurpose")
	if err != nil {
		return nil, err
	}
	if purpose != ProofPurpose {
		return nil, fail(CodeUnsupportedProof, "proofPurpose %q (want %s)", purpose, ProofPurpose)
	}
	if p.verificationMethod, err = str("verificationMethod"); err != nil {
		return nil, err
	}
	created, err := str("created")
	if err != nil {
		return nil, err
	}
	if p.created, err = parseDateTime(created); err != nil {
		return nil, failWrap(CodeMalformed, err, "proof.created")
	}
	for _, other := range []string{"proofValue", "signatureValue"} {
		if _, ok := m[other]; ok {
			return nil, fail(CodeUnsupportedProof, "proof carries %s; %s proofs carry a detached jws", other, p.typ)
		}
	}
	jws, err := str("jws")
	if err != nil {
		return nil, err
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" {
		return nil, fail(CodeMalformed, "proof.jws is not a detached compact JWS (header..signature)")
	}
	header, err := decodeSegment(parts[0])
	if err != nil {
		return nil, failWrap(CodeMalformed, err, "proof.jws header is not base64url")
	}
	if err := checkJWSHeader(header, wantAlg); err != nil {
		return nil, err
	}
	if p.signature, err = decodeSegment(parts[2]); err != nil {
		return nil, failWrap(CodeMalformed, err, "proof.jws signature is not base64url")
	}
	p.headerB64 = parts[0]

	p.options = maps.Clone(m)
	delete(p.options, "jws")
	p.options["@context"] = ContextSecurityV2
	return p, nil
}

// checkJWSHeader requires the header to be exactly
// {"alg":<alg>,"b64":false,"crit":["b64"]}, members in any order.
func checkJWSHeader(header []byte, alg string) error {
	want := fmt.Sprintf(`{"alg":%q,"b64":false,"crit":["b64"]}`, alg)
	if !utf8.Valid(header) || strictjson.CheckNoDuplicateKeys(header) != nil {
		return fail(CodeMalformed, "proof.jws header is not strict JSON")
	}
	var h map[string]any
	if err := json.Unmarshal(header, &h); err != nil {
		return fail(CodeMalformed, "proof.jws header is not a JSON object")
	}
	crit, _ := h["crit"].([]any)
	if len(h) != 3 || h["alg"] != alg || h["b64"] != false || len(crit) != 1 || crit[0] != "b64" {
		return fail(CodeAlgNotAllowed, "proof.jws header %s; the proof type requires exactly %s", header, want)
	}
	return nil
}

func decodeSegment(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("character %q at offset %d is not base64url", c, i)
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

func resolveKey(p *proof, resolve KeyResolver) (crypto.PublicKey, error) {
	if resolve == nil {
		return nil, fail(CodeUnknownKey, "no key resolver for %q", p.verificationMethod)
	}
	key, err := resolve(p.verificationMethod)
	if err != nil {
		return nil, failWrap(CodeUnknownKey, err, "looking up %q", p.verificationMethod)
	}
	switch k := key.(type) {
	case nil:
		return nil, fail(CodeUnknownKey, "no key known for verificationMethod %q", p.verificationMethod)
	case ed25519.PublicKey:
		if p.typ != ProofEd25519Signature2018 || len(k) != ed25519.PublicKeySize {
			return nil, fail(CodeAlgNotAllowed, "%q names an Ed25519 key; the proof is %s", p.verificationMethod, p.typ)
		}
	case *rsa.PublicKey:
		if p.typ != ProofRsaSignature2018 {
			return nil, fail(CodeAlgNotAllowed, "%q names an RSA key; the proof is %s", p.verificationMethod, p.typ)
		}
		if k.N.BitLen() < MinRSABits {
			return nil, fail(CodeAlgNotAllowed, "%q names a %d-bit RSA key; at least %d bits are required", p.verificationMethod, k.N.BitLen(), MinRSABits)
		}
	default:
		return nil, fail(CodeAlgNotAllowed, "%q names a %T, which neither proof type uses", p.verificationMethod, key)
	}
	return key, nil
}

func checkSignature(typ string, key crypto.PublicKey, input, sig []byte) bool {
	switch typ {
	case ProofEd25519Signature2018:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(key.(ed25519.PublicKey), input, sig)
	case ProofRsaSignature2018:
		digest := sha256.Sum256(input)
		return rsa.VerifyPSS(key.(*rsa.PublicKey), crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	return false
}

// verifyData is what a Linked Data Signature of jsonld-signatures signs:
// SHA-256 of the canonical proof options followed by SHA-256 of the
// canonical document without its proof.
func verifyData(doc, options map[string]any, ctxs *Contexts) ([]byte, error) {
	unsigned := maps.Clone(doc)
	delete(unsigned, "proof")
	canonProof, err := canonicalize(options, ctxs)
	if err != nil {
		return nil, prefixed(err, "proof options: ")
	}
	canonDoc, err := canonicalize(unsigned, ctxs)
	if err != nil {
		return nil, prefixed(err, "certificate: ")
	}
	h1, h2 := sha256.Sum256([]byte(canonProof)), sha256.Sum256([]byte(canonDoc))
	return append(h1[:], h2[:]...), nil
}

// prefixed says which document an error is about.
func prefixed(err error, what string) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Detail: what + e.Detail, Err: e.Err}
	}
	return err
}

// canonicalize returns the URDNA2015 N-Quads of a JSON-LD document after
// checking, in safe mode, that JSON-LD keeps every part of it.
func canonicalize(doc map[string]any, ctxs *Contexts) (nquads string, err error) {
	defer func() {
		if r := recover(); r != nil {
			nquads, err = "", fail(CodeBadJSONLD, "JSON-LD processor failed: %v", r)
		}
	}()
	if err := checkNoDroppedValues(doc, "$"); err != nil {
		return "", err
	}
	l := &loader{docs: ctxs.docs}
	opts := ld.NewJsonLdOptions("")
	opts.ProcessingMode = ld.JsonLd_1_1
	opts.Algorithm = ld.AlgorithmURDNA2015
	opts.Format = "application/n-quads"
	opts.SafeMode = true
	opts.DocumentLoader = l
	proc := ld.NewJsonLdProcessor()
	expanded, err := proc.Expand(doc, opts)
	if err != nil {
		if e := jsonldError(err, l); CodeOf(e) != CodeDroppedTerm {
			return "", e
		}
		if path := locateDropped(doc, ctxs); path != "" {
			return "", fail(CodeDroppedTerm, "property %s does not map to an IRI in the @context, so JSON-LD would drop it and the signature would not cover it", path)
		}
		return "", jsonldError(err, l)
	}
	if len(expanded) != 1 {
		return "", fail(CodeDroppedTerm, "document expands to %d nodes, not one", len(expanded))
	}
	if err := checkExpanded(expanded, "$"); err != nil {
		return "", err
	}
	api := ld.NewJsonLdApi()
	dataset, err := api.ToRDF(expanded, opts)
	if err != nil {
		return "", jsonldError(err, l)
	}
	out, err := api.Normalize(dataset, opts)
	if err != nil {
		return "", jsonldError(err, l)
	}
	s, ok := out.(string)
	if !ok {
		return "", fail(CodeBadJSONLD, "canonicalization gave %T, not N-Quads", out)
	}
	return s, nil
}

func jsonldError(err error, l *loader) error {
	if l.refused != "" {
		return failWrap(CodeUnknownContext, err, "@context %q is not one this verifier serves (it works offline)", l.refused)
	}
	var je *ld.JsonLdError
	if errors.As(err, &je) && je.Code == ld.InvalidProperty {
		return failWrap(CodeDroppedTerm, err, "a property does not map to an IRI in the @context, so JSON-LD would drop it and the signature would not cover it")
	}
	return failWrap(CodeBadJSONLD, err, "JSON-LD processing")
}

// checkNoDroppedValues refuses null values and empty arrays outside
// @context: JSON-LD drops them, so they would not be signed.
func checkNoDroppedValues(v any, path string) error {
	switch t := v.(type) {
	case nil:
		return fail(CodeDroppedTerm, "%s is null; JSON-LD drops it, so it is not signed", path)
	case []any:
		if len(t) == 0 {
			return fail(CodeDroppedTerm, "%s is an empty array; JSON-LD drops it, so it is not signed", path)
		}
		for i, e := range t {
			if err := checkNoDroppedValues(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range t {
			if k == "@context" {
				continue
			}
			if err := checkNoDroppedValues(e, path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

var languageTag = regexp.MustCompile(`^[a-zA-Z]+(-[a-zA-Z0-9]+)*$`)

// rdfIRI reports whether s survives as an IRI in json-gold's RDF: an
// absolute IRI or a blank node identifier, and for http(s) a valid URL.
func rdfIRI(s string) bool {
	if !ld.IsAbsoluteIri(s) {
		return false
	}
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return ld.IsURL(s)
	}
	return true
}

// checkExpanded walks an expanded document and refuses anything the
// conversion to RDF would leave out: relative or invalid IRIs as @id,
// @type, property or datatype, blank-node properties, invalid language
// tags, and keywords RDF ignores (@index).
func checkExpanded(v any, path string) error {
	switch t := v.(type) {
	case []any:
		for i, e := range t {
			if err := checkExpanded(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if _, ok := t["@value"]; ok {
			return checkValueObject(t, path)
		}
		for k, e := range t {
			p := path + "." + k
			switch k {
			case "@id":
				id, _ := e.(string)
				if !rdfIRI(id) {
					return fail(CodeDroppedTerm, "%s %q is not an absolute IRI, so its statements would not be signed", p, id)
				}
			case "@type":
				types, _ := e.([]any)
				for _, ty := range types {
					s, _ := ty.(string)
					if !rdfIRI(s) || strings.HasPrefix(s, "_:") {
						return fail(CodeDroppedTerm, "type %q at %s does not map to an IRI, so it would not be signed", s, path)
					}
				}
			case "@list", "@set", "@graph", "@included":
				if err := checkExpanded(e, p); err != nil {
					return err
				}
			default:
				if strings.HasPrefix(k, "@") {
					return fail(CodeDroppedTerm, "%s: keyword %s is not signed", path, k)
				}
				if strings.HasPrefix(k, "_:") || !rdfIRI(k) {
					return fail(CodeDroppedTerm, "property %q at %s does not map to an IRI, so it would not be signed", k, path)
				}
				if err := checkExpanded(e, p); err != nil {
					return err
				}
			}
		}
		return nil
	default:
		return fail(CodeDroppedTerm, "%s: a bare value outside a property is not signed", path)
	}
}

func checkValueObject(v map[string]any, path string) error {
	for k, e := range v {
		switch k {
		case "@value":
			if e == nil {
				return fail(CodeDroppedTerm, "%s: null value", path)
			}
		case "@type":
			s, _ := e.(string)
			if s != "@json" && !rdfIRI(s) {
				return fail(CodeDroppedTerm, "%s: datatype %q is not an absolute IRI", path, s)
			}
		case "@language":
			s, _ := e.(string)
			if !languageTag.MatchString(s) {
				return fail(CodeDroppedTerm, "%s: language tag %q is not valid", path, s)
			}
		case "@direction":
		default:
			return fail(CodeDroppedTerm, "%s: %s in a value is not signed", path, k)
		}
	}
	return nil
}

// parseDateTime reads an xsd:dateTime as jsonld-signatures writes it
// (RFC 3339, with or without fractional seconds).
func parseDateTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

func checkDates(doc map[string]any, created, now time.Time) error {
	if now.IsZero() {
		return nil
	}
	if created.After(now) {
		return fail(CodeNotYetValid, "proof created %s, after now (%s)", created.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if s, ok := doc["issuanceDate"].(string); ok {
		if at, err := parseDateTime(s); err == nil && at.After(now) {
			return fail(CodeNotYetValid, "issuanceDate %s is after now (%s)", s, now.UTC().Format(time.RFC3339))
		}
	}
	if s, ok := doc["expirationDate"].(string); ok {
		at, err := parseDateTime(s)
		if err != nil {
			return failWrap(CodeMalformed, err, "expirationDate")
		}
		if now.After(at) {
			return fail(CodeExpired, "expirationDate %s is before now (%s)", s, now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// locateDropped names a property that safe-mode expansion refuses (json-gold
// does not say which): it removes the document's properties cumulatively,
// children before their parent, and binary-searches the first removal
// after which expansion succeeds; that property is one JSON-LD would drop.
// Keys that select contexts or name nodes (type, id) are never removed, so
// removing a property cannot make another one undefined. It runs only
// after a refusal, with about log2(properties) expansions. "" if the search
// does not isolate one.
func locateDropped(doc map[string]any, ctxs *Contexts) string {
	var paths [][]any
	var walk func(v any, path []any)
	walk = func(v any, path []any) {
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				if k != "@context" {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := append(append([]any{}, path...), k)
				walk(t[k], p)
				if k != "type" && k != "id" && k != "@type" && k != "@id" {
					paths = append(paths, p)
				}
			}
		case []any:
			for i, e := range t {
				walk(e, append(append([]any{}, path...), i))
			}
		}
	}
	walk(doc, nil)
	if len(paths) == 0 || len(paths) > 4096 {
		return ""
	}
	expands := func(n int) bool { // does the document without paths[:n] expand in safe mode?
		d := cloneJSON(doc).(map[string]any)
		for _, p := range paths[:n] {
			removePath(d, p)
		}
		opts := ld.NewJsonLdOptions("")
		opts.ProcessingMode = ld.JsonLd_1_1
		opts.SafeMode = true
		opts.DocumentLoader = &loader{docs: ctxs.docs}
		_, err := ld.NewJsonLdProcessor().Expand(d, opts)
		return err == nil
	}
	if !expands(len(paths)) {
		return ""
	}
	n := sort.Search(len(paths)+1, func(n int) bool { return n > 0 && expands(n) })
	var b strings.Builder
	for i, seg := range paths[n-1] {
		switch s := seg.(type) {
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}

func cloneJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = cloneJSON(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = cloneJSON(e)
		}
		return l
	default:
		return v
	}
}

// removePath deletes the member a path names, if its parents still exist.
func removePath(v any, path []any) {
	for i, seg := range path {
		last := i == len(path)-1
		switch s := seg.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return
			}
			if last {
				delete(m, s)
				return
			}
			v = m[s]
		case int:
			l, ok := v.([]any)
			if !ok || s >= len(l) {
				return
			}
			if last {
				return // array elements are not properties
			}
			v = l[s]
		}
	}
}
