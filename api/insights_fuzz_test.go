package api

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// Where a reconnecting stream starts, from ?from= or Last-Event-ID: any
// input gives a problem or a start the stream can use, never a panic.
func FuzzStreamStart(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"5", ""}, {"", "12:3"}, {"", "12"}, {"0", ""}, {"", "-1:2"}, {"", "9223372036854775807:0"}, {"", "9223372036854775807"}, {"x", "1:x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, from, lastID string) {
		r := httptest.NewRequest("GET", "/v1/events/stream?from="+url.QueryEscape(from), nil)
		if lastID != "" {
			r.Header.Set("Last-Event-ID", lastID)
		}
		h, skip, err := streamStart(r)
		if err != nil {
			if _, ok := err.(*Problem); !ok {
				t.Fatalf("error %v is not a problem", err)
			}
			return
		}
		if skip < -1 || h < 0 || (h == 0 && (from != "" || r.Header.Get("Last-Event-ID") != "")) {
			t.Fatalf("from %q, Last-Event-ID %q: start at %d skipping %d", from, lastID, h, skip)
		}
	})
}
