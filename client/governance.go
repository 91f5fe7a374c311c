package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
)

// Propose proposes a governed change (operator token): kind is one of
// app.GovernedKinds, statement its JSON statement.
func (c *Client) Propose(ctx context.Context, kind string, statement json.RawMessage) (*api.GovernanceResult, error) {
	body, _ := json.Marshal(map[string]any{"kind": kind, "statement": statement})
	var out api.GovernanceResult
	return &out, c.do(ctx, http.MethodPost, "/v1/governance/proposals", "application/json", body, nil, &out)
}

// Approve approves a pending proposal as the node's authority.
func (c *Client) Approve(ctx context.Context, id string) (*api.GovernanceResult, error) {
	var out api.GovernanceResult
	return &out, c.do(ctx, http.MethodPost, "/v1/governance/proposals/"+url.PathEscape(id)+"/approve", "application/json", nil, nil, &out)
}

// Proposals lists proposals, optionally with one status.
func (c *Client) Proposals(ctx context.Context, status string) ([]app.Proposal, error) {
	path := "/v1/governance/proposals"
	if status != "" {
		path += "?status=" + url.QueryEscape(status)
	}
	var out []app.Proposal
	return out, c.do(ctx, http.MethodGet, path, "", nil, nil, &out)
}

// SetPhase opens or closes a program's phase.
func (c *Client) SetPhase(ctx context.Context, program, phase string, open bool) (*api.GovernanceResult, error) {
	body, _ := json.Marshal(map[string]bool{"open": open})
	var out api.GovernanceResult
	return &out, c.do(ctx, http.MethodPost, "/v1/programs/"+url.PathEscape(program)+"/phases/"+url.PathEscape(phase), "application/json", body, nil, &out)
}

// SetFacility creates or updates a facility.
func (c *Client) SetFacility(ctx context.Context, st app.RegisterFacilityStatement) (*api.GovernanceResult, error) {
	body, _ := json.Marshal(st)
	var out api.GovernanceResult
	return &out, c.do(ctx, http.MethodPost, "/v1/facilities", "application/json", body, nil, &out)
}

// RegistryUpload sends DIVOC's facilities.csv (kind "facilities") or
// vaccinators.csv (kind "vaccinators").
func (c *Client) RegistryUpload(ctx context.Context, kind string, csv []byte) (*api.RegistryUpload, error) {
	var out api.RegistryUpload
	return &out, c.do(ctx, http.MethodPost, "/v1/"+kind+"/upload", "text/csv", csv, nil, &out)
}

// Schedule returns a recipient's doses and next due dose.
func (c *Client) Schedule(ctx context.Context, recipient string) (*api.Schedule, error) {
	var out api.Schedule
	return &out, c.do(ctx, http.MethodGet, "/v1/recipients/"+url.PathEscape(recipient)+"/schedule", "", nil, nil, &out)
}
