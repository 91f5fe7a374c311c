package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/vault"
)

// Service is what the API calls: it turns uploads into signed ledger
// transactions with certificates, and answers certificate queries from the
// ledger and the vault.
type Service struct {
	home      Home
	settings  Settings
	app       *app.App
	vault     *vault.Vault
	ledger    *Ledger
	metrics   *Metrics
	issuer    *keys.Signer
	governor  *keys.Signer // nil when this node holds no governance key
	formats   *formatSigners
	analytics *Analytics
	stream    *Stream
	// receiptChain reads signed headers (see AttachChain).
	receiptChain atomic.Pointer[receiptState]
	pseudonym    ingest.PseudonymKey

	adminToken     string
	facilityTokens map[string]string

	keyMu        sync.Mutex
	facilityKeys map[string]*keys.Signer

	// inflight counts each facility's batches queued or being committed
	// (threat 20: one facility cannot monopolize the node).
	inflightMu sync.Mutex
	inflight   map[string]int

	jobs chan func()
	wg   sync.WaitGroup
	// stopping ends with Close: it ends the uploads' waits (a batch
	// waiting for a commit, which may never come if the other validators
	// are stopping too, does not hold the shutdown) and refuses new
	// uploads. Uploads left so are marked interrupted at the next start.
	stopping context.Context
	stop     context.CancelFunc
}

// NewService loads the node's keys and starts the upload workers.
func NewService(h Home, s Settings, a *app.App, v *vault.Vault, l *Ledger, m *Metrics) (*Service, error) {
	issuer, err := keys.Load(h.Resolve(s.IssuerKey))
	if err != nil {
		return nil, fmt.Errorf("issuer key: %w", err)
	}
	pk, err := ingest.LoadPseudonymKey(h.PseudonymKey())
	if err != nil {
		return nil, err
	}
	svc := &Service{home: h, settings: s, app: a, vault: v, ledger: l, metrics: m, issuer: issuer, pseudonym: pk,
		facilityTokens: map[string]string{}, facilityKeys: map[string]*keys.Signer{}, inflight: map[string]int{}}
	svc.stopping, svc.stop = context.WithCancel(context.Background())
	if svc.formats, err = loadFormatSigners(h, s, pk); err != nil {
		return nil, err
	}
	if s.GovernanceKey != "" {
		if svc.governor, err = keys.Load(h.Resolve(s.GovernanceKey)); err != nil {
			return nil, fmt.Errorf("governance key: %w", err)
		}
	}
	if b, err := os.ReadFile(h.AdminToken()); err == nil {
		svc.adminToken = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(h.FacilityTokens()); err == nil {
		if err := json.Unmarshal(b, &svc.facilityTokens); err != nil {
			return nil, fmt.Errorf("%s: %w", h.FacilityTokens(), err)
		}
	}
	if _, err := v.InterruptUploads(time.Now()); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	workers := max(s.UploadWorkers, 1)
	svc.jobs = make(chan func(), 1024)
	for i := 0; i < workers; i++ {
		svc.wg.Add(1)
		go func() {
			defer svc.wg.Done()
			for job := range svc.jobs {
				job()
			}
		}()
	}
	return svc, nil
}

// Close ends the uploads' waits and stops the workers: queued batches are
// not submitted.
func (s *Service) Close() {
	if s.stopping.Err() != nil {
		return
	}
	s.stop()
	close(s.jobs)
	s.wg.Wait()
}

// AdminToken is the operator's token for issuer operations.
func (s *Service) AdminToken() string { return s.adminToken }

// FacilityForToken implements api.Backend.
func (s *Service) FacilityForToken(token string) (string, bool) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	f, ok := s.facilityTokens[token]
	return f, ok
}

// FacilityTokens lists token -> facility (for the demo and tests).
func (s *Service) FacilityTokens() map[string]string {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	out := make(map[string]string, len(s.facilityTokens))
	for k, v := range s.facilityTokens {
		out[k] = v
	}
	return out
}

func (s *Service) snapshot() (*app.Snapshot, error) {
	snap := s.app.Committed()
	if snap == nil {
		return nil, api.NewProblem(http.StatusServiceUnavailable, api.CodeBusy, "the ledger has no committed block yet")
	}
	return snap, nil
}

