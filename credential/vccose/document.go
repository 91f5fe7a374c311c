package vccose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/divoc/divoc/credential/vcjwt"
	"github.com/divoc/divoc/internal/strictjson"
)

// VC Data Model 2.0 names this package checks.
const (
	ContextV2               = "https://www.w3.org/ns/credentials/v2"
	TypeCredential          = "VerifiableCredential"
	TypePresentation        = "VerifiablePresentation"
	TypeEnvelopedCredential = "EnvelopedVerifiableCredential"
)

// maxJSONDepth bounds the nesting of the payload.
const maxJSONDepth = 64

// decodeObject parses data as exactly one JSON object in valid UTF-8 with
// no duplicate member names at any depth; numbers stay json.Number.
func decodeObject(data []byte) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	if depth := jsonDepth(data); depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", maxJSONDepth)
	}
	if err := strictjson.CheckNoDuplicateKeys(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return obj, nil
}

// jsonDepth is the deepest nesting of brackets outside strings.
func jsonDepth(data []byte) int {
	depth, max, inString, escaped := 0, 0, false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			max = maxInt(max, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return max
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

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

// checkDocument checks what a VC Data Model 2.0 credential or presentation
// needs: the v2 context first, the right type, well-formed validity dates,
// an issuer and a subject (credential), and only enveloped credentials
// (presentation).
func checkDocument(doc map[string]any, k kind) error {
	contexts, isArray := doc["@context"].([]any)
	if !isArray {
		contexts = []any{doc["@context"]}
	}
	if len(contexts) == 0 || contexts[0] != ContextV2 {
		return fail(CodeBadCredential, "the first \"@context\" must be %q", ContextV2)
	}
	types, err := stringOrStrings(doc["type"])
	if err != nil || !slices.Contains(types, k.docType()) {
		return fail(CodeBadCredential, "%s: \"type\" must contain %q", k, k.docType())
	}
	for _, name := range []string{"validFrom", "validUntil"} {
		if _, _, err := dateMember(doc, name); err != nil {
			return err
		}
	}
	switch k {
	case kindCredential:
		if _, ok := doc["credentialSubject"]; !ok {
			return fail(CodeBadCredential, "credential has no \"credentialSubject\"")
		}
		if id, err := partyID(doc["issuer"]); err != nil || id == "" {
			return fail(CodeBadCredential, "credential needs an \"issuer\" (a URL or an object with an \"id\")")
		}
	case kindPresentation:
		if h, ok := doc["holder"]; ok {
			if _, err := partyID(h); err != nil {
				return fail(CodeBadCredential, "\"holder\": %v", err)
			}
		}
		if _, err := envelopes(doc); err != nil {
			return err
		}
	}
	return nil
}

func partyID(v any) (string, error) {
	switch p := v.(type) {
	case string:
		return p, nil
	case map[string]any:
		if s, ok := p["id"].(string); ok {
			return s, nil
		}
		return "", errors.New("object without a string \"id\"")
	case nil:
		return "", nil
	}
	return "", errors.New("must be a string or an object")
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
				return nil, errors.New("not a string")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errors.New("must be a string or an array of strings")
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

// checkTimes compares validFrom and validUntil with now (zero: skipped).
func checkTimes(doc map[string]any, now time.Time) error {
	if now.IsZero() {
		return nil
	}
	if t, ok, err := dateMember(doc, "validFrom"); err != nil {
		return err
	} else if ok && now.Before(t) {
		return fail(CodeNotYetValid, "validFrom is %s, now is %s", t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if t, ok, err := dateMember(doc, "validUntil"); err != nil {
		return err
	} else if ok && now.After(t) {
		return fail(CodeExpired, "validUntil is %s, now is %s", t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// Enveloped is one credential of a presentation, secured on its own and
// carried as a data: URL in an EnvelopedVerifiableCredential.
type Enveloped struct {
	MediaType string // "application/vc+cose", "application/vc+jwt", ...
	Data      string // what follows the comma
	Base64    bool   // the data URL said ";base64"
	// The verification, by media type; both nil when
	// VerifyOptions.SkipEnvelopedCredentials.
	COSE *Result
	JWT  *vcjwt.Result
}

// envelopes lists a presentation's credentials: each must be an
// EnvelopedVerifiableCredential whose id is a data: URL.
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
		env, err := parseDataURL(id)
		if err != nil {
			return nil, fail(CodeBadCredential, "verifiableCredential[%d].id: %v", i, err)
		}
		out = append(out, env)
	}
	return out, nil
}

// parseDataURL splits "data:<media type>[;params],<data>" (RFC 2397).
func parseDataURL(s string) (Enveloped, error) {
	const scheme = "data:"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return Enveloped{}, errors.New("not a data: URL")
	}
	meta, data, found := strings.Cut(s[len(scheme):], ",")
	if !found {
		return Enveloped{}, errors.New("data: URL without a comma")
	}
	parts := strings.Split(meta, ";")
	env := Enveloped{MediaType: strings.ToLower(strings.TrimSpace(parts[0])), Data: data}
	if env.MediaType == "" {
		return Enveloped{}, errors.New("data: URL without a media type")
	}
	for _, p := range parts[1:] {
		if strings.EqualFold(strings.TrimSpace(p), "base64") {
			env.Base64 = true
		}
	}
	return env, nil
}
