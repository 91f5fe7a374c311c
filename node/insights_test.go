package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/node"
)

// sseEvent is one Server-Sent Event as a client reads it.
type sseEvent struct {
	ID, Kind string
	Data     app.BlockEvent
}

// sseConn reads a stream: events on Events, and Following once the replay
// of committed blocks is over (the ": following from height" comment).
type sseConn struct {
	Events    chan sseEvent
	Following chan int64
	resp      *http.Response
}

func openStream(t *testing.T, base, query, lastID string) *sseConn {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/events/stream"+query, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("stream %s: %d %s", query, resp.StatusCode, b)
	}
	c := &sseConn{Events: make(chan sseEvent, 100000), Following: make(chan int64, 1), resp: resp}
	go func() {
		defer close(c.Events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ": following from height "):
				var h int64
				fmt.Sscan(strings.TrimPrefix(line, ": following from height "), &h)
				c.Following <- h
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.Kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data); err != nil {
					ev.Kind = "undecodable: " + err.Error()
				}
			case line == "" && ev.Kind != "":
				c.Events <- ev
				ev = sseEvent{}
			}
		}
	}()
	return c
}

func (c *sseConn) Close() { c.resp.Body.Close() }

// next reads n events (failing after a minute).
func (c *sseConn) next(t *testing.T, n int) []sseEvent {
	t.Helper()
	var out []sseEvent
	deadline := time.After(time.Minute)
	for len(out) < n {
		select {
		case ev, ok := <-c.Events:
			if !ok {
				t.Fatalf("the stream ended after %d of %d events", len(out), n)
			}
			out = append(out, ev)
		case <-deadline:
			t.Fatalf("%d of %d events in a minute", len(out), n)
		}
	}
	return out
}

// replayAll reads a stream from height 1 until the replay is over.
func replayAll(t *testing.T, base string) []sseEvent {
	t.Helper()
	c := openStream(t, base, "?from=1", "")
	defer c.Close()
	var out []sseEvent
	for {
		select {
		case ev := <-c.Events:
			out = append(out, ev)
		case <-c.Following:
			// Events are written before the comment; drain what was read.
			for {
				select {
				case ev := <-c.Events:
					out = append(out, ev)
				default:
					return out
				}
			}
		case <-time.After(time.Minute):
			t.Fatal("no end of replay in a minute")
		}
	}
}

func ids(evs []sseEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID + " " + e.Kind + " " + e.Data.Certificate
	}
	return out
}

func sendJSON(t *testing.T, method, url, token string, body any) reply {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), header: resp.Header, body: rb}
	if r.ctype == "application/problem+json" {
		r.problem = &api.Problem{}
		if err := json.Unmarshal(rb, r.problem); err != nil {
			t.Fatalf("%s %s: a problem that is not JSON: %v", method, url, err)
		}
	}
	return r
}

// The holder reports too (a second report on the same dose).
func mildReport(cert, credential, date string) api.AEFIInput {
	return api.AEFIInput{Certificate: cert, Credential: credential, Symptoms: []string{"headache"}, Onset: date, Severity: "mild", Outcome: "recovered", Reporter: "recipient"}
}

// waitAnalytics polls the analytics (counted off the consensus path) until
// they have counted height h.
func waitAnalytics(t *testing.T, base string, h int64) api.Summary {
	t.Helper()
	var sum api.Summary
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if err := json.Unmarshal(getBody(t, base+"/v1/analytics/summary?by=facility", ""), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Height >= h {
			return sum
		}
		if time.Now().After(deadline) {
			t.Fatalf("analytics stuck at height %d, want %d", sum.Height, h)
		}
	}
}