// Catalog resolves names against the ledger's registries and the vault's
// vaccinators.
func (s *Service) Catalog(snap *app.Snapshot) (*ingest.Catalog, error) {
	vs, err := s.vault.Vaccinators()
	if err != nil {
		return nil, err
	}
	return ingest.NewCatalog(app.List[app.Vaccine](snap, app.PrefixVaccines), app.List[app.Program](snap, app.PrefixPrograms), vs).InZone(s.app.Params().TimezoneOffsetMinutes), nil
}

func (s *Service) facilityKey(code string) (*keys.Signer, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if k, ok := s.facilityKeys[code]; ok {
		return k, nil
	}
	k, err := keys.Load(s.home.FacilityKey(code))
	if err != nil {
		return nil, api.NewProblem(http.StatusForbidden, api.CodeForbidden, "this node holds no key for facility "+code+": sign the upload yourself")
	}
	s.facilityKeys[code] = k
	return k, nil
}

// Submit implements api.Backend.
func (s *Service) Submit(ctx context.Context, sub api.Submission) (*vault.Upload, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	var facilityPart *app.Part
	if sub.Signature != "" {
		fac, err := s.signer(snap, sub.Signature)
		if err != nil {
			return nil, err
		}
		sub.Facility = fac
	}
	if sub.Facility == "" {
		return nil, api.NewProblem(http.StatusUnauthorized, api.CodeUnauthenticated, "no facility: sign the upload or send a facility token")
	}
	f := snap.Facility(sub.Facility)
	if f == nil || f.Status != app.StatusActive {
		return nil, api.NewProblem(http.StatusForbidden, string(app.CodeFacilityInactive), "facility "+sub.Facility+" is not registered or not active")
	}
	cat, err := s.Catalog(snap)
	if err != nil {
		return nil, err
	}
	batch := ingest.Prepare(sub.Facility, sub.Program, sub.Certs, cat, s.pseudonym)
	up := &vault.Upload{ID: newID(), Facility: sub.Facility, Kind: sub.Format, Status: vault.UploadProcessing, Rows: sub.Rows,
		Errors: append(append([]divocfmt.RowError{}, sub.Errors...), batch.Errors...), CreatedAt: time.Now().UTC()}
	for _, e := range up.Errors {
		s.metrics.RowErrors.WithLabelValues(e.Code).Inc()
	}
	up.Rejected = countBadRows(up.Errors)
	up.Pending = len(batch.Rows)
	up.UpdatedAt = up.CreatedAt
	if len(batch.Rows) == 0 {
		up.Status, up.Message = vault.UploadFailed, "no valid rows"
		if err := s.vault.PutUpload(up); err != nil {
			return nil, err
		}
		p := api.NewProblem(http.StatusUnprocessableEntity, api.CodeNoValidRows, "no row of the upload can be recorded; see errors")
		p.Errors = up.Errors
		return nil, p
	}

	var chunks []ingest.Batch
	if sub.Signature != "" {
		// The facility signed exactly the events of the valid rows: one
		// transaction. Check the signature now, so that a mismatch is a 401
		// to the caller rather than a failed upload.
		part, err := app.PartFromDetached(sub.Signature, batch.Payload())
		if err != nil {
			return nil, api.NewProblem(http.StatusUnauthorized, string(app.CodeBadSignature), err.Error()).WithField(api.HeaderSignature, "detached_jws")
		}
		if err := checkFacilitySignature(snap, part, sub.Facility); err != nil {
			return nil, err
		}
		if h, _ := app.ParseHeader(part.Protected); h.Nonce != "" {
			if used, _ := snap.Get(app.NonceKey(h.KID, h.Nonce)); used != nil {
				return nil, api.NewProblem(http.StatusConflict, string(app.CodeReplay),
					fmt.Sprintf("this signed upload was already recorded at height %s (nonce %s); sign a new one to submit again", used, h.Nonce)).WithField(api.HeaderSignature, "fresh_nonce")
			}
		}
		facilityPart = &part
		chunks = []ingest.Batch{batch}
	} else {
		size := max(s.settings.BatchSize, 1)
		for i := 0; i < len(batch.Rows); i += size {
			chunks = append(chunks, ingest.Batch{Facility: batch.Facility, Rows: batch.Rows[i:min(i+size, len(batch.Rows))]})
		}
	}
	if err := s.reserve(sub.Facility, len(chunks)); err != nil {
		return nil, err
	}
	if err := s.vault.PutUpload(up); err != nil {
		s.release(sub.Facility, len(chunks))
		return nil, err
	}

	// One job per upload: its batches commit in row order, so that a
	// person's dose 2 never reaches the ledger before their dose 1 from the
	// same upload. Different uploads run in parallel.
	tr := &uploadTracker{svc: s, up: up, left: len(chunks), done: make(chan struct{})}
	job := func() {
		for _, c := range chunks {
			tr.finish(s.processChunk(s.stopping, up.ID, c, facilityPart))
			s.release(sub.Facility, 1)
		}
	}
	select {
	case s.jobs <- job:
	case <-s.stopping.Done():
		s.release(sub.Facility, len(chunks))
		return nil, api.NewProblem(http.StatusServiceUnavailable, api.CodeBusy, "the node is shutting down")
	}
	if !sub.Wait {
		return tr.snapshot(), nil
	}
	select {
	case <-tr.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return tr.snapshot(), nil
}

// reserve admits n more batches of a facility, or refuses with 429.
func (s *Service) reserve(facility string, n int) error {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	limit := s.settings.MaxInflightPerFacility
	if limit > 0 && s.inflight[facility] > 0 && s.inflight[facility]+n > limit {
		p := api.NewProblem(http.StatusTooManyRequests, string(app.CodeRateLimited),
			fmt.Sprintf("facility %s already has %d batches waiting (limit %d); retry when they have committed", facility, s.inflight[facility], limit))
		return p
	}
	s.inflight[facility] += n
	return nil
}

func (s *Service) release(facility string, n int) {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	s.inflight[facility] -= n
	if s.inflight[facility] <= 0 {
		delete(s.inflight, facility)
	}
}

// signer resolves the facility of a detached JWS's key.
func (s *Service) signer(snap *app.Snapshot, jws string) (string, error) {
	prot, _, _ := strings.Cut(jws, "..")
	h, err := app.ParseHeader(prot)
	if err != nil {
		return "", api.NewProblem(http.StatusUnauthorized, string(app.CodeBadSignature), "the "+api.HeaderSignature+" header is not a detached JWS: "+err.Error()).WithField(api.HeaderSignature, "detached_jws")
	}
	k := snap.Key(h.KID)
	if k == nil || k.Role != app.RoleFacility || !strings.HasPrefix(k.Owner, "facility/") {
		return "", api.NewProblem(http.StatusUnauthorized, string(app.CodeUnauthorized), "key "+h.KID+" is not a facility key registered on the ledger").WithField(api.HeaderSignature, "registered_key")
	}
	if !k.ValidAt(snap.Height + 1) {
		return "", api.NewProblem(http.StatusUnauthorized, string(app.CodeUnauthorized), "key "+h.KID+" is retired").WithField(api.HeaderSignature, "key_validity")
	}
	return strings.TrimPrefix(k.Owner, "facility/"), nil
}

func checkFacilitySignature(snap *app.Snapshot, p app.Part, facility string) error {
	h, _ := app.ParseHeader(p.Protected)
	k := snap.Key(h.KID)
	pub, err := k.PublicKey()
	sig, derr := b64url(p.Signature)
	if err != nil || derr != nil || !ed25519Verify(pub, p.SigningInput(), sig) {
		return api.NewProblem(http.StatusUnauthorized, string(app.CodeBadSignature),
			"the signature (by facility "+facility+"'s key) does not cover the events derived from this upload's valid rows as facility "+facility+"'s; sign what ingest.Prepare derives from the same rows, with the key of the facility that gave the doses").WithField(api.HeaderSignature, "signature")
	}
	return nil
}

// uploadTracker gathers the chunks of one upload.
type uploadTracker struct {
	svc  *Service
	mu   sync.Mutex
	up   *vault.Upload
	left int
	done chan struct{}
}

type chunkResult struct {
	results []vault.RowResult
	tx      string
	height  int64
	err     error
	rows    int
}

func (t *uploadTracker) finish(r chunkResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	up := t.up
	up.Pending -= r.rows
	if r.err != nil {
		up.Message = strings.TrimSpace(up.Message + " " + r.err.Error())
		if len(r.results) > 0 && r.results[0].Code == api.CodeTimeout {
			up.Unknown += r.rows
		} else {
			up.Rejected += r.rows
		}
		up.Results = append(up.Results, r.results...)
	} else {
		for _, rr := range r.results {
			if rr.Code == string(app.OK) {
				up.Accepted++
			} else {
				up.Rejected++
			}
			up.Results = append(up.Results, rr)
		}
		up.Batches = append(up.Batches, r.tx)
		up.Height = max(up.Height, r.height)
	}
	up.UpdatedAt = time.Now().UTC()
	t.left--
	if t.left == 0 {
		up.Status = vault.UploadCommitted
		if up.Accepted == 0 {
			up.Status = vault.UploadFailed
		}
		t.svc.metrics.Uploads.WithLabelValues(up.Status).Inc()
	}
	_ = t.svc.vault.PutUpload(up)
	if t.left == 0 {
		close(t.done)
	}
}

func (t *uploadTracker) snapshot() *vault.Upload {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := *t.up
	c.Errors = append(make([]divocfmt.RowError, 0, len(t.up.Errors)), t.up.Errors...)
	c.Results = append(make([]vault.RowResult, 0, len(t.up.Results)), t.up.Results...)
	return &c
}

// processChunk issues the certificates of a chunk, keeps them in the vault,
// and submits one transaction with the facility's events and the issuer's
// anchors; it returns each row's outcome.
func (s *Service) processChunk(ctx context.Context, upload string, b ingest.Batch, facilityPart *app.Part) chunkResult {
	res := chunkResult{rows: len(b.Rows)}
	fail := func(err error) chunkResult {
		res.err = err
		for _, r := range b.Rows {
			res.results = append(res.results, vault.RowResult{Row: r.Cert.Row, Code: "not_submitted", Reason: err.Error()})
		}
		return res
	}
	if ctx.Err() != nil {
		return fail(errors.New("the node stopped before this batch was submitted; send the rows again"))
	}
	snap, err := s.snapshot()
	if err != nil {
		return fail(err)
	}
	var p0 app.Part
	if facilityPart != nil {
		p0 = *facilityPart
	} else {
		k, err := s.facilityKey(b.Facility)
		if err != nil {
			return fail(err)
		}
		if p0, err = b.Sign(s.app.ChainID(), k, time.Now()); err != nil {
			return fail(err)
		}
	}
	recs, anchors, err := s.issue(snap, upload, b)
	if err != nil {
		return fail(err)
	}
	payload, _ := b64url(p0.Payload)
	stmt := app.AnchorStatement{Anchors: anchors, Events: sha256Hex(payload), Issuer: s.settings.IssuerID}
	p1, err := app.SignPart(app.TypAnchors, s.app.ChainID(), s.issuer.KID(), ingest.NewNonce(), time.Now().Unix(), stmt, s.issuer.Sign)
	if err != nil {
		return fail(err)
	}
	if err := s.vault.PutRecords(recs); err != nil {
		return fail(err)
	}
	tx := (&app.Tx{Kind: app.KindRecord, Parts: []app.Part{p0, p1}}).Encode()
	start := time.Now()
	out, err := s.ledger.Submit(ctx, tx)
	var refused *app.Error
	switch {
	case errors.As(err, &refused):
		s.forget(recs)
		return fail(fmt.Errorf("the ledger refused the batch: %s: %s", refused.Code, refused.Reason))
	case err != nil:
		// Not known to be refused (a timeout, the node stopping): the
		// records stay, the transaction may still commit. Say so: these
		// rows are not refused, their outcome is unknown.
		res = fail(fmt.Errorf("%w; the batch may still commit: send the same rows again later (a row already committed comes back as duplicate_dose naming its certificate)", err))
		for i := range res.results {
			res.results[i].Code = api.CodeTimeout
		}
		return res
	}
	s.metrics.SubmitLatency.Observe(time.Since(start).Seconds())
	res.tx, res.height = out.TxHash, out.Height
	if out.Result.Code != app.OK {
		s.forget(recs)
		return fail(fmt.Errorf("the ledger refused the batch: %s: %s", out.Result.Code, out.Result.Reason))
	}
	var gone []*vault.Record
	for i, it := range out.Result.Items {
		rr := vault.RowResult{Row: b.Rows[i].Cert.Row, Code: string(it.Code), Reason: it.Reason, Certificate: it.Certificate}
		res.results = append(res.results, rr)
		if it.Code != app.OK {
			gone = append(gone, recs[i])
		}
	}
	s.forget(gone)
	return res
}

// forget deletes the vault records of certificates the ledger refused.
func (s *Service) forget(recs []*vault.Record) {
	if len(recs) > 0 {
		_ = s.vault.DeleteRecords(recs)
	}
}
