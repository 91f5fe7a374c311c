package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/ingest"
)

// holder checks that a report concerns a real certificate and comes from
// someone entitled to report on it: the holder (who presents the
// credential itself) or the facility that recorded it (its token). Anyone
// else, and floods of reports on made-up ids, are refused.
func (s *Service) holder(ctx context.Context, id, credential, facility string) (*app.CertRecord, error) {
	snap, rec, err := s.anchored(id)
	if err != nil {
		return nil, err
	}
	_ = snap
	switch {
	case facility != "":
		if facility != rec.Facility {
			return nil, api.NewProblem(http.StatusForbidden, api.CodeForbidden, "certificate "+id+" was recorded by another facility")
		}
	case credential != "":
		v, err := s.Verify(ctx, credential)
		if err != nil {
			return nil, err
		}
		if v.Certificate != id {
			return nil, api.NewProblem(http.StatusForbidden, "not_holder", "the credential presented is not certificate "+id).WithField("credential", "same_certificate")
		}
		for _, c := range v.Checks {
			if (c.Name == "signature" || c.Name == "anchor") && !c.OK {
				return nil, api.NewProblem(http.StatusForbidden, "not_holder", "the credential presented does not verify: "+c.Detail).WithField("credential", c.Name)
			}
		}
	default:
		return nil, api.NewProblem(http.StatusUnauthorized, api.CodeUnauthenticated, "prove the report concerns your vaccination: send the credential (its vc+jwt or QR text) in the credential member, or the recording facility's token").WithField("credential", "required")
	}
	return rec, nil
}

// MaxFreeText bounds a report's free text (feedback comment, AEFI
// narrative), which the vault keeps.
const MaxFreeText = 4000

