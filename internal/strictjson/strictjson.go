// Package strictjson holds the two JSON rules every signed or uploaded
// document in this project follows: object keys are unique (encoding/json
// silently keeps the last of two, which lets two parsers disagree about what
// was signed), and canonical bytes (compact, no HTML escaping, fields in
// struct order) are what gets signed and hashed.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrDuplicateKey reports an object with the same key twice.
type ErrDuplicateKey struct {
	Key    string
	Offset int64
}

func (e *ErrDuplicateKey) Error() string {
	return fmt.Sprintf("duplicate key %q at byte %d", e.Key, e.Offset)
}

// CheckNoDuplicateKeys walks data and fails on the first object that repeats
// a key, or on malformed JSON. It does not allocate the decoded values.
func CheckNoDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walk(dec); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func walk(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '{':
		seen := map[string]struct{}{}
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := keyTok.(string)
			if _, dup := seen[key]; dup {
				return &ErrDuplicateKey{Key: key, Offset: dec.InputOffset()}
			}
			seen[key] = struct{}{}
			if err := walk(dec); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := walk(dec); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // closing delimiter
	return err
}

// Marshal returns the canonical encoding of v: compact, without HTML
// escaping, without a trailing newline. For structs whose fields are declared
// in lexical order of their JSON names and hold only strings, integers, bools,
// slices and such structs, this equals RFC 8785 (JCS).
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ErrNotCanonical is returned by UnmarshalCanonical when data decodes but is
// not byte-for-byte the canonical encoding of what it decodes to (extra
// whitespace, unknown fields, duplicate keys, reordered fields, escapes).
var ErrNotCanonical = errors.New("not the canonical encoding")

// UnmarshalCanonical decodes data into v and requires that re-encoding v
// gives data back exactly. Unknown fields are refused.
func UnmarshalCanonical(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	again, err := Marshal(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, data) {
		return ErrNotCanonical
	}
	return nil
}
