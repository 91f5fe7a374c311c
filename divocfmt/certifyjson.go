package divocfmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// JSONOptions limits ParseCertifyJSON.
type JSONOptions struct {
	// MaxItems is the most array elements accepted; one more is the fatal
	// error too_many_items. 0 means DefaultMaxItems; a negative value, no limit.
	MaxItems int
}

// ParseCertifyJSON reads DIVOC's certify request: a JSON array of
// CertificationRequest objects. Malformed JSON, input that is not UTF-8, a
// top level that is not an array, nesting deeper than 32 levels, too many
// elements, and an object that repeats a key (anywhere) are fatal
// *FileErrors with the byte offset. Each element becomes a Certificate or,
// when anything in it is wrong, RowErrors whose Row is the element's index
// and whose Field is a JSON path such as "[3].vaccination.dose". The rules
// are those of ParseBulkCSV. Unknown fields are ignored. Numbers are
// accepted as strings and strings of digits as numbers; the mobile number is
// the first "tel:" entry of recipient.contact.
func ParseCertifyJSON(data []byte, opts JSONOptions) ([]Certificate, []RowError, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	if !utf8.Valid(data) {
		off := firstInvalidUTF8(data)
		return nil, nil, jsonError(CodeInvalidEncoding, int64(off), nil, "the input is not UTF-8 (first bad byte at offset %d)", off)
	}
	maxItems := opts.MaxItems
	if maxItems == 0 {
		maxItems = DefaultMaxItems
	}
	p := &jsonReader{dec: json.NewDecoder(bytes.NewReader(data)), size: int64(len(data))}
	p.dec.UseNumber()

	tok, err := p.dec.Token()
	if err != nil {
		return nil, nil, p.syntaxError(err)
	}
	if tok != json.Delim('[') {
		return nil, nil, jsonError(CodeNotAnArray, 0, nil, "the request must be a JSON array of certification requests (wrap a single request in [ ])")
	}
	var certs []Certificate
	var rowErrs []RowError
	for i := 0; p.dec.More(); i++ {
		if maxItems > 0 && i >= maxItems {
			return nil, nil, jsonError(CodeTooManyItems, p.dec.InputOffset(), nil, "the array has more than %d elements; split the request", maxItems)
		}
		v, err := p.value(fmt.Sprintf("[%d]", i), 1)
		if err != nil {
			return nil, nil, err
		}
		cert, errs := certificateFromJSON(i, v)
		if len(errs) > 0 {
			rowErrs = append(rowErrs, errs...)
			continue
		}
		certs = append(certs, cert)
	}
	if _, err := p.dec.Token(); err != nil { // the closing ]
		return nil, nil, p.syntaxError(err)
	}
	if _, err := p.dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, p.syntaxError(err)
		}
		return nil, nil, jsonError(CodeInvalidJSON, p.dec.InputOffset(), nil, "data after the end of the array")
	}
	return certs, rowErrs, nil
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// jvalue is a decoded JSON value: enough to validate a request and name the
// path of any problem.
type jvalue struct {
	kind   jkind
	text   string             // string value or number text
	items  []*jvalue          // array
	fields map[string]*jvalue // object
}

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// jsonReader builds jvalues from a token stream, refusing duplicate keys:
// encoding/json would silently keep the last of two, and match keys without
// regard to case, so two readers of the same request could disagree.
type jsonReader struct {
	dec  *json.Decoder
	size int64
}

func (p *jsonReader) value(path string, depth int) (*jvalue, error) {
	if depth > maxJSONDepth {
		return nil, jsonError(CodeTooDeep, p.dec.InputOffset(), nil, "%s: JSON nested deeper than %d levels", path, maxJSONDepth)
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntaxError(err)
	}
	switch tok := tok.(type) {
	case nil:
		return &jvalue{kind: jNull}, nil
	case bool:
		return &jvalue{kind: jBool}, nil
	case json.Number:
		return &jvalue{kind: jNumber, text: string(tok)}, nil
	case string:
		return &jvalue{kind: jString, text: tok}, nil
	case json.Delim:
		if tok == '[' {
			return p.array(path, depth)
		}
		return p.object(path, depth)
	}
	return nil, jsonError(CodeInvalidJSON, p.dec.InputOffset(), nil, "%s: unexpected token", path)
}

func (p *jsonReader) array(path string, depth int) (*jvalue, error) {
	v := &jvalue{kind: jArray}
	for i := 0; p.dec.More(); i++ {
		item, err := p.value(fmt.Sprintf("%s[%d]", path, i), depth+1)
		if err != nil {
			return nil, err
		}
		v.items = append(v.items, item)
	}
	return v, p.closing()
}