func freeTextProblem(field, text string) error {
	if len(text) > MaxFreeText {
		return api.NewProblem(http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%s has %d bytes; at most %d", field, len(text), MaxFreeText)).WithField(field, "max_length")
	}
	return nil
}

// SubmitFeedback implements api.Insights.
func (s *Service) SubmitFeedback(ctx context.Context, in api.FeedbackInput, facility string) (*api.ReportResult, error) {
	if err := freeTextProblem("comment", in.Comment); err != nil {
		return nil, err
	}
	if _, err := s.holder(ctx, strings.ToUpper(in.Certificate), in.Credential, facility); err != nil {
		return nil, err
	}
	full, hash := reportHash(in)
	fb := app.Feedback{Certificate: strings.ToUpper(in.Certificate), Courtesy: in.Courtesy, Hash: hash, Rating: in.Rating, Wait: in.Wait}
	if field, reason := fb.Problem(); reason != "" {
		return nil, api.NewProblem(http.StatusBadRequest, string(app.CodeMalformedEvent), reason).WithField(field, "code_list")
	}
	stmt := app.FeedbackStatement{Issuer: s.settings.IssuerID, Feedback: []app.Feedback{fb}}
	return s.reportTx(ctx, app.KindFeedback, app.TypFeedback, stmt, "feedback", hash, full)
}

// SubmitAEFI implements api.Insights.
func (s *Service) SubmitAEFI(ctx context.Context, in api.AEFIInput, facility string) (*api.ReportResult, error) {
	if err := freeTextProblem("narrative", in.Narrative); err != nil {
		return nil, err
	}
	id := strings.ToUpper(in.Certificate)
	rec, err := s.holder(ctx, id, in.Credential, facility)
	if err != nil {
		return nil, err
	}
	onset, err := time.Parse(time.DateOnly, in.Onset)
	if err != nil {
		return nil, api.NewProblem(http.StatusBadRequest, "invalid_date", "onset_date must be YYYY-MM-DD").WithField("onset_date", "date")
	}
	vaccinated, _ := time.Parse(time.DateOnly, rec.Event.Date)
	days := int(onset.Sub(vaccinated).Hours() / 24)
	if days < 0 {
		return nil, api.NewProblem(http.StatusBadRequest, "onset_before_vaccination", fmt.Sprintf("onset %s is before the vaccination on %s", in.Onset, rec.Event.Date)).WithField("onset_date", "after_vaccination")
	}
	full, hash := reportHash(in)
	report := app.AEFIReport{Certificate: id, Hash: hash, Onset: days, Outcome: in.Outcome, Reporter: in.Reporter, Seriousness: nonNil(in.Seriousness), Severity: in.Severity, Symptoms: in.Symptoms}
	if field, reason := report.Problem(); reason != "" {
		return nil, api.NewProblem(http.StatusBadRequest, string(app.CodeMalformedEvent), reason).WithField(field, "code_list")
	}
	stmt := app.AEFIStatement{Issuer: s.settings.IssuerID, Reports: []app.AEFIReport{report}}
	return s.reportTx(ctx, app.KindAEFI, app.TypAEFI, stmt, "aefi", hash, full)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// reportHash is the SHA-256 of the report as submitted (with a time, so
// two reports never share a hash); the ledger records it, the vault keeps
// the report.
func reportHash(in any) ([]byte, string) {
	full, _ := json.Marshal(map[string]any{"report": in, "received": time.Now().UTC().Format(time.RFC3339Nano)})
	h := sha256.Sum256(full)
	return full, hex.EncodeToString(h[:])
}

func (s *Service) reportTx(ctx context.Context, kind, typ string, stmt any, vaultKind, hash string, full []byte) (*api.ReportResult, error) {
	if err := s.vault.PutReport(vaultKind, hash, full); err != nil {
		return nil, err
	}
	p, err := app.SignPart(typ, s.app.ChainID(), s.issuer.KID(), ingest.NewNonce(), time.Now().Unix(), stmt, s.issuer.Sign)
	if err != nil {
		return nil, err
	}
	out, err := s.ledger.Submit(ctx, (&app.Tx{Kind: kind, Parts: []app.Part{p}}).Encode())
	if err != nil {
		return nil, ledgerProblem(err)
	}
	if out.Result.Code != app.OK {
		return nil, api.NewProblem(http.StatusUnprocessableEntity, string(out.Result.Code), out.Result.Reason)
	}
	it := out.Result.Items[0]
	if it.Code != app.OK {
		status := http.StatusUnprocessableEntity
		if it.Code == app.CodeFeedbackExists {
			status = http.StatusConflict
		}
		return nil, api.NewProblem(status, string(it.Code), it.Reason)
	}
	return &api.ReportResult{Certificate: it.Certificate, Hash: hash, Height: out.Height, Note: it.Reason}, nil
}

// SideEffects implements api.Insights: the coded lists reports use.
func (s *Service) SideEffects() *api.SideEffects {
	return &api.SideEffects{Symptoms: app.Symptoms, Seriousness: app.Seriousness, Severities: app.Severities, Outcomes: app.Outcomes, Reporters: app.Reporters, WaitTimes: app.WaitTimes}
}

// Signals implements api.Insights: open signals, suspended batches, the
// threshold, and every batch's counters.
func (s *Service) Signals() (*api.Signals, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	return &api.Signals{Height: snap.Height, Policy: snap.SafetyPolicy(), Open: nonNilSignals(snap.Signals()), Suspended: snap.SuspendedBatches(), Batches: snap.BatchSafeties()}, nil
}

func nonNilSignals(s []app.Signal) []app.Signal {
	if s == nil {
		return []app.Signal{}
	}
	return s
}

// Summary implements api.Insights.
func (s *Service) Summary(by, from, to string) (*api.Summary, error) {
	if s.analytics == nil {
		return nil, api.NewProblem(http.StatusServiceUnavailable, api.CodeBusy, "analytics are not running")
	}
	return s.analytics.Summary(by, from, to)
}

// Subscribe implements api.Insights: the journal from a height, then live.
func (s *Service) Subscribe(from int64, replay func(height int64, events []app.BlockEvent) bool) (chan []app.BlockEvent, int64, error) {
	return s.stream.Subscribe(from, replay)
}

// Unsubscribe implements api.Insights.
func (s *Service) Unsubscribe(ch chan []app.BlockEvent) { s.stream.Unsubscribe(ch) }
