package receipt

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/divoc/divoc/internal/strictjson"
)

// The ledger hashes a batch leaf as SHA-256(0x00 || canonical JSON of the
// leaf), where canonical is compact, without HTML escaping, with object
// keys in lexical order (the ledger's leaf structs declare their fields in
// that order, so its encoding and this one agree byte for byte).

// canonicalJSON re-encodes a JSON document canonically. Numbers keep their
// literal form (the ledger's are integers), so a number written otherwise
// gives other bytes and fails the leaf hash rather than being accepted.
func canonicalJSON(raw []byte) ([]byte, error) {
	if err := checkNoDuplicateKeys(raw); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON document")
	}
	return strictjson.Marshal(v)
}

// leafHash is the RFC 6962 leaf hash.
func leafHash(data []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	return h.Sum(nil)
}

// sameJSON reports whether two JSON documents have the same value.
func sameJSON(a, b []byte) bool {
	var va, vb any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// checkNoDuplicateKeys refuses a JSON document in which an object repeats
// a key (encoding/json keeps the last of two, another parser the first).
// It is a scanner over the bytes, much cheaper than a token decoder; it
// trusts the document to be valid JSON, which decoding it checks after.
func checkNoDuplicateKeys(data []byte) error {
	s := dupScanner{data: data}
	s.ws()
	if err := s.value(0); err != nil {
		return err
	}
	return nil
}

type dupScanner struct {
	data []byte
	i    int
}

var errBadJSON = errors.New("malformed JSON")

func (s *dupScanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str skips a string starting at s.i (a quote) and returns its raw body.
func (s *dupScanner) str() ([]byte, bool, error) {
	start := s.i + 1
	escaped := false
	for j := start; j < len(s.data); j++ {
		switch s.data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			s.i = j + 1
			return s.data[start:j], escaped, nil
		}
	}
	return nil, false, errBadJSON
}

func (s *dupScanner) value(depth int) error {
	if depth > 256 {
		return errors.New("JSON nested too deep")
	}
	if s.i >= len(s.data) {
		return errBadJSON
	}
	switch s.data[s.i] {
	case '{':
		s.i++
		var keys map[string]struct{}
		for {
			s.ws()
			if s.i < len(s.data) && s.data[s.i] == '}' {
				s.i++
				return nil
			}
			if s.i >= len(s.data) || s.data[s.i] != '"' {
				return errBadJSON
			}
			start := s.i
			raw, escaped, err := s.str()
			if err != nil {
				return err
			}
			key := string(raw)
			if escaped {
				if err := json.Unmarshal(s.data[start:s.i], &key); err != nil {
					return err
				}
			}
			if keys == nil {
				keys = map[string]struct{}{}
			}
			if _, dup := keys[key]; dup {
				return fmt.Errorf("duplicate key %q at byte %d", key, start)
			}
			keys[key] = struct{}{}
			s.ws()
			if s.i >= len(s.data) || s.data[s.i] != ':' {
				return errBadJSON
			}
			s.i++
			s.ws()
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.i < len(s.data) && s.data[s.i] == ',' {
				s.i++
			}
		}
	case '[':
		s.i++
		for {
			s.ws()
			if s.i < len(s.data) && s.data[s.i] == ']' {
				s.i++
				return nil
			}
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.i < len(s.data) && s.data[s.i] == ',' {
				s.i++
			} else if s.i < len(s.data) && s.data[s.i] != ']' {
				return errBadJSON
			}
		}
	case '"':
		_, _, err := s.str()
		return err
	default:
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			}
			s.i++
		}
		return nil
	}
}
