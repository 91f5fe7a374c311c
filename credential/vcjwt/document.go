package vcjwt

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// ContextV2 is the base context every VC Data Model 2.0 document starts with.
const ContextV2 = "https://www.w3.org/ns/credentials/v2"

// Document types and the enveloped-credential type of VC Data Model 2.0.
const (
	TypeCredential          = "VerifiableCredential"
	TypePresentation        = "VerifiablePresentation"
	TypeEnvelopedCredential = "EnvelopedVerifiableCredential"
)

// kind tells a credential from a presentation.
type kind int

const (
	kindCredential kind = iota
	kindPresentation
)

func (k kind) String() string {
	if k == kindPresentation {
		return "presentation"
	}
	return "credential"
}

func (k kind) docType() string {
	if k == kindPresentation {
		return TypePresentation
	}
	return TypeCredential
}

// checkDocument checks what both Issue and Verify require of a VC or VP:
// the v2 context first, the right type, no "vc"/"vp" claims, well-formed
// dates, an iss that agrees with the issuer (or holder), and for a
// presentation that every credential in it is enveloped.
func checkDocument(doc map[string]any, k kind) error {
	if err := checkContext(doc["@context"]); err != nil {
		return err
	}
	types, err := stringOrStrings(doc["type"])
	if err != nil || !slices.Contains(types, k.docType()) {
		return fail(CodeBadCredential, "%s: \"type\" must contain %q", k, k.docType())
	}
	// VC-JOSE-COSE section 3.1: the JWT claims vc and vp must not be used.
	for _, claim := range []string{"vc", "vp"} {
		if _, ok := doc[claim]; ok {
			return fail(CodeBadCredential, "%s: the JWT claim %q must not be present (VC-JOSE-COSE)", k, claim)
		}
	}
	for _, name := range []string{"validFrom", "validUntil"} {
		if _, _, err := dateMember(doc, name); err != nil {
			return err
		}
	}
	for _, name := range []string{"nbf", "exp"} {
		if _, _, err := numericDate(doc, name); err != nil {
			return err
		}
	}
	switch k {
	case kindCredential:
		if _, ok := doc["credentialSubject"]; !ok {
			return fail(CodeBadCredential, "credential has no \"credentialSubject\"")
		}
		if err := checkIss(doc, "issuer", true); err != nil {
			return err
		}
	case kindPresentation:
		if err := checkIss(doc, "holder", false); err != nil {
			return err
		}
		if _, err := envelopes(doc); err != nil {
			return err
		}
	}
	return nil
}

func checkContext(v any) error {
	contexts, ok := v.([]any)
	if !ok {
		contexts = []any{v} // a single context may be a plain string
	}
	if v == nil || len(contexts) == 0 || contexts[0] != ContextV2 {
		return fail(CodeBadCredential, "the first \"@context\" must be %q", ContextV2)
	}
	return nil
}

// checkIss checks that an iss claim, when present, names the same party as
// the issuer (credential) or holder (presentation) member: a string or an
// object with an "id".
func checkIss(doc map[string]any, member string, required bool) error {
	id, present, err := partyID(doc[member])
	if err != nil {
		return fail(CodeBadCredential, "%q: %v", member, err)
	}
	if required && !present {
		return fail(CodeBadCredential, "credential has no %q", member)
	}
	iss, ok := doc["iss"]
	if !ok {
		return nil
	}
	s, isString := iss.(string)
	if !isString {
		return fail(CodeBadCredential, "\"iss\" must be a string")
	}
	if present && s != id {
		return fail(CodeBadCredential, "\"iss\" %q does not match %q %q", s, member, id)
	}
	return nil
}

func partyID(v any) (id string, present bool, err error) {
	switch p := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return p, true, nil
	case map[string]any:
		if s, ok := p["id"].(string); ok {
			return s, true, nil
		}
		if _, ok := p["id"]; ok {
			return "", false, fmt.Errorf("\"id\" must be a string")
		}
		return "", false, nil
	default:
		return "", false, fmt.Errorf("must be a string or an object")
	}
}

// dateMember reads an XML Schema dateTimeStamp member such as validFrom.
func dateMember(doc map[string]any, name string) (time.Time, bool, error) {
	v, ok := doc[name]
	if !ok {
		return time.Time{}, false, nil
	}
	s, isString := v.(string)
	if !isString {
		return time.Time{}, false, fail(CodeBadCredential, "%q must be a date-time string", name)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false, fail(CodeBadCredential, "%q is not a date-time with a time zone: %q", name, s)
	}
	return t, true, nil
}

