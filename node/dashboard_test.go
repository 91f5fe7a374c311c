package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/node"
)

// dashDemo is a node with demo data for the dashboard's tests: every
// facility's upload but the last one's (held back, to watch the dashboard
// follow it live), with bad rows, a revocation, a feedback, and a serious
// adverse event report that opens a safety signal.
type dashDemo struct {
	n          *node.Node
	base       string
	admin      *client.Client
	certs      []string          // certificates recorded
	facilityOf map[string]string // certificate -> facility
	held       string            // the facility whose upload is held back
	heldCSV    []byte
}

func startDashDemo(t *testing.T) *dashDemo {
	t.Helper()
	n, home := startLocal(t, 90, 21)
	ctx := context.Background()
	d := &dashDemo{n: n, base: "http://" + n.APIAddr, admin: client.New("http://"+n.APIAddr, n.Service.AdminToken()), facilityOf: map[string]string{}}
	reg, err := d.admin.Registry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	csvs := map[string][]byte{}
	for _, f := range reg.Facilities {
		if b, err := os.ReadFile(filepath.Join(home, "gen-data", "certificates-"+f.Code+".csv")); err == nil {
			codes = append(codes, f.Code)
			csvs[f.Code] = b
		}
	}
	if len(codes) < 2 {
		t.Fatalf("%d facilities with rows", len(codes))
	}
	d.held, d.heldCSV = codes[len(codes)-1], csvs[codes[len(codes)-1]]
	for _, code := range codes[:len(codes)-1] {
		d.upload(t, code, csvs[code])
	}
	if len(d.certs) < 3 {
		t.Fatalf("only %d certificates recorded", len(d.certs))
	}
	// One serious report in a batch opens a signal.
	if res, err := d.admin.Propose(ctx, app.KindSetSafety, json.RawMessage(`{"policy":{"min_doses":1,"serious_per_million":1}}`)); err != nil || res.Status != "applied" {
		t.Fatalf("safety.set: %+v %v", res, err)
	}
	d.report(t, d.certs[0], true)
	d.feedback(t, d.certs[1])
	if _, err := d.admin.Revoke(ctx, d.certs[2], "issued in error"); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	return d
}

func (d *dashDemo) upload(t *testing.T, code string, csv []byte) {
	t.Helper()
	up, err := client.New(d.base, facilityToken(d.n, code)).BulkCertify(context.Background(), csv, "", "", true)
	if err != nil {
		t.Fatalf("upload %s: %v", code, err)
	}
	for _, r := range up.Results {
		if r.Code == string(app.OK) && r.Certificate != "" {
			d.certs = append(d.certs, r.Certificate)
			d.facilityOf[r.Certificate] = code
		}
	}
}

// report files an adverse event report on a certificate, as its facility.
func (d *dashDemo) report(t *testing.T, cert string, serious bool) {
	t.Helper()
	c, err := d.admin.Certificate(context.Background(), cert)
	if err != nil {
		t.Fatal(err)
	}
	in := api.AEFIInput{Certificate: cert, Symptoms: []string{"fever"}, Onset: c.Event.Date, Severity: "mild", Outcome: "recovered", Reporter: "facility"}
	if serious {
		in.Symptoms, in.Severity, in.Seriousness, in.Outcome = []string{"anaphylaxis"}, "severe", []string{"hospitalization"}, "recovering"
	}
	dashPost(t, d.base+"/v1/aefi", facilityToken(d.n, d.facilityOf[cert]), in)
}

func (d *dashDemo) feedback(t *testing.T, cert string) {
	t.Helper()
	dashPost(t, d.base+"/v1/feedback", facilityToken(d.n, d.facilityOf[cert]), api.FeedbackInput{Certificate: cert, Rating: 4, Courtesy: 5, Wait: "under_15m"})
}

func dashPost(t *testing.T, url, token string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		rb, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, rb)
	}
}

func dashGet(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
}

