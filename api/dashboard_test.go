package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The page and its assets are served with their types and a strict
// Content-Security-Policy; anything else under /dashboard/ is a problem.
func TestDashboardServed(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	for path, ctype := range map[string]string{"/dashboard": "text/html", "/dashboard/dashboard.js": "text/javascript", "/dashboard/dashboard.css": "text/css"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
	for _, path := range []string{"/dashboard/nope.js", "/dashboard/..%2fopenapi.yaml", "/dashboard/index.txt", "/dashboard/dashboard.js/x"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// The page loads only what is served here.
	page, _ := dashboardFiles.ReadFile("dashboard/index.html")
	for _, ref := range []string{`href="dashboard/dashboard.css"`, `src="dashboard/dashboard.js"`} {
		if !strings.Contains(string(page), ref) {
			t.Errorf("index.html does not load %s", ref)
		}
	}
	if strings.Contains(string(page), "http://") || strings.Contains(string(page), "https://") {
		t.Error("index.html refers to another site")
	}
}
