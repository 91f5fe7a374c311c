package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/divoc/divoc/divocfmt"
)

// The OpenAPI document is read with a small parser of the block-style YAML
// subset it is written in (mappings, sequences, block scalars): enough to
// walk paths, operations and responses and to follow $refs, without a YAML
// dependency. A document it cannot read fails the tests.

// ynode is one "key: value" line (or "- item" line) of the document, with
// the lines indented below it as children.
type ynode struct {
	key, value string
	indent     int
	line       int // 1-based, for messages
	kids       []*ynode
	lines      []string // the node's own line and everything below it
}

func (n *ynode) child(key string) *ynode {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.key == key {
			return k
		}
	}
	return nil
}

// path follows keys from n.
func (n *ynode) path(keys ...string) *ynode {
	for _, k := range keys {
		n = n.child(k)
	}
	return n
}

// refs returns every $ref target in the node's subtree.
func (n *ynode) refs() []string {
	var out []string
	for _, l := range n.lines {
		if m := refRE.FindStringSubmatch(l); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

var (
	keyRE = regexp.MustCompile(`^(.+?):(?:\s+(.*))?$`)
	refRE = regexp.MustCompile(`\$ref:\s*["']?(#/[^"'\s]+)["']?\s*$`)
)

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// parseYAML builds the tree of the document. It refuses tabs and lines it
// cannot read.
func parseYAML(doc string) (*ynode, error) {
	root := &ynode{indent: -1}
	stack := []*ynode{root}
	src := strings.Split(doc, "\n")
	scalarIndent := -1 // inside a block scalar, the indent of its key
	for i, raw := range src {
		if strings.Contains(raw, "\t") {
			return nil, fmt.Errorf("openapi.yaml:%d: a tab", i+1)
		}
		trimmed := strings.TrimSpace(raw)
		indent := len(raw) - len(strings.TrimLeft(raw, " "))
		if trimmed == "" {
			for _, n := range stack {
				n.lines = append(n.lines, raw)
			}
			continue
		}
		if scalarIndent >= 0 {
			if indent > scalarIndent {
				for _, n := range stack {
					n.lines = append(n.lines, raw)
				}
				continue
			}
			scalarIndent = -1
		}
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		for len(stack) > 1 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		n := &ynode{indent: indent, line: i + 1}
		body := trimmed
		if item, ok := strings.CutPrefix(trimmed, "-"); ok && (item == "" || item[0] == ' ') {
			n.key, body = "-", strings.TrimSpace(item)
			n.value = body
		} else {
			m := keyRE.FindStringSubmatch(trimmed)
			if m == nil {
				return nil, fmt.Errorf("openapi.yaml:%d: cannot read %q", i+1, raw)
			}
			n.key, n.value = unquote(m[1]), strings.TrimSpace(m[2])
		}
		if v := n.value; v == "|" || v == "|-" || v == ">" || v == ">-" || strings.HasSuffix(body, ": |") || strings.HasSuffix(body, ": >") {
			scalarIndent = indent
		}
		parent := stack[len(stack)-1]
		parent.kids = append(parent.kids, n)
		stack = append(stack, n)
		for _, s := range stack {
			s.lines = append(s.lines, raw)
		}
	}
	return root, nil
}

type operation struct {
	path, method string
	node         *ynode
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadDoc(t *testing.T) (*ynode, []operation) {
	t.Helper()
	doc, ops, err := readDoc(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	return doc, ops
}

func readDoc(src []byte) (*ynode, []operation, error) {
	if len(src) == 0 {
		return nil, nil, fmt.Errorf("api/openapi.yaml is empty")
	}
	doc, err := parseYAML(string(src))
	if err != nil {
		return nil, nil, err
	}
	if v := doc.child("openapi"); v == nil || !strings.HasPrefix(unquote(v.value), "3.0.") {
		return nil, nil, fmt.Errorf("the document does not declare openapi: 3.0.x")
	}
	paths := doc.child("paths")
	if paths == nil {
		return nil, nil, fmt.Errorf("the document has no paths")
	}
	var ops []operation
	for _, p := range paths.kids {
		for _, m := range p.kids {
			if slices.Contains(httpMethods, m.key) {
				ops = append(ops, operation{path: p.key, method: m.key, node: m})
			}
		}
	}
	return doc, ops, nil
}

// resolve follows a local $ref ("#/components/responses/X").
func resolve(doc *ynode, ref string) *ynode {
	keys := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
	return doc.path(keys...)
}

// Every route of the table is documented under its path and method, and
// every documented operation is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	_, ops := loadDoc(t)
	for _, p := range routeDrift(ops, Routes) {
		t.Error(p)
	}
}

// The check above catches a route added without docs, and docs left behind
// by a removed route.
func TestOpenAPIRouteDriftIsCaught(t *testing.T) {
	_, ops := loadDoc(t)
	added := append(slices.Clone(Routes), Route{Method: "DELETE", Pattern: "/v1/uploads/{id}", Summary: "Forget an upload"})
	if p := routeDrift(ops, added); len(p) != 1 || !strings.Contains(p[0], "DELETE /v1/uploads/{id} is not in") {
		t.Errorf("an undocumented route: %q", p)
	}
	removed := slices.DeleteFunc(slices.Clone(Routes), func(r Route) bool { return r.Pattern == "/v1/verify" })
	if p := routeDrift(ops, removed); len(p) != 1 || !strings.Contains(p[0], "POST /v1/verify, which is not a route") {
		t.Errorf("a stale entry: %q", p)
	}
	doc := strings.Replace(string(OpenAPI()), "  /v1/trust/jwks:\n    get:", "  /v1/trust/jwks:\n    post:", 1)
	_, ops2, err := readDoc([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if p := routeDrift(ops2, Routes); len(p) != 2 {
		t.Errorf("a wrong method: %q", p)
	}
}

func routeDrift(ops []operation, routes []Route) []string {
	var problems []string
	documented := map[string]operation{}
	for _, op := range ops {
		k := strings.ToUpper(op.method) + " " + op.path
		if _, dup := documented[k]; dup {
			problems = append(problems, k+" is documented twice")
		}
		documented[k] = op
	}
	known := map[string]bool{}
	for _, rt := range routes {
		k := rt.Method + " " + rt.Pattern
		known[k] = true
		op, ok := documented[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("route %s is not in api/openapi.yaml (add it under paths: %q: %s:)", k, rt.Pattern, strings.ToLower(rt.Method)))
			continue
		}
		sum := op.node.child("summary")
		if sum == nil || unquote(sum.value) == "" {
			problems = append(problems, k+" has no summary")
		} else if got := unquote(sum.value); got != rt.Summary {
			problems = append(problems, fmt.Sprintf("%s: summary %q, the route table says %q", k, got, rt.Summary))
		}
		if op.node.child("responses") == nil {
			problems = append(problems, k+" has no responses")
		}
	}
	var stale []string
	for k := range documented {
		if !known[k] {
			stale = append(stale, "api/openapi.yaml documents "+k+", which is not a route")
		}
	}
	sort.Strings(stale)
	return append(problems, stale...)
}

// isProblemResponse reports whether a response (inline or a $ref to
// components/responses) is an application/problem+json Problem.
func isProblemResponse(doc, resp *ynode) bool {
	if r := resp.child("$ref"); r != nil {
		resp = resolve(doc, unquote(r.value))
	}
	schema := resp.path("content", "application/problem+json", "schema", "$ref")
	return schema != nil && unquote(schema.value) == "#/components/schemas/Problem"
}

// Every operation documents a client error, and every 4xx and 5xx response
// is a Problem.
func TestOpenAPIErrorsAreProblems(t *testing.T) {
	doc, ops := loadDoc(t)
	if doc.path("components", "schemas", "Problem") == nil {
		t.Fatal("no Problem schema in components")
	}
	for _, op := range ops {
		name := strings.ToUpper(op.method) + " " + op.path
		client := 0
		for _, r := range op.node.child("responses").kidsOrNil() {
			status := strings.ToUpper(r.key)
			if !strings.HasPrefix(status, "4") && !strings.HasPrefix(status, "5") {
				continue
			}
			if !isProblemResponse(doc, r) {
				t.Errorf("%s: response %s (line %d) is not application/problem+json with the Problem schema", name, r.key, r.line)
				continue
			}
			if strings.HasPrefix(status, "4") {
				client++
			}
		}
		if client == 0 {
			t.Errorf("%s documents no 4xx response with the Problem schema", name)
		}
	}
}

// Every $ref points at something in the document.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc, _ := loadDoc(t)
	refs := doc.refs()
	if len(refs) == 0 {
		t.Fatal("no $ref found: the parser or the document is broken")
	}
	for _, ref := range refs {
		if resolve(doc, ref) == nil {
			t.Errorf("$ref %s points nowhere", ref)
		}
	}
}

// Each {name} in a path is declared as a path parameter of each operation,
// and only those are.
func TestOpenAPIPathParameters(t *testing.T) {
	doc, ops := loadDoc(t)
	braces := regexp.MustCompile(`\{([^}]+)\}`)
	for _, op := range ops {
		name := strings.ToUpper(op.method) + " " + op.path
		var want []string
		for _, m := range braces.FindAllStringSubmatch(op.path, -1) {
			want = append(want, m[1])
		}
		var got []string
		params := append(slices.Clone(op.node.child("parameters").kidsOrNil()), doc.path("paths", op.path, "parameters").kidsOrNil()...)
		for _, p := range params {
			param := p
			if strings.HasPrefix(p.value, "$ref:") {
				param = resolve(doc, unquote(strings.TrimSpace(strings.TrimPrefix(p.value, "$ref:"))))
				if param == nil {
					t.Errorf("%s: parameter %s points nowhere", name, p.value)
					continue
				}
			}
			in, pname := paramField(param, "in"), paramField(param, "name")
			if in == "path" {
				got = append(got, pname)
				if paramField(param, "required") != "true" {
					t.Errorf("%s: path parameter %s is not required: true", name, pname)
				}
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(want, got) {
			t.Errorf("%s: path parameters %v are declared as %v", name, want, got)
		}
	}
}

func (n *ynode) kidsOrNil() []*ynode {
	if n == nil {
		return nil
	}
	return n.kids
}

// paramField reads a member of a parameter, whether it is a components
// entry or a sequence item ("- name: id" puts the first member on the
// item's line).
func paramField(p *ynode, key string) string {
	if p.key == "-" {
		if m := keyRE.FindStringSubmatch(p.value); m != nil && unquote(m[1]) == key {
			return unquote(m[2])
		}
	}
	if c := p.child(key); c != nil {
		return unquote(c.value)
	}
	return ""
}

// Each operation's security matches who may call the route.
func TestOpenAPISecurityMatchesAuth(t *testing.T) {
	doc, ops := loadDoc(t)
	for _, s := range []string{"facilitySignature", "facilityToken", "adminToken"} {
		if doc.path("components", "securitySchemes", s) == nil {
			t.Errorf("security scheme %s is not defined", s)
		}
	}
	if sig := doc.path("components", "securitySchemes", "facilitySignature", "name"); sig == nil || unquote(sig.value) != HeaderSignature {
		t.Errorf("the facilitySignature scheme must name the header %s", HeaderSignature)
	}
	want := map[string][]string{"public": nil, "facility": {"facilitySignature", "facilityToken"}, "admin": {"adminToken"}, "holder": {"adminToken", "facilityToken"}}
	byKey := map[string]operation{}
	for _, op := range ops {
		byKey[strings.ToUpper(op.method)+" "+op.path] = op
	}
	for _, rt := range Routes {
		op, ok := byKey[rt.Method+" "+rt.Pattern]
		if !ok {
			continue // reported by TestOpenAPIMatchesRoutes
		}
		var got []string
		if sec := op.node.child("security"); sec != nil {
			for _, item := range sec.kids {
				if m := keyRE.FindStringSubmatch(item.value); m != nil {
					got = append(got, unquote(m[1]))
				}
			}
		}
		if !slices.Equal(got, want[rt.Auth]) {
			t.Errorf("%s %s (auth %s): security %v, want %v", rt.Method, rt.Pattern, rt.Auth, got, want[rt.Auth])
		}
	}
}

// The Problem schema's description lists the stable codes.
func TestOpenAPIProblemCodes(t *testing.T) {
	doc, _ := loadDoc(t)
	p := doc.path("components", "schemas", "Problem")
	if p == nil {
		t.Fatal("no Problem schema")
	}
	text := strings.Join(p.lines, "\n")
	for _, field := range []string{"status", "type", "title", "code", "detail", "field", "row", "rule", "errors"} {
		if p.path("properties", field) == nil {
			t.Errorf("Problem has no property %s", field)
		}
	}
	codes := []string{CodeBadRequest, CodeUnauthenticated, CodeForbidden, CodeNotFound, CodeMethodNotAllowed, CodeTooLarge, CodeUnsupported,
		CodeBusy, CodeTimeout, CodeInternal, CodeNoValidRows,
		divocfmt.CodeEmptyFile, divocfmt.CodeMissingColumns, divocfmt.CodeUnknownColumns, divocfmt.CodeDuplicateColumns,
		divocfmt.CodeTooManyRows, divocfmt.CodeInvalidJSON, divocfmt.CodeDuplicateKey, divocfmt.CodeNotAnArray,
		divocfmt.CodeTooManyItems, divocfmt.CodeTooDeep, divocfmt.CodeReadFailed, divocfmt.CodeCSVSyntax, divocfmt.CodeInvalidEncoding}
	for _, c := range codes {
		if !strings.Contains(text, "`"+c+"`") {
			t.Errorf("the Problem schema's description does not list the code %s", c)
		}
	}
	rowErr := doc.path("components", "schemas", "RowError")
	b, _ := json.Marshal(divocfmt.RowError{})
	var members map[string]any
	if err := json.Unmarshal(b, &members); err != nil || len(members) != 4 {
		t.Fatalf("divocfmt.RowError marshals as %s", b)
	}
	for field := range members {
		if rowErr.path("properties", field) == nil {
			t.Errorf("RowError has no property %s (the member divocfmt.RowError marshals)", field)
		}
	}
}

// The parser itself: what the tests above rely on.
func TestOpenAPIParser(t *testing.T) {
	doc, err := parseYAML(strings.Join([]string{
		"a:",
		"  b: |",
		"    not: a key",
		"  c: 'x: y'",
		"  d:",
		"    - name: id",
		"      in: path",
		"    - $ref: \"#/a/c\"",
		"  \"4XX\":",
		"    e: 1",
	}, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if doc.path("a", "b", "not") != nil {
		t.Error("block scalar read as keys")
	}
	if c := doc.path("a", "c"); c == nil || unquote(c.value) != "x: y" {
		t.Errorf("a.c = %+v", c)
	}
	d := doc.path("a", "d")
	if d == nil || len(d.kids) != 2 || paramField(d.kids[0], "name") != "id" || paramField(d.kids[0], "in") != "path" {
		t.Fatalf("sequence: %+v", d)
	}
	if got := doc.refs(); !slices.Equal(got, []string{"#/a/c"}) {
		t.Errorf("refs %v", got)
	}
	if got := doc.path("a", "b").refs(); len(got) != 0 {
		t.Errorf("refs under a.b: %v", got)
	}
	if doc.path("a", "4XX", "e") == nil {
		t.Error("quoted key")
	}
}

// The node serves the document it embeds.
func TestOpenAPIServed(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/yaml" || string(body) != string(OpenAPI()) {
		t.Fatalf("GET /openapi.yaml: %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
	resp, err = http.Get(srv.URL + "/no/such/route")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown route: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
}
