package divocld

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/piprate/json-gold/ld"
)

// The JSON-LD contexts a DIVOC certificate and its proof need, bundled so
// that verification never touches the network (see contexts/README.md for
// their sources and licences).
//
//go:embed contexts/*.jsonld
var contextFiles embed.FS

// Context URLs.
const (
	ContextCredentialsV1  = "https://www.w3.org/2018/credentials/v1"
	ContextVaccinationV1  = "https://divoc.dev/credentials/vaccination/v1"
	ContextVaccinationV2  = "https://divoc.dev/credentials/vaccination/v2"
	ContextSecurityV1     = "https://w3id.org/security/v1"
	ContextSecurityV2     = "https://w3id.org/security/v2"
	ContextEd25519Sig2018 = "https://w3id.org/security/suites/ed25519-2018/v1"
)

var bundledFiles = map[string]string{
	ContextCredentialsV1:  "contexts/credentials-v1.jsonld",
	ContextVaccinationV1:  "contexts/vaccination-v1.jsonld",
	ContextVaccinationV2:  "contexts/vaccination-v2.jsonld",
	ContextSecurityV1:     "contexts/security-v1.jsonld",
	ContextSecurityV2:     "contexts/security-v2.jsonld",
	ContextEd25519Sig2018: "contexts/ed25519-signature-2018-v1.jsonld",
}

// bundled holds the parsed bundled contexts. json-gold reads, and does not
// change, the documents a loader returns (its own caching loader shares
// them the same way), so one parsed copy serves every verification.
var bundled = mustParseBundled()

func mustParseBundled() map[string]any {
	out := map[string]any{}
	for url, file := range bundledFiles {
		data, err := contextFiles.ReadFile(file)
		if err != nil {
			panic("divocld: bundled context " + file + ": " + err.Error())
		}
		doc, err := parseContext(data)
		if err != nil {
			panic("divocld: bundled context " + file + ": " + err.Error())
		}
		out[url] = doc
	}
	return out
}

func parseContext(data []byte) (any, error) {
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if m, ok := doc.(map[string]any); !ok || m["@context"] == nil {
		return nil, fmt.Errorf("not a JSON-LD context document (no @context member)")
	}
	return doc, nil
}

// BundledContexts lists the context URLs the offline loader serves by default.
func BundledContexts() []string {
	urls := make([]string, 0, len(bundled))
	for u := range bundled {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	return urls
}

// Contexts is a set of context documents served by URL: the bundled ones
// plus any a deployment adds (for example the context of a national
// deployment of DIVOC under its own URL).
type Contexts struct {
	docs map[string]any
}

// NewContexts returns the bundled contexts plus extra (URL → context
// document JSON). An extra URL replaces a bundled one.
func NewContexts(extra map[string][]byte) (*Contexts, error) {
	docs := maps.Clone(bundled)
	for url, data := range extra {
		doc, err := parseContext(data)
		if err != nil {
			return nil, fmt.Errorf("divocld: context %s: %w", url, err)
		}
		docs[url] = doc
	}
	return &Contexts{docs: docs}, nil
}

var defaultContexts = &Contexts{docs: bundled}

// loader is the document loader of one verification: it serves the known
// contexts and refuses every other URL (no network), remembering the
// first one it refused so the failure can say which.
type loader struct {
	docs    map[string]any
	refused string
}

func (l *loader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	doc, ok := l.docs[u]
	if !ok {
		// A trailing '#' or a missing trailing '/' names the same document
		// for some publishers; they are still different URLs, and refused.
		if l.refused == "" {
			l.refused = u
		}
		return nil, ld.NewJsonLdError(ld.LoadingDocumentFailed, "offline loader: no bundled context for "+strings.TrimSpace(u))
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: doc}, nil
}
