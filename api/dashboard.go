package api

import (
	"embed"
	"net/http"
	"path"

	"github.com/go-chi/chi/v5"
)

// The dashboard is a static page (HTML, one script, one stylesheet, no
// third-party code) that reads the public analytics routes and follows the
// event stream; it needs nothing from the node beyond the API.
//
//go:embed dashboard
var dashboardFiles embed.FS

// dashboardTypes are the assets the page is made of, by extension.
var dashboardTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// dashboardCSP lets the page load only its own assets and talk only to
// this node: ledger data it shows cannot run as script.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *server) dashboard(w http.ResponseWriter, _ *http.Request) error {
	return serveDashboardFile(w, "index.html")
}

func (s *server) dashboardAsset(w http.ResponseWriter, r *http.Request) error {
	return serveDashboardFile(w, chi.URLParam(r, "asset"))
}

func serveDashboardFile(w http.ResponseWriter, name string) error {
	ctype, ok := dashboardTypes[path.Ext(name)]
	if !ok || name != path.Base(name) {
		return NewProblem(http.StatusNotFound, CodeNotFound, "the dashboard has no asset "+name)
	}
	b, err := dashboardFiles.ReadFile("dashboard/" + name)
	if err != nil {
		return NewProblem(http.StatusNotFound, CodeNotFound, "the dashboard has no asset "+name)
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(b)
	return err
}
