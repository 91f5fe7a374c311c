package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/divoc/divoc/app"
)

// Insights is what the feedback, safety and analytics routes need.
type Insights interface {
	SideEffects() *SideEffects
	SubmitFeedback(ctx context.Context, in FeedbackInput, facility string) (*ReportResult, error)
	SubmitAEFI(ctx context.Context, in AEFIInput, facility string) (*ReportResult, error)
	Signals() (*Signals, error)
	Summary(by, from, to string) (*Summary, error)
	Subscribe(from int64, replay func(height int64, events []app.BlockEvent) bool) (chan []app.BlockEvent, int64, error)
	Unsubscribe(ch chan []app.BlockEvent)
}

// Dimensions of GET /v1/analytics/summary (by=...).
var Dimensions = []string{"day", "state", "district", "facility", "program", "vaccine", "dose", "age_band", "gender", "payment_mode", "batch", "reason"}

func (s *server) insights() (Insights, error) {
	in, ok := s.Backend.(Insights)
	if !ok {
		return nil, NewProblem(http.StatusNotImplemented, CodeInternal, "this node serves no analytics")
	}
	return in, nil
}

func (s *server) sideEffects(w http.ResponseWriter, _ *http.Request) error {
	in, err := s.insights()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, in.SideEffects())
}

// reporterFacility is the facility of a bearer token, if the request has one.
func (s *server) reporterFacility(r *http.Request) (string, error) {
	tok, ok := bearer(r)
	if !ok {
		return "", nil
	}
	fac, ok := s.Backend.FacilityForToken(tok)
	if !ok {
		return "", NewProblem(http.StatusForbidden, CodeForbidden, "unknown facility token")
	}
	return fac, nil
}

func (s *server) feedback(w http.ResponseWriter, r *http.Request) error {
	in, err := s.insights()
	if err != nil {
		return err
	}
	var req FeedbackInput
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	fac, err := s.reporterFacility(r)
	if err != nil {
		return err
	}
	if req.Certificate == "" {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "certificate is required").WithField("certificate", "required")
	}
	res, err := in.SubmitFeedback(r.Context(), req, fac)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, res)
}

func (s *server) aefi(w http.ResponseWriter, r *http.Request) error {
	in, err := s.insights()
	if err != nil {
		return err
	}
	var req AEFIInput
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	fac, err := s.reporterFacility(r)
	if err != nil {
		return err
	}
	if req.Certificate == "" || len(req.Symptoms) == 0 {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "certificate and at least one symptom are required").WithField("certificate,symptoms", "required")
	}
	res, err := in.SubmitAEFI(r.Context(), req, fac)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, res)
}

// aefiSummary answers GET /v1/aefi: AEFI counts by batch (or district, or
// day), filtered; never a single report.
func (s *server) aefiSummary(w http.ResponseWriter, r *http.Request) error {
	in, err := s.insights()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	by := "batch"
	if q.Get("district") != "" {
		by = "district"
	}
	if q.Get("by") != "" {
		by = q.Get("by")
	}
	if err := checkRange(q.Get("from"), q.Get("to")); err != nil {
		return err
	}
	sum, err := in.Summary(by, q.Get("from"), q.Get("to"))
	if err != nil {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, err.Error()).WithField("by", "dimension")
	}
	filter := map[string]string{"batch": q.Get("batch"), "district": q.Get("district")}
	type row struct {
		Key         string `json:"key"`
		AEFI        int64  `json:"aefi"`
		SeriousAEFI int64  `json:"serious_aefi"`
		Doses       int64  `json:"doses"`
	}
	out := struct {
		By     string `json:"by"`
		Height int64  `json:"height"`
		Rows   []row  `json:"rows"`
	}{By: by, Height: sum.Height, Rows: []row{}}
	for _, rw := range sum.Rows {
		if f := filter[by]; f != "" && rw.Key != f {
			continue
		}
		if rw.AEFI == 0 && rw.Doses == 0 {
			continue
		}
		out.Rows = append(out.Rows, row{Key: rw.Key, AEFI: rw.AEFI, SeriousAEFI: rw.SeriousAEFI, Doses: rw.Doses})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *server) signals(w http.ResponseWriter, _ *http.Request) error {
	in, err := s.insights()
	if err != nil {
		return err
	}
	sig, err := in.Signals()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sig)
}