func getBody(t *testing.T, url, token string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

// Feedback and adverse events from holders and facilities, per-batch
// safety signals, analytics that match a recount (and survive a restart),
// and an event stream a client resumes without a gap or a repeat.
func TestFeedbackSafetyAnalyticsAndStream(t *testing.T) {
	n, home := startLocal(t, 40, 0)
	ctx := context.Background()
	base := "http://" + n.APIAddr
	adminTok := n.Service.AdminToken()
	admin := client.New(base, adminTok)

	// A live subscriber from before anything is recorded.
	live := openStream(t, base, "", "")
	defer live.Close()
	var liveFrom int64
	select {
	case liveFrom = <-live.Following:
	case <-time.After(time.Minute):
		t.Fatal("the live stream did not start")
	}

	// Every facility uploads its rows.
	reg, err := admin.Registry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	facilityOf := map[string]string{}
	dosesByFacility := map[string]int64{}
	var certs []string
	for _, f := range reg.Facilities {
		body, err := os.ReadFile(filepath.Join(home, "gen-data", "certificates-"+f.Code+".csv"))
		if err != nil {
			continue
		}
		up, err := client.New(base, facilityToken(n, f.Code)).BulkCertify(ctx, body, "", "", true)
		if err != nil {
			t.Fatalf("upload %s: %v", f.Code, err)
		}
		for _, r := range up.Results {
			if r.Code == string(app.OK) {
				facilityOf[r.Certificate] = f.Code
				dosesByFacility[f.Code]++
				certs = append(certs, r.Certificate)
			}
		}
	}
	if len(certs) < 2 {
		t.Fatalf("only %d certificates recorded", len(certs))
	}
	a, b := certs[0], certs[1]
	credA := string(getBody(t, base+"/v1/certificates/"+a+"?format=jwt", adminTok))
	credB := string(getBody(t, base+"/v1/certificates/"+b+"?format=jwt", adminTok))
	certA, err := admin.Certificate(ctx, a)
	if err != nil {
		t.Fatal(err)
	}

	// The signal threshold: one serious report in a batch opens a signal.
	if res, err := admin.Propose(ctx, app.KindSetSafety, json.RawMessage(`{"policy":{"min_doses":1,"serious_per_million":1}}`)); err != nil || res.Status != "applied" {
		t.Fatalf("safety.set: %+v %v", res, err)
	}

	t.Run("feedback", func(t *testing.T) {
		fb := api.FeedbackInput{Certificate: a, Rating: 5, Courtesy: 4, Wait: "under_15m", Comment: "The nurse, Mrs Iyer, was kind"}
		wantProblem(t, sendJSON(t, "POST", base+"/v1/feedback", "", fb), 401, api.CodeUnauthenticated)
		fb.Credential = credB // someone else's credential
		wantProblem(t, sendJSON(t, "POST", base+"/v1/feedback", "", fb), 403, "not_holder")
		fb.Credential = flipChar(credA) // a forged one
		if r := sendJSON(t, "POST", base+"/v1/feedback", "", fb); r.status != 403 && r.status != 400 {
			t.Fatalf("forged credential: %s", r)
		}
		fb.Credential, fb.Rating = credA, 9
		if p := wantProblem(t, sendJSON(t, "POST", base+"/v1/feedback", "", fb), 400, string(app.CodeMalformedEvent)); p.Field != "rating" {
			t.Fatalf("rating 9: field %q", p.Field)
		}
		fb.Rating = 5
		res := wantJSON[api.ReportResult](t, sendJSON(t, "POST", base+"/v1/feedback", "", fb), 201)
		if res.Certificate != a || res.Height == 0 || len(res.Hash) != 64 {
			t.Fatalf("feedback: %+v", res)
		}
		// One feedback per certificate.
		wantProblem(t, sendJSON(t, "POST", base+"/v1/feedback", "", fb), 409, string(app.CodeFeedbackExists))
		// A facility reports for its own certificates only.
		other := ""
		for _, f := range reg.Facilities {
			if f.Code != facilityOf[b] {
				other = f.Code
			}
		}
		wantProblem(t, sendJSON(t, "POST", base+"/v1/feedback", facilityToken(n, other), api.FeedbackInput{Certificate: b, Rating: 3, Courtesy: 3, Wait: "15_30m"}), 403, api.CodeForbidden)
		wantJSON[api.ReportResult](t, sendJSON(t, "POST", base+"/v1/feedback", facilityToken(n, facilityOf[b]), api.FeedbackInput{Certificate: b, Rating: 3, Courtesy: 3, Wait: "15_30m"}), 201)
	})

	t.Run("aefi and signals", func(t *testing.T) {
		tok := facilityToken(n, facilityOf[a])
		rep := api.AEFIInput{Certificate: a, Symptoms: []string{"fever", "anaphylaxis"}, Onset: certA.Event.Date, Severity: "severe",
			Seriousness: []string{"hospitalization"}, Outcome: "recovering", Reporter: "facility", Narrative: "Rushed to Apollo hospital by her son"}
		bad := rep
		bad.Symptoms = []string{"zombie"}
		if p := wantProblem(t, sendJSON(t, "POST", base+"/v1/aefi", tok, bad), 400, string(app.CodeMalformedEvent)); p.Field != "symptoms" {
			t.Fatalf("unknown symptom: field %q", p.Field)
		}
		bad = rep
		bad.Onset = "2001-01-01"
		wantProblem(t, sendJSON(t, "POST", base+"/v1/aefi", tok, bad), 400, "onset_before_vaccination")
		bad = rep
		bad.Narrative = strings.Repeat("x", node.MaxFreeText+1)
		if p := wantProblem(t, sendJSON(t, "POST", base+"/v1/aefi", tok, bad), 400, api.CodeBadRequest); p.Field != "narrative" || p.Rule != "max_length" {
			t.Fatalf("oversized narrative: %+v", p)
		}
		bad = rep
		bad.Certificate = "C0000000000000000000000000"
		if r := sendJSON(t, "POST", base+"/v1/aefi", tok, bad); r.status != 404 && r.status != 400 {
			t.Fatalf("unknown certificate: %s", r)
		}

		res := wantJSON[api.ReportResult](t, sendJSON(t, "POST", base+"/v1/aefi", tok, rep), 201)
		res = wantJSON[api.ReportResult](t, sendJSON(t, "POST", base+"/v1/aefi", "", mildReport(a, credA, certA.Event.Date)), 201)
		if res.Certificate != a {
			t.Fatalf("aefi: %+v", res)
		}

		var sig api.Signals
		if err := json.Unmarshal(getBody(t, base+"/v1/signals", ""), &sig); err != nil {
			t.Fatal(err)
		}
		batch := certA.Event.Batch
		var counters *app.BatchSafety
		for i := range sig.Batches {
			if sig.Batches[i].Batch == batch && sig.Batches[i].Vaccine == certA.Event.Vaccine {
				counters = &sig.Batches[i]
			}
		}
		if counters == nil || counters.AEFI != 2 || counters.Serious != 1 || counters.Hospitalization != 1 || counters.Doses < 1 {
			t.Fatalf("batch %s counters: %+v", batch, counters)
		}
		open := false
		for _, s := range sig.Open {
			open = open || (s.Batch == batch && s.Vaccine == certA.Event.Vaccine && s.Serious == 1)
		}
		if !open {
			t.Fatalf("no open signal on batch %s: %+v", batch, sig.Open)
		}

		waitAnalytics(t, base, res.Height)
		var byBatch struct {
			Rows []struct {
				Key                      string
				AEFI, SeriousAEFI, Doses int64
			}
		}
		if err := json.Unmarshal(getBody(t, base+"/v1/aefi?batch="+batch, ""), &byBatch); err != nil {
			t.Fatal(err)
		}
		if len(byBatch.Rows) != 1 || byBatch.Rows[0].Key != batch || byBatch.Rows[0].AEFI != 2 {
			t.Fatalf("GET /v1/aefi?batch=%s: %+v", batch, byBatch)
		}
	})

	t.Run("analytics match a recount", func(t *testing.T) {
		st, _ := admin.Status(ctx)
		sum := waitAnalytics(t, base, st.Height)
		total := int64(len(certs))
		if sum.Total.Doses != total || sum.Total.Certificates != total || sum.Total.Feedback != 2 || sum.Total.AEFI != 2 || sum.Total.SeriousAEFI != 1 {
			t.Fatalf("totals %+v, want %d doses and certificates, 2 feedback, 2 aefi (1 serious)", sum.Total, total)
		}
		for _, row := range sum.Rows {
			if row.Doses != dosesByFacility[row.Key] {
				t.Errorf("facility %s: %d doses counted, %d recorded", row.Key, row.Doses, dosesByFacility[row.Key])
			}
		}
		// Every dimension adds up to the same total.
		for _, d := range node.Dimensions {
			var s api.Summary
			if err := json.Unmarshal(getBody(t, base+"/v1/analytics/summary?by="+d, n.Service.AdminToken()), &s); err != nil {
				t.Fatal(err)
			}
			if s.Total.Doses != total {
				t.Errorf("by %s: %d doses, want %d", d, s.Total.Doses, total)
			}
		}
		// Gender comes from the vault: the operator's token only.
		for tok, want := range map[string]int{"": 401, facilityToken(n, facilityOf[a]): 403} {
			req, _ := http.NewRequest("GET", base+"/v1/analytics/summary?by=gender", nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("by=gender with token %q: %d %s, want %d", tok, resp.StatusCode, resp.Header.Get("Content-Type"), want)
			}
		}
		// The metrics count the same.
		metrics := map[string]float64{}
		for _, line := range strings.Split(string(getBody(t, base+"/metrics", "")), "\n") {
			name, value, ok := strings.Cut(line, " ")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			var v float64
			fmt.Sscan(value, &v)
			metrics[name] = v
			if strings.HasPrefix(name, "divoc_doses_total{") {
				metrics["doses"] += v
			}
		}
		for name, want := range map[string]float64{"doses": float64(total), `divoc_aefi_total{seriousness="hospitalization"}`: 1,
			`divoc_aefi_total{seriousness="none"}`: 1, "divoc_feedback_total": 2, "divoc_safety_signals_opened_total": 1} {
			if metrics[name] != want {
				t.Errorf("metric %s = %v, want %v", name, metrics[name], want)
			}
		}
		// A day range outside the drive counts nothing.
		var none api.Summary
		json.Unmarshal(getBody(t, base+"/v1/analytics/summary?by=day&from=1990-01-01&to=1990-12-31", ""), &none)
		if none.Total != (api.Counts{}) || len(none.Rows) != 0 {
			t.Fatalf("1990: %+v", none)
		}
		wantProblem(t, sendJSON(t, "GET", base+"/v1/analytics/summary?by=shoe_size", "", nil), 400, api.CodeBadRequest)
		wantProblem(t, sendJSON(t, "GET", base+"/v1/analytics/summary?from=yesterday", "", nil), 400, api.CodeBadRequest)
	})

	t.Run("stream resumes exactly once", func(t *testing.T) {
		all := replayAll(t, base)
		if len(all) < len(certs)+4 {
			t.Fatalf("replay: %d events for %d certificates, 2 feedback and 2 aefi", len(all), len(certs))
		}
		kinds := map[string]int{}
		for _, e := range all {
			kinds[e.Kind]++
			if e.Kind != e.Data.Kind {
				t.Fatalf("event %s: kind %s, data kind %s", e.ID, e.Kind, e.Data.Kind)
			}
		}
		if kinds[app.EventVaccination] != len(certs) || kinds[app.EventFeedback] != 2 || kinds[app.EventAEFI] != 2 || kinds[app.EventSignal] != 1 {
			t.Fatalf("replayed kinds %v", kinds)
		}
		// No personal data in the stream: not the comment, the narrative,
		// nor a name.
		raw, _ := json.Marshal(all)
		for _, s := range []string{"Iyer", "Apollo", "nurse"} {
			if bytes.Contains(raw, []byte(s)) {
				t.Fatalf("the stream carries %q", s)
			}
		}

		// Read part, drop the connection mid-block, resume.
		cut := len(all) / 2
		c := openStream(t, base, "?from=1", "")
		first := c.next(t, cut)
		c.Close()
		c = openStream(t, base, "", first[cut-1].ID)
		rest := c.next(t, len(all)-cut)
		c.Close()
		if got := ids(append(first, rest...)); !reflect.DeepEqual(got, ids(all)) {
			t.Fatalf("resumed stream differs from the replay:\n%v\nwant\n%v", got, ids(all))
		}

		// The live subscriber got every event after its start, in order.
		var want []sseEvent
		for _, e := range all {
			if e.Data.Height >= liveFrom {
				want = append(want, e)
			}
		}
		got := live.next(t, len(want))
		if !reflect.DeepEqual(ids(got), ids(want)) {
			t.Fatalf("live stream differs from the replay")
		}

		wantProblem(t, sendJSON(t, "GET", base+"/v1/events/stream?from=0", "", nil), 400, api.CodeBadRequest)
		req, _ := http.NewRequest("GET", base+"/v1/events/stream", nil)
		req.Header.Set("Last-Event-ID", "x:y")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("Last-Event-ID x:y: %d", resp.StatusCode)
		}
	})

	// After a restart the counts are rebuilt from the journal: the same.
	before := map[string]api.Summary{}
	for _, d := range node.Dimensions {
		var s api.Summary
		json.Unmarshal(getBody(t, base+"/v1/analytics/summary?by="+d, adminTok), &s)
		before[d] = s
	}
	live.Close()
	if err := n.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	n2, err := node.Start(node.Home(home))
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	base2 := "http://" + n2.APIAddr
	for _, d := range node.Dimensions {
		var s api.Summary
		json.Unmarshal(getBody(t, base2+"/v1/analytics/summary?by="+d, adminTok), &s)
		b := before[d]
		if s.Height < b.Height || !reflect.DeepEqual(s.Rows, b.Rows) || s.Total != b.Total {
			t.Errorf("by %s after a restart:\n%+v\nbefore:\n%+v", d, s, b)
		}
	}
}