// counted waits until the analytics have counted every committed block
// and returns their totals (by day) and refusals (by reason).
func (d *dashDemo) counted(t *testing.T) (api.Summary, api.Summary) {
	t.Helper()
	st, err := d.admin.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var byDay, byReason api.Summary
	for deadline := time.Now().Add(time.Minute); ; {
		dashGet(t, d.base+"/v1/analytics/summary?by=day", &byDay)
		dashGet(t, d.base+"/v1/analytics/summary?by=reason", &byReason)
		if byDay.Height >= st.Height && byReason.Height >= st.Height {
			return byDay, byReason
		}
		if time.Now().After(deadline) {
			t.Fatalf("analytics stuck at height %d, the ledger is at %d", byDay.Height, st.Height)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The reason dimension: vaccinations by result code, adding up to the
// doses and refusals of the other dimensions.
func TestDashboardReasonDimension(t *testing.T) {
	d := startDashDemo(t)
	day, reason := d.counted(t)
	var refused int64
	for _, r := range reason.Rows {
		if r.Key == "unknown" { // revocations, feedback, AEFI: not vaccinations
			if r.Doses != 0 || r.Refused != 0 {
				t.Errorf("reason unknown: %+v", r.Counts)
			}
			continue
		}
		if r.Key == string(app.OK) {
			if r.Doses != day.Total.Doses || r.Refused != 0 {
				t.Errorf("reason ok: %+v, want %d doses", r.Counts, day.Total.Doses)
			}
			continue
		}
		if r.Doses != 0 || r.Refused == 0 {
			t.Errorf("reason %s: %+v", r.Key, r.Counts)
		}
		refused += r.Refused
	}
	if refused == 0 || refused != day.Total.Refused {
		t.Fatalf("refused by reason %d, by day %d (the demo's bad rows include some the ledger refuses)", refused, day.Total.Refused)
	}
}

// chromium finds a Chromium (or Chrome) to drive, or fails saying how to
// install one. DIVOC_SKIP_BROWSER=1 skips the browser tests instead.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("DIVOC_SKIP_BROWSER") == "1" {
		t.Skip("DIVOC_SKIP_BROWSER=1: not testing the dashboard in a browser")
	}
	if p := os.Getenv("DIVOC_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium on PATH (chromium, chromium-browser or google-chrome; or set DIVOC_CHROMIUM): " +
		"run scripts/install-chromium.sh (make test does), or set DIVOC_SKIP_BROWSER=1 to skip the browser tests")
	return ""
}

// artifactDir is where browser tests leave screenshots: $DIVOC_TEST_ARTIFACTS,
// or testdata/out in the package (ignored by git).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DIVOC_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "out")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// dashView is what the page shows, read from its DOM.
type dashView struct {
	Ready   string           `json:"ready"`
	Live    string           `json:"live"`
	Height  int64            `json:"height"`
	Applied int64            `json:"applied"`
	Points  map[string]int64 `json:"points"` // per chart, and "<chart>.rects": the bars drawn
	Totals  map[string]int64 `json:"totals"`
	KPIs    map[string]int64 `json:"kpis"`
}

const readView = `(() => {
	const b = document.body.dataset, v = {ready: b.ready, live: b.live, height: +b.height, applied: +b.applied, points: {}, totals: {}, kpis: {}};
	for (const s of document.querySelectorAll("[data-chart]")) {
		v.points[s.dataset.chart] = +s.dataset.points;
		v.totals[s.dataset.chart] = +(s.dataset.total || 0);
		// Each point is drawn: count the bars.
		v.points[s.dataset.chart + ".rects"] = s.querySelectorAll("svg rect").length;
	}
	for (const k of document.querySelectorAll("[data-kpi]")) v.kpis[k.dataset.kpi] = +(k.dataset.value || -1);
	return v;
})()`

// The dashboard in a real browser: it loads the counts, draws every chart,
// follows blocks committed after it loaded, and counts each event once
// across a reconnect. It leaves a screenshot.
func TestDashboardInBrowser(t *testing.T) {
	exe := chromium(t)
	d := startDashDemo(t)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1400, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// Everything the page writes to the console: it must write no error.
	var (
		mu      sync.Mutex
		console []string
	)
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				console = append(console, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()

	view := func() dashView {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[dashView](readView))
		if err != nil {
			t.Fatalf("reading the page: %v", err)
		}
		return v
	}
	// waitFor polls the page until the condition holds (a JavaScript
	// expression over the page), failing with what it shows after a minute.
	waitFor := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(time.Minute))); err != nil {
			t.Fatalf("waiting for %s: %v; the page shows %+v", what, err, view())
		}
	}
	screenshot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(artifactDir(t), name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	kpi := func(name string, want int64) string {
		return fmt.Sprintf(`+(document.querySelector('[data-kpi="%s"]').dataset.value) === %d`, name, want)
	}
	// matches checks the page's totals against the node's.
	matches := func(day, reason api.Summary, signals int) {
		t.Helper()
		waitFor("the page to count what the node counts", strings.Join([]string{
			`document.body.dataset.ready === "1"`,
			fmt.Sprintf(`+document.body.dataset.height >= %d`, day.Height),
			kpi("doses", day.Total.Doses), kpi("refused", day.Total.Refused), kpi("certificates", day.Total.Certificates),
			kpi("revocations", day.Total.Revocations), kpi("feedback", day.Total.Feedback), kpi("aefi", day.Total.AEFI),
			kpi("serious_aefi", day.Total.SeriousAEFI), kpi("signals", int64(signals)),
		}, " && "))
		v := view()
		for _, chart := range []string{"day", "district", "vaccine", "reason", "safety"} {
			if v.Points[chart] <= 0 || v.Points[chart+".rects"] < v.Points[chart] {
				t.Errorf("chart %s: %d points, %d bars drawn", chart, v.Points[chart], v.Points[chart+".rects"])
			}
		}
		if v.Totals["day"] != day.Total.Doses || v.Totals["reason"] != day.Total.Refused {
			t.Errorf("charts: %d doses by day, %d refused by reason; the node counts %d and %d", v.Totals["day"], v.Totals["reason"], day.Total.Doses, day.Total.Refused)
		}
		var byReason int64
		for _, r := range reason.Rows {
			byReason += r.Refused
		}
		if byReason != day.Total.Refused {
			t.Errorf("by reason %d refused, by day %d", byReason, day.Total.Refused)
		}
	}

	day, reason := d.counted(t)
	if _, err := chromedp.Run(bctx, chromedp.Navigate(d.base+"/dashboard")); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	waitFor("the stream to be live", `document.body.dataset.live === "live"`)
	matches(day, reason, 1)

	// Live: the held-back facility uploads, another report comes in.
	d.upload(t, d.held, d.heldCSV)
	d.report(t, d.certs[len(d.certs)-1], false)
	day2, reason2 := d.counted(t)
	if day2.Total.Doses <= day.Total.Doses {
		t.Fatalf("the held-back upload added no doses: %d then %d", day.Total.Doses, day2.Total.Doses)
	}
	matches(day2, reason2, 1)
	if v := view(); v.Applied == 0 {
		t.Fatalf("the page applied no event from the stream: %+v", v)
	}

	// Drop the stream: the page resumes from the block of the last event
	// it applied, skipping what it already counted.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[any](`window.divocDashboard.reconnect(), null`)); err != nil {
		t.Fatal(err)
	}
	waitFor("the stream to be live again", `document.body.dataset.live === "live"`)
	d.feedback(t, d.certs[len(d.certs)-2])
	day3, reason3 := d.counted(t)
	matches(day3, reason3, 1)

	screenshot("dashboard.png")
	mu.Lock()
	defer mu.Unlock()
	for _, m := range console {
		t.Errorf("the page logged %s", m)
	}
}
