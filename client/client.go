// Package client is a Go client of the node's REST API, for facilities'
// tools, the CLI and tests. Problems come back as *api.Problem.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/vault"
)

// Client calls one node.
type Client struct {
	BaseURL string
	// Token is a facility's token (uploads) or the operator's (revoke,
	// correct); empty for public calls and signed uploads.
	Token string
	HTTP  *http.Client

	mu      sync.Mutex
	chainID string
}

// New returns a client of the node at baseURL.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: &http.Client{Timeout: 10 * time.Minute}}
}

func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, header http.Header, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.Token != "" && req.Header.Get(api.HeaderSignature) == "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var p api.Problem
		if json.Unmarshal(b, &p) == nil && p.Code != "" {
			return &p
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = b
		return nil
	default:
		return json.Unmarshal(b, out)
	}
}

// BulkCertify uploads a DIVOC bulk CSV. signature is the facility's
// detached JWS (see ingest.Batch.Sign), or "" to use the client's token.
// With wait, it returns when every row is committed or refused.
func (c *Client) BulkCertify(ctx context.Context, csv []byte, program, signature string, wait bool) (*vault.Upload, error) {
	q := url.Values{}
	if program != "" {
		q.Set("programId", program)
	}
	if wait {
		q.Set("wait", "true")
	}
	path := "/v1/bulkCertify"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var up vault.Upload
	return &up, c.do(ctx, http.MethodPost, path, "text/csv", csv, sigHeader(signature), &up)
}

// Certify sends a DIVOC certify request (JSON array) and waits for commit.
func (c *Client) Certify(ctx context.Context, body []byte, signature string) (*vault.Upload, error) {
	var up vault.Upload
	return &up, c.do(ctx, http.MethodPost, "/v1/certify", "application/json", body, sigHeader(signature), &up)
}

func sigHeader(sig string) http.Header {
	if sig == "" {
		return nil
	}
	return http.Header{api.HeaderSignature: {sig}}
}

// Upload returns an upload's progress.
func (c *Client) Upload(ctx context.Context, id string) (*vault.Upload, error) {
	var up vault.Upload
	return &up, c.do(ctx, http.MethodGet, "/v1/uploads/"+url.PathEscape(id), "", nil, nil, &up)
}

// WaitUpload polls an upload until nothing is pending, calling progress
// after each poll.
func (c *Client) WaitUpload(ctx context.Context, id string, every time.Duration, progress func(*vault.Upload)) (*vault.Upload, error) {
	for {
		up, err := c.Upload(ctx, id)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(up)
		}
		if up.Status != vault.UploadProcessing {
			return up, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
	}
}

// Certificate returns a certificate's ledger view.
func (c *Client) Certificate(ctx context.Context, id string) (*api.Certificate, error) {
	var out api.Certificate
	return &out, c.do(ctx, http.MethodGet, "/v1/certificates/"+url.PathEscape(id), "", nil, nil, &out)
}

// QR returns a certificate's QR code PNG.
func (c *Client) QR(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, http.MethodGet, "/v1/certificates/"+url.PathEscape(id)+"/qr.png", "", nil, nil, &b)
}

// Verify verifies a credential (a vc+jwt string).
func (c *Client) Verify(ctx context.Context, credential string) (*api.Verification, error) {
	var v api.Verification
	return &v, c.do(ctx, http.MethodPost, "/v1/verify", "application/vc+jwt", []byte(credential), nil, &v)
}

// VerifyQR verifies a QR code image.
func (c *Client) VerifyQR(ctx context.Context, png []byte) (*api.Verification, error) {
	var v api.Verification
	return &v, c.do(ctx, http.MethodPost, "/v1/verify", "image/png", png, nil, &v)
}

// Revoke revokes a certificate (operator token).
func (c *Client) Revoke(ctx context.Context, id, reason string) (*api.Certificate, error) {
	body, _ := json.Marshal(map[string]string{"reason": reason})
	var out api.Certificate
	return &out, c.do(ctx, http.MethodPost, "/v1/certificates/"+url.PathEscape(id)+"/revoke", "application/json", body, nil, &out)
}

// Correct supersedes a certificate with a corrected one (operator token).
func (c *Client) Correct(ctx context.Context, id string, corr api.Correction) (*api.Certificate, error) {
	body, _ := json.Marshal(corr)
	var out api.Certificate
	return &out, c.do(ctx, http.MethodPut, "/v1/certificates/"+url.PathEscape(id), "application/json", body, nil, &out)
}

// Status returns the node's ledger status.
func (c *Client) Status(ctx context.Context) (*api.Status, error) {
	var s api.Status
	return &s, c.do(ctx, http.MethodGet, "/v1/status", "", nil, nil, &s)
}

// Registry returns the ledger's programs, vaccines and facilities.
func (c *Client) Registry(ctx context.Context) (*api.Registry, error) {
	var r api.Registry
	return &r, c.do(ctx, http.MethodGet, "/v1/registry", "", nil, nil, &r)
}

// JWKS returns the issuer keys registered on the ledger.
func (c *Client) JWKS(ctx context.Context) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, http.MethodGet, "/v1/trust/jwks", "", nil, nil, &b)
}
