package vcjwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of header and payload JSON.
const maxJSONDepth = 64

// decodeSegment decodes one base64url segment of a compact JWS. It accepts
// only the unpadded base64url alphabet (the standard decoder would skip
// newlines) and canonical encodings (no stray bits in the last character).
func decodeSegment(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("character %q at offset %d is not base64url", c, i)
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// decodeObject parses data as exactly one JSON object in valid UTF-8, with
// no duplicate member names at any depth. Numbers stay json.Number.
func decodeObject(data []byte) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	if err := checkNoDuplicates(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return obj, nil
}

// decodeObjectTrusted is decodeObject without the duplicate-member walk,
// for JSON this program encoded itself.
func decodeObjectTrusted(data []byte) (map[string]any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return obj, nil
}

// checkNoDuplicates walks the JSON tokens of data and fails on a repeated
// member name in any object, on nesting deeper than maxJSONDepth, and on
// anything after the first value. Parsers disagree on which duplicate wins,
// so a signed document with duplicates could mean two things.
func checkNoDuplicates(data []byte) error {
	type frame struct {
		object    bool
		names     map[string]bool
		expectKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top == nil {
			values++
			if values > 1 {
				return errors.New("data after the JSON value")
			}
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if name, ok := tok.(string); ok && top != nil && top.object && top.expectKey {
			if top.names[name] {
				return fmt.Errorf("duplicate member name %q", name)
			}
			top.names[name] = true
			top.expectKey = false
			continue
		}
		// tok is a value: a scalar or the start of an object or array.
		if top != nil && top.object {
			top.expectKey = true
		}
		if d, ok := tok.(json.Delim); ok {
			if len(stack) >= maxJSONDepth {
				return fmt.Errorf("JSON nested deeper than %d", maxJSONDepth)
			}
			stack = append(stack, &frame{object: d == '{', names: map[string]bool{}, expectKey: true})
		}
	}
	if values == 0 {
		return errors.New("empty JSON")
	}
	return nil
}
