package dcc

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The DCC JSON schema 1.3 (ehn-dcc-development/eu-dcc-schema @ 9fe38ede,
// "Schema version 1.3.3", Apache-2.0, LICENSE beside it): the main schema
// and the three files its $refs name, registered under their $ids so that
// nothing is fetched.
//
//go:embed schema/*.json
var schemaFiles embed.FS

// SchemaID is the $id of the DCC schema the hcert is validated against.
const SchemaID = "https://id.uvci.eu/DCC.schema.json"

var schemaFileIDs = map[string]string{
	"schema/DCC.schema.json":            SchemaID,
	"schema/DCC.Core.Types.schema.json": "https://id.uvci.eu/DCC.Core.Types.schema.json",
	"schema/DCC.Types.schema.json":      "https://id.uvci.eu/DCC.Types.schema.json",
	"schema/DCC.ValueSets.schema.json":  "https://id.uvci.eu/DCC.ValueSets.schema.json",
}

// compileSchema compiles the embedded schema once. Formats ("date",
// "date-time") are annotations in draft 2020-12 and stay so here, as in
// the schema's own test suite and the EU reference runner; value sets are
// checked by their own step (StepValueSets).
var compileSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	for file, id := range schemaFileIDs {
		data, err := schemaFiles.ReadFile(file)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return c.Compile(SchemaID)
})

// ValidateSchema validates an hcert (its JSON form) against the DCC JSON
// schema 1.3.
func ValidateSchema(hcertJSON []byte) error {
	sch, err := compileSchema()
	if err != nil {
		return failWrap(CodeSchema, err, "the embedded DCC schema does not compile")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(hcertJSON))
	if err != nil {
		return failWrap(CodeSchema, err, "hcert is not JSON")
	}
	if err := sch.Validate(inst); err != nil {
		return failWrap(CodeSchema, err, "hcert does not validate against DCC schema 1.3")
	}
	return nil
}
