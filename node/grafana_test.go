package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The Grafana dashboard in docs/grafana queries the node's Prometheus
// metrics; these tests keep it from drifting from what /metrics serves.
const grafanaDashboard = "../docs/grafana/divoc.json"

var (
	promString  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promLabels  = regexp.MustCompile(`\{[^}]*\}`)
	promRange   = regexp.MustCompile(`\[[^\]]*\]`)
	promGroup   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promVar     = regexp.MustCompile(`\$\{?\w+\}?`)
	promIdent   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelValues = regexp.MustCompile(`^\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)
	promWords   = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "Inf", "NaN"}
)

// promMetrics returns the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges, grouping labels
// and Grafana variables are taken out, that are neither functions nor
// keywords.
func promMetrics(expr string) []string {
	s := promString.ReplaceAllString(expr, `""`)
	s = promLabels.ReplaceAllString(s, " ")
	s = promRange.ReplaceAllString(s, " ")
	s = promGroup.ReplaceAllString(s, " ")
	s = promVar.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsRune("0123456789.", rune(s[loc[0]-1])) {
			continue // the exponent of a number (1e6)
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " "), "(") || slices.Contains(promWords, name) {
			continue // a function, or a keyword
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// exposedMetrics reads the names of a Prometheus text exposition: each
// family's name, with _bucket, _sum and _count for histograms and
// summaries, and each sample's.
func exposedMetrics(text string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 {
				continue
			}
			out[f[0]] = true
			switch f[1] {
			case "histogram":
				out[f[0]+"_bucket"], out[f[0]+"_sum"], out[f[0]+"_count"] = true, true, true
			case "summary":
				out[f[0]+"_sum"], out[f[0]+"_count"] = true, true
			}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			out[line[:i]] = true
		}
	}
	return out
}

// grafanaPanel is what the checks read of a panel.
type grafanaPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

// grafanaDrift lists what is wrong with a dashboard: a metric its queries
// use that the exposition lacks, a panel without a query or a data source,
// a duplicate panel id, a panel off the 24-column grid.
func grafanaDrift(doc []byte, exposed map[string]bool) []string {
	var d struct {
		UID        string         `json:"uid"`
		Title      string         `json:"title"`
		Panels     []grafanaPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&d); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var problems []string
	if d.UID == "" || d.Title == "" {
		problems = append(problems, "the dashboard needs a uid and a title")
	}
	uses := map[string][]string{} // metric -> where
	seen := map[int]bool{}
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if seen[p.ID] {
				problems = append(problems, where+": duplicate id")
			}
			seen[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
				problems = append(problems, fmt.Sprintf("%s: gridPos %+v is off the 24-column grid", where, p.GridPos))
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				problems = append(problems, where+": the data source must be the ${datasource} variable")
			}
			if len(p.Targets) == 0 {
				problems = append(problems, where+": no query")
			}
			for _, tg := range p.Targets {
				ms := promMetrics(tg.Expr)
				if len(ms) == 0 {
					problems = append(problems, fmt.Sprintf("%s: no metric in %q", where, tg.Expr))
				}
				for _, m := range ms {
					uses[m] = append(uses[m], where)
				}
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		var q struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &q) != nil {
			json.Unmarshal(v.Query, &q.Query)
		}
		if m := labelValues.FindStringSubmatch(q.Query); m != nil {
			uses[m[1]] = append(uses[m[1]], "variable "+v.Name)
		}
	}
	if len(uses) == 0 {
		problems = append(problems, "the dashboard queries no metric")
	}
	var missing []string
	for m, where := range uses {
		if !exposed[m] {
			missing = append(missing, fmt.Sprintf("metric %s (%s) is not in the node's /metrics", m, strings.Join(where, ", ")))
		}
	}
	sort.Strings(missing)
	return append(problems, missing...)
}

func TestGrafanaPromQLParsing(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (code) (increase(divoc_events_total{instance="$instance",code!="ok"}[$__range]))`:                      {"divoc_events_total"},
		`histogram_quantile(0.95, sum by (le, route) (rate(divoc_http_request_duration_seconds_bucket[5m])))`:          {"divoc_http_request_duration_seconds_bucket"},
		`sum(rate(divoc_feedback_total[1h])) * 3600 / 1e6 + on(instance) group_left divoc_block_height or vector(0)`:   {"divoc_feedback_total", "divoc_block_height"},
		`deriv(divoc_block_height{job="a{b}"}[5m]) * 60 > bool 2`:                                                      {"divoc_block_height"},
		`sum without (instance) (up) unless absent(divoc_doses_total{vaccine="COVAXIN"}) offset 5m`:                    {"up", "divoc_doses_total"},
		`topk(5, sum by (program, vaccine) (divoc_doses_total)) and ignoring(x) divoc_aefi_total{seriousness="death"}`: {"divoc_doses_total", "divoc_aefi_total"},
	} {
		if got := promMetrics(expr); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", expr, got, want)
		}
	}
	exp := exposedMetrics("# HELP a_seconds x\n# TYPE a_seconds histogram\na_seconds_bucket{le=\"1\"} 1\n# TYPE b_total counter\nb_total{code=\"ok\"} 3\nc 1\n")
	for _, m := range []string{"a_seconds", "a_seconds_bucket", "a_seconds_sum", "a_seconds_count", "b_total", "c"} {
		if !exp[m] {
			t.Errorf("exposition: %s missing", m)
		}
	}
}

// Every metric the Grafana dashboard queries is one the node serves, once
// it has done what each metric counts (uploads with bad rows, a
// revocation, feedback, a serious report that opens a safety signal).
func TestGrafanaDashboardMatchesMetrics(t *testing.T) {
	doc, err := os.ReadFile(grafanaDashboard)
	if err != nil {
		t.Fatal(err)
	}
	d := startDashDemo(t)
	d.counted(t)
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exposed := exposedMetrics(string(text))
	for _, p := range grafanaDrift(doc, exposed) {
		t.Error(p)
	}

	// The check catches a renamed metric, and a query of none.
	drifted := bytes.Replace(doc, []byte("divoc_doses_total"), []byte("divoc_doses_given_total"), 1)
	if p := grafanaDrift(drifted, exposed); len(p) != 1 || !strings.Contains(p[0], "divoc_doses_given_total") {
		t.Errorf("a renamed metric: %q", p)
	}
	empty := bytes.Replace(doc, []byte(`"expr": "max(divoc_block_height{instance=\"$instance\"})"`), []byte(`"expr": "vector(1)"`), 1)
	if p := grafanaDrift(empty, exposed); len(p) != 1 || !strings.Contains(p[0], "no metric") {
		t.Errorf("a query of no metric: %q", p)
	}
}
