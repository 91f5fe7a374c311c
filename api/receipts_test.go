package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A backend without receipts answers their routes with a problem.
func TestReceiptRoutesWithoutReceipts(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	for _, path := range []string{"/v1/certificates/0Q3ZK7W5J9B4X2MN/status?proof=true", "/v1/trust/validators", "/v1/trust/list", "/v1/revocations/snapshot"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %s %s", path, resp.Status, resp.Header.Get("Content-Type"))
		}
	}
}