func checkRange(from, to string) error {
	for name, d := range map[string]string{"from": from, "to": to} {
		if _, err := time.Parse(time.DateOnly, d); d != "" && err != nil {
			return NewProblem(http.StatusBadRequest, CodeBadRequest, name+" must be YYYY-MM-DD").WithField(name, "date")
		}
	}
	if from != "" && to != "" && to < from {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("to %s is before from %s", to, from)).WithField("to", "not_before_from")
	}
	return nil
}

func (s *server) summary(w http.ResponseWriter, r *http.Request) error {
	in, err := s.insights()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	by := q.Get("by")
	if by == "" {
		by = "day"
	}
	if !contains(Dimensions, by) {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("by must be one of %v", Dimensions)).WithField("by", "dimension")
	}
	if by == "gender" {
		// Gender is personal data from this node's vault: counts over a
		// day, or before and after one upload, can single a person out.
		if err := s.operatorOnly(r, "counts by gender come from personal data: the node operator's token reads them"); err != nil {
			return err
		}
	}
	if err := checkRange(q.Get("from"), q.Get("to")); err != nil {
		return err
	}
	sum, err := in.Summary(by, q.Get("from"), q.Get("to"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sum)
}

// stream serves committed events as Server-Sent Events: every block's
// journal entries, one event each, with "height:index" as the event id, so
// a client that reconnects with Last-Event-ID (or ?from=height) resumes
// right after the last event it got: nothing missed, nothing twice.
func (s *server) stream(w http.ResponseWriter, r *http.Request) error {
	in, err := s.insights()
	if err != nil {
		return err
	}
	from, skip, err := streamStart(r)
	if err != nil {
		return err
	}
	flusher := http.NewResponseController(w)
	send := func(h int64, evs []app.BlockEvent) bool {
		for i, e := range evs {
			if h == from && i <= skip {
				continue
			}
			b, _ := json.Marshal(e)
			if _, err := fmt.Fprintf(w, "id: %d:%d\nevent: %s\ndata: %s\n\n", h, i, e.Kind, b); err != nil {
				return false
			}
		}
		flusher.Flush()
		return r.Context().Err() == nil
	}
	started := false
	replay := func(h int64, evs []app.BlockEvent) bool {
		if !started {
			startStream(w)
			started = true
		}
		return send(h, evs)
	}
	ch, upTo, err := in.Subscribe(from, replay)
	if err != nil {
		if started { // the stream has begun: a problem cannot be sent now
			return nil
		}
		return err
	}
	defer in.Unsubscribe(ch)
	if !started {
		startStream(w)
	}
	fmt.Fprintf(w, ": following from height %d\n\n", upTo+1)
	flusher.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return nil
			}
			flusher.Flush()
		case evs, ok := <-ch:
			if !ok {
				fmt.Fprint(w, "event: reconnect\ndata: {\"reason\":\"the stream ended (too slow to keep up, or the node is stopping); reconnect with Last-Event-ID\"}\n\n")
				flusher.Flush()
				return nil
			}
			if len(evs) == 0 || evs[0].Height <= upTo {
				continue
			}
			if !send(evs[0].Height, evs) {
				return nil
			}
		}
	}
}

func startStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
}

// streamStart reads where a stream starts: ?from=height (that block on),
// or Last-Event-ID "height:index" (after that event; a bare height: after
// that block). skip is the last index already seen at from (-1: none).
func streamStart(r *http.Request) (from int64, skip int, err error) {
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = strconv.ParseInt(v, 10, 64); err != nil || from < 1 {
			return 0, 0, NewProblem(http.StatusBadRequest, CodeBadRequest, "from must be a height ≥ 1").WithField("from", "height")
		}
		return from, -1, nil
	}
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		return 0, -1, nil
	}
	bad := NewProblem(http.StatusBadRequest, CodeBadRequest, "Last-Event-ID must be an id this stream sent (height:index)").WithField("Last-Event-ID", "event_id")
	h, i, pair := strings.Cut(v, ":")
	if from, err = strconv.ParseInt(h, 10, 64); err != nil || from < 1 || from == math.MaxInt64 {
		return 0, 0, bad
	}
	if !pair {
		return from + 1, -1, nil
	}
	if skip, err = strconv.Atoi(i); err != nil || skip < 0 {
		return 0, 0, bad
	}
	return from, skip, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
