package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A method the route does not serve is a 405 problem that says, in Allow,
// which methods it does serve.
func TestMethodNotAllowedSaysWhatIsAllowed(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodDelete, "/v1/status", "GET"},
		{http.MethodGet, "/v1/bulkCertify", "POST"},
		{http.MethodPatch, "/v1/certificates/ABC", "GET, PUT"},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if got := resp.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}

// Problems a client should retry carry Retry-After; others do not.
func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		p    *Problem
		want string
	}{
		{NewProblem(http.StatusTooManyRequests, "rate_limited", "slow down"), "1"},
		{&Problem{Status: http.StatusServiceUnavailable, Code: CodeBusy, RetryAfter: 5}, "5"},
		{NewProblem(http.StatusBadRequest, CodeBadRequest, "no"), ""},
	} {
		w := httptest.NewRecorder()
		c.p.Render(w)
		if got := w.Header().Get("Retry-After"); got != c.want || w.Code != c.p.Status {
			t.Errorf("%d: Retry-After %q, want %q (status %d)", c.p.Status, got, c.want, w.Code)
		}
	}
}

// Small HTTP manners: HEAD works where GET does, /dashboard/ leads to
// /dashboard. (With a node behind: node TestBadInputThroughHTTP/routing.)
func TestHTTPManners(t *testing.T) {
	srv := httptest.NewServer(New(Config{AdminToken: "secret"}))
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		method, path, auth string
		status             int
	}{
		{http.MethodHead, "/openapi.yaml", "", http.StatusOK},
		{http.MethodGet, "/dashboard/", "", http.StatusMovedPermanently},
		{http.MethodGet, "/v1/governance/proposals", "bearer secret", http.StatusNotImplemented}, // past the auth: no backend here
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s (%q): %d, want %d", c.method, c.path, c.auth, resp.StatusCode, c.status)
		}
	}
}