func (p *jsonReader) object(path string, depth int) (*jvalue, error) {
	v := &jvalue{kind: jObject, fields: map[string]*jvalue{}}
	seen := map[string]string{} // lower-cased key -> key
	for p.dec.More() {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.syntaxError(err)
		}
		key, _ := tok.(string)
		folded := strings.ToLower(key)
		if first, dup := seen[folded]; dup {
			return nil, jsonError(CodeDuplicateKey, p.dec.InputOffset(), []string{key},
				"%s: key %q appears twice in the same object (as %q before; keys that differ only in case count as the same, since some decoders match them)",
				path, key, first)
		}
		seen[folded] = key
		field, err := p.value(path+"."+key, depth+1)
		if err != nil {
			return nil, err
		}
		v.fields[key] = field
	}
	return v, p.closing()
}

// closing reads the ] or } that ends an array or object.
func (p *jsonReader) closing() error {
	if _, err := p.dec.Token(); err != nil {
		return p.syntaxError(err)
	}
	return nil
}

func (p *jsonReader) syntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return jsonError(CodeInvalidJSON, se.Offset, nil, "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return jsonError(CodeInvalidJSON, p.size, nil, "the JSON ends early, at byte %d (truncated?)", p.size)
	}
	return jsonError(CodeInvalidJSON, p.dec.InputOffset(), nil, "malformed JSON at byte %d: %v", p.dec.InputOffset(), err)
}

// jsonFields are the bulk-CSV columns and programId, with their paths in a
// CertificationRequest; jsonPaths maps a column to its path.
var (
	jsonFields = append([]bulkField{{"programId", "programId"}}, bulkFields...)
	jsonPaths  = func() map[string]string {
		m := map[string]string{}
		for _, f := range jsonFields {
			m[f.col] = f.json
		}
		return m
	}()
)

// certificateFromJSON validates element i of a certify request.
func certificateFromJSON(i int, v *jvalue) (Certificate, []RowError) {
	prefix := fmt.Sprintf("[%d]", i)
	if v.kind != jObject {
		return Certificate{}, []RowError{{Row: i, Field: prefix, Code: CodeInvalidType,
			Message: fmt.Sprintf("expected an object (a certification request), found %s", v.kind)}}
	}
	x := jsonExtract{row: i, prefix: prefix, vals: map[string]string{}, skip: map[string]bool{}, reported: map[string]bool{}}
	for _, f := range jsonFields {
		x.extract(v, f.col, f.json)
	}
	c := rowChecker{
		row:   i,
		get:   func(col string) string { return x.vals[col] },
		field: func(col string) string { return prefix + "." + jsonPaths[col] },
		skip:  x.skip,
	}
	cert := c.certificate()
	cert.ProgramID, _ = c.text("programId")
	return cert, append(x.errs, c.errs...)
}

// jsonExtract turns the values of one request into the strings the
// rowChecker reads, reporting values of the wrong type.
type jsonExtract struct {
	row      int
	prefix   string
	vals     map[string]string
	skip     map[string]bool // columns with a type error
	reported map[string]bool // paths already reported
	errs     []RowError
}

func (x *jsonExtract) typeError(col, path string, found jkind, want string) {
	x.skip[col] = true
	if x.reported[path] {
		return
	}
	x.reported[path] = true
	x.errs = append(x.errs, RowError{Row: x.row, Field: x.prefix + "." + path, Code: CodeInvalidType,
		Message: fmt.Sprintf("expected %s, found %s", want, found)})
}

func (x *jsonExtract) extract(root *jvalue, col, path string) {
	node := root
	keys := strings.Split(path, ".")
	for j, key := range keys {
		if node.kind == jNull {
			return
		}
		if node.kind != jObject {
			x.typeError(col, strings.Join(keys[:j], "."), node.kind, "an object")
			return
		}
		next, ok := node.fields[key]
		if !ok {
			return
		}
		node = next
	}
	if col == "recipientMobileNumber" {
		x.contact(node, col, path)
		return
	}
	switch node.kind {
	case jNull:
	case jString, jNumber:
		x.vals[col] = strings.TrimSpace(node.text)
	default:
		x.typeError(col, path, node.kind, "a string")
	}
}

// contact takes the mobile number from the first "tel:" entry of the
// recipient's contact list (a single string is accepted as a list of one).
func (x *jsonExtract) contact(node *jvalue, col, path string) {
	items := []*jvalue{node}
	switch node.kind {
	case jNull:
		return
	case jArray:
		items = node.items
	case jString:
	default:
		x.typeError(col, path, node.kind, `an array of strings such as "tel:9876543210"`)
		return
	}
	for j, item := range items {
		if item.kind != jString {
			x.typeError(col, fmt.Sprintf("%s[%d]", path, j), item.kind, "a string")
			return
		}
		if tel, ok := strings.CutPrefix(strings.TrimSpace(item.text), "tel:"); ok {
			x.vals[col] = strings.TrimSpace(tel)
			return
		}
	}
}