// numericDate reads a JWT NumericDate claim (RFC 7519): seconds since the
// epoch as a JSON number.
func numericDate(doc map[string]any, name string) (time.Time, bool, error) {
	v, ok := doc[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, isNumber := v.(json.Number)
	if !isNumber {
		return time.Time{}, false, fail(CodeBadCredential, "JWT claim %q must be a NumericDate (a number)", name)
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return time.Time{}, false, fail(CodeBadCredential, "JWT claim %q is out of range", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

// checkTimes compares validFrom/validUntil and nbf/exp with now.
func checkTimes(doc map[string]any, now time.Time) error {
	if now.IsZero() {
		return nil
	}
	for _, read := range []struct {
		name string
		get  func(map[string]any, string) (time.Time, bool, error)
	}{{"validFrom", dateMember}, {"nbf", numericDate}} {
		t, ok, err := read.get(doc, read.name)
		if err != nil {
			return err
		}
		if ok && now.Before(t) {
			return fail(CodeNotYetValid, "%s is %s, now is %s", read.name, t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	if t, ok, err := dateMember(doc, "validUntil"); err != nil {
		return err
	} else if ok && now.After(t) {
		return fail(CodeExpired, "validUntil is %s, now is %s", t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if t, ok, err := numericDate(doc, "exp"); err != nil {
		return err
	} else if ok && !now.Before(t) {
		return fail(CodeExpired, "exp is %s, now is %s", t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// Enveloped is one credential of a presentation, secured on its own and
// carried as a data: URL in an EnvelopedVerifiableCredential.
type Enveloped struct {
	MediaType string  // e.g. "application/vc+jwt"
	Data      string  // what follows the comma: for vc+jwt the compact JWS
	Result    *Result // its verification; nil when VerifyOptions.SkipEnvelopedCredentials
}

// MediaTypeEnvelopedJWT is the data: URL media type of an enveloped vc+jwt.
const MediaTypeEnvelopedJWT = "application/vc+jwt"

// envelopes lists the credentials of a presentation. VC-JOSE-COSE requires
// each to be secured, so each must be an EnvelopedVerifiableCredential whose
// id is a data: URL.
func envelopes(doc map[string]any) ([]Enveloped, error) {
	v, ok := doc["verifiableCredential"]
	if !ok {
		return nil, nil
	}
	entries, isArray := v.([]any)
	if !isArray {
		entries = []any{v}
	}
	out := make([]Enveloped, 0, len(entries))
	for i, entry := range entries {
		obj, isObject := entry.(map[string]any)
		if !isObject {
			return nil, fail(CodeBadCredential, "verifiableCredential[%d] is not an object", i)
		}
		types, err := stringOrStrings(obj["type"])
		if err != nil || !slices.Contains(types, TypeEnvelopedCredential) {
			return nil, fail(CodeBadCredential, "verifiableCredential[%d] is not an %s (credentials in a presentation must be secured)", i, TypeEnvelopedCredential)
		}
		id, _ := obj["id"].(string)
		mediaType, data, err := parseDataURL(id)
		if err != nil {
			return nil, fail(CodeBadCredential, "verifiableCredential[%d].id: %v", i, err)
		}
		out = append(out, Enveloped{MediaType: mediaType, Data: data})
	}
	return out, nil
}

// parseDataURL splits "data:<media type>[;params],<data>" (RFC 2397) and
// returns the media type in lower case without its parameters. An
// application/vc+jwt URL must have no parameters: its data is the compact
// JWS itself, so a ";base64" would change what the data means.
func parseDataURL(s string) (mediaType, data string, err error) {
	const scheme = "data:"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return "", "", fmt.Errorf("not a data: URL")
	}
	meta, data, found := strings.Cut(s[len(scheme):], ",")
	if !found {
		return "", "", fmt.Errorf("data: URL without a comma")
	}
	mediaType, params, _ := strings.Cut(meta, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	if mediaType == "" {
		return "", "", fmt.Errorf("data: URL without a media type")
	}
	if mediaType == MediaTypeEnvelopedJWT && params != "" {
		return "", "", fmt.Errorf("data: URL of %s must have no parameters, has %q", mediaType, params)
	}
	return mediaType, data, nil
}

func stringOrStrings(v any) ([]string, error) {
	switch t := v.(type) {
	case string:
		return []string{t}, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("not a string")
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("not a string or an array of strings")
	}
}
