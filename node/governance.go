package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/divocfmt"
	"github.com/divoc/divoc/genesis"
	"github.com/divoc/divoc/ingest"
	"github.com/divoc/divoc/internal/strictjson"
	"github.com/divoc/divoc/keys"
)

// Govern implements api.Governor: the change is proposed by this node's
// authority (signed with its governance key); with a threshold of 1 the
// proposal applies it in the same transaction.
func (s *Service) Govern(ctx context.Context, kind string, statement any) (*api.GovernanceResult, error) {
	if s.governor == nil {
		return nil, api.NewProblem(http.StatusForbidden, api.CodeForbidden, "this node holds no governance key")
	}
	payload, err := canonicalStatement(kind, statement)
	if err != nil {
		return nil, err
	}
	stmt := app.ProposeStatement{Change: app.ChangeRef{Kind: kind, Statement: base64.RawURLEncoding.EncodeToString(payload)}, Proposer: s.settings.IssuerID}
	return s.governanceTx(ctx, app.KindPropose, app.TypPropose, stmt)
}

// canonicalStatement turns a statement (a Go value or raw JSON) into the
// canonical payload of its kind, refusing what the ledger would.
func canonicalStatement(kind string, statement any) ([]byte, error) {
	raw, ok := statement.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(statement); err != nil {
			return nil, err
		}
	}
	// Decode into the kind's statement type and encode canonically.
	v := app.NewStatement(kind)
	if v == nil {
		return nil, api.NewProblem(http.StatusBadRequest, string(app.CodeUnknownKind), fmt.Sprintf("%q is not a governed kind: want one of %v", kind, app.GovernedKinds))
	}
	if err := strictjson.CheckNoDuplicateKeys(raw); err != nil {
		return nil, api.NewProblem(http.StatusBadRequest, "duplicate_key", err.Error()).WithField("statement", "json")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, api.NewProblem(http.StatusBadRequest, api.CodeBadRequest, "statement of "+kind+": "+err.Error()).WithField("statement", kind)
	}
	return strictjson.Marshal(v)
}

// Approve implements api.Governor.
func (s *Service) Approve(ctx context.Context, proposal string) (*api.GovernanceResult, error) {
	if s.governor == nil {
		return nil, api.NewProblem(http.StatusForbidden, api.CodeForbidden, "this node holds no governance key")
	}
	return s.governanceTx(ctx, app.KindApprove, app.TypApprove, app.ApproveStatement{Approver: s.settings.IssuerID, Proposal: proposal})
}

func (s *Service) governanceTx(ctx context.Context, kind, typ string, stmt any) (*api.GovernanceResult, error) {
	p, err := app.SignPart(typ, s.app.ChainID(), s.governor.KID(), ingest.NewNonce(), time.Now().Unix(), stmt, s.governor.Sign)
	if err != nil {
		return nil, err
	}
	out, err := s.ledger.Submit(ctx, (&app.Tx{Kind: kind, Parts: []app.Part{p}}).Encode())
	if err != nil {
		return nil, ledgerProblem(err)
	}
	r := out.Result
	if r.Code != app.OK {
		status := http.StatusUnprocessableEntity
		switch r.Code {
		case app.CodeUnknownProposal:
			status = http.StatusNotFound
		case app.CodeAlreadyApproved, app.CodeProposalClosed:
			status = http.StatusConflict
		case app.CodeUnauthorized:
			status = http.StatusForbidden
		}
		return nil, api.NewProblem(status, string(r.Code), r.Reason)
	}
	pr := s.proposal(r.Proposal)
	if pr == nil {
		return nil, fmt.Errorf("proposal %s not found after commit", r.Proposal)
	}
	res := &api.GovernanceResult{Kind: pr.Change.Kind, Proposal: pr.ID, Status: pr.Status, Approvals: pr.Approvals, Threshold: pr.Threshold, Height: out.Height, Reason: pr.Reason}
	if pr.Status == app.ProposalFailed {
		p := api.NewProblem(http.StatusUnprocessableEntity, string(app.CodeInvalidRegistry), "the ledger refused the change: "+pr.Reason)
		return nil, p
	}
	return res, nil
}

func (s *Service) proposal(id string) *app.Proposal {
	snap := s.app.Committed()
	if snap == nil {
		return nil
	}
	b, _ := snap.Get(app.ProposalKey(id))
	if b == nil {
		return nil
	}
	var pr app.Proposal
	if json.Unmarshal(b, &pr) != nil {
		return nil
	}
	return &pr
}

// Proposals implements api.Governor.
func (s *Service) Proposals(status string) []app.Proposal {
	snap := s.app.Committed()
	if snap == nil {
		return nil
	}
	out := []app.Proposal{}
	for _, pr := range app.List[app.Proposal](snap, "gov/proposal/") {
		if status == "" || pr.Status == status {
			out = append(out, pr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Height > out[j].Height })
	return out
}

// Vaccinators implements api.Governor.
func (s *Service) Vaccinators() []app.Vaccinator {
	if snap := s.app.Committed(); snap != nil {
		return app.List[app.Vaccinator](snap, app.PrefixVaccinators)
	}
	return nil
}

// Districts implements api.Governor.
func (s *Service) Districts() []app.District {
	if snap := s.app.Committed(); snap != nil {
		return app.List[app.District](snap, "reg/district/")
	}
	return nil
}

// RegistryUpload implements api.Governor: one governance change per good
// row of a DIVOC registry file. A new facility gets a signing key and an
// API token kept by this node (custodial) until it registers its own key.
// Vaccinators' details go to the vault; the ledger gets a commitment.
func (s *Service) RegistryUpload(ctx context.Context, kind string, facs []divocfmt.Facility, vacs []divocfmt.Vaccinator, errs []divocfmt.RowError) (*api.RegistryUpload, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	up := &api.RegistryUpload{Errors: append([]divocfmt.RowError{}, errs...), Changes: []api.RegistryChange{}}
	type job struct {
		row   int
		field string
		kind  string
		stmt  any
		code  string       // a new facility's code
		key   *keys.Signer // and its new key, kept only once the ledger registers it
	}
	var jobs []job
	programs := make([]string, 0)
	for _, p := range app.List[app.Program](snap, app.PrefixPrograms) {
		programs = append(programs, p.ID)
	}
	for _, f := range facs {
		fac := genesis.FacilityFromDIVOC(f, programs)
		// The ledger would refuse it; and its code names a file below.
		if err := fac.Validate(); err != nil {
			up.Errors = append(up.Errors, divocfmt.RowError{Row: f.Row, Field: "facilityCode", Code: string(app.CodeInvalidRegistry), Message: err.Error()})
			continue
		}
		st := app.RegisterFacilityStatement{Facility: fac, Keys: []app.KeySpec{}, Retire: []string{}}
		j := job{row: f.Row, field: "facilityCode", kind: app.KindRegisterFacility}
		if old := snap.Facility(f.Code); old != nil {
			fac.Programs, fac.Caps = old.Programs, old.Caps // the CSV does not carry them
			st.Facility = fac
		} else {
			if _, err := os.Stat(s.home.FacilityKey(f.Code)); err == nil {
				up.Errors = append(up.Errors, divocfmt.RowError{Row: f.Row, Field: "facilityCode", Code: "key_exists",
					Message: "this node already holds a key file for facility " + f.Code + " (" + s.home.FacilityKey(f.Code) + ") though the ledger does not list it; remove the file to register the facility again"})
				continue
			}
			k, err := keys.Generate(keys.AlgEdDSA)
			if err != nil {
				return nil, err
			}
			st.Keys = []app.KeySpec{{Public: base64.RawURLEncoding.EncodeToString(k.Public().(ed25519.PublicKey)), Role: app.RoleFacility}}
			j.code, j.key = f.Code, k
		}
		j.stmt = st
		jobs = append(jobs, j)
	}
	if len(vacs) > 0 {
		if err := s.vault.PutVaccinators(vacs); err != nil {
			return nil, err
		}
	}
	for _, v := range vacs {
		at := append([]string(nil), v.FacilityCodes...)
		sort.Strings(at)
		vr := genesis.VaccinatorFromDIVOC(v, at, s.pseudonym)
		vr.Programs = v.Programs
		if old := snap.Vaccinator(v.Code); old != nil && len(vr.Programs) == 0 {
			vr.Programs = old.Programs
		}
		jobs = append(jobs, job{row: v.Row, field: "code", kind: app.KindRegisterVaccinator, stmt: app.RegisterVaccinatorStatement{Vaccinator: vr}})
	}
	up.Rows = len(jobs) + countBadRows(up.Errors)
	results := make([]api.RegistryChange, len(jobs))
	refusals := make([]divocfmt.RowError, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, j job) {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := s.Govern(ctx, j.kind, j.stmt)
			if err == nil && j.key != nil {
				// Registered (or proposed) with this key: keep it, and a
				// token. A refused facility leaves nothing behind.
				err = s.keepFacilityKey(j.code, j.key)
			}
			rc := api.RegistryChange{Row: j.row, Code: string(app.OK), Result: res}
			if j.key != nil {
				rc.Key = j.key.KID()
			}
			if err != nil {
				rc = api.RegistryChange{Row: j.row, Code: "failed"}
				refusals[i] = divocfmt.RowError{Row: j.row, Field: j.field, Code: "failed", Message: err.Error()}
				var p *api.Problem
				if errors.As(err, &p) {
					rc.Code = p.Code
					refusals[i].Code, refusals[i].Message = p.Code, p.Detail
				}
			}
			results[i] = rc
		}(i, j)
	}
	wg.Wait()
	for i, rc := range results {
		up.Changes = append(up.Changes, rc)
		if rc.Result == nil {
			up.Errors = append(up.Errors, refusals[i])
		}
	}
	sort.SliceStable(up.Errors, func(i, j int) bool { return up.Errors[i].Row < up.Errors[j].Row })
	return up, nil
}

// keepFacilityKey keeps a new facility's signing key and makes it an API
// token. The code has passed the ledger's rule (letters, digits, _ . -; no
// path separator), and no key file of that name exists.
func (s *Service) keepFacilityKey(code string, k *keys.Signer) error {
	path := s.home.FacilityKey(code)
	if filepath.Dir(path) != filepath.Join(s.home.Keys(), "facilities") {
		return fmt.Errorf("facility code %q does not name a file in %s", code, filepath.Join(s.home.Keys(), "facilities"))
	}
	if err := keys.Save(path, k, app.FacilityOwner(code), app.RoleFacility); err != nil {
		return err
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	s.facilityKeys[code] = k
	s.facilityTokens[randomToken()] = code
	b, _ := json.MarshalIndent(s.facilityTokens, "", "  ")
	return os.WriteFile(s.home.FacilityTokens(), b, 0o600)
}

// Schedule implements api.Governor: a recipient's doses per program and
// when the next one is due under the vaccine's schedule.
func (s *Service) Schedule(recipient string) (*api.Schedule, error) {
	snap, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	if len(recipient) != 64 {
		return nil, api.NewProblem(http.StatusBadRequest, api.CodeBadRequest, "a recipient reference is 64 hex digits (the event's recipient)").WithField("ref", "hex64")
	}
	doses, err := s.app.Doses(snap, recipient)
	if err != nil {
		return nil, err
	}
	sc := &api.Schedule{Recipient: recipient, Height: snap.Height, Programs: []api.ProgramSchedule{}}
	for i := 0; i < len(doses); {
		j := i
		for j < len(doses) && doses[j].Program == doses[i].Program {
			j++
		}
		sc.Programs = append(sc.Programs, nextDose(snap, doses[i].Program, doses[i:j]))
		i = j
	}
	return sc, nil
}

func nextDose(snap *app.Snapshot, program string, doses []app.Dose) api.ProgramSchedule {
	ps := api.ProgramSchedule{Program: program, Doses: doses}
	last := doses[len(doses)-1]
	vac := snap.Vaccine(last.Vaccine)
	if vac == nil {
		ps.Note = "vaccine " + last.Vaccine + " is no longer registered"
		return ps
	}
	n := last.Dose + 1
	if n > vac.Doses+vac.Boosters {
		ps.Done = true
		ps.Note = fmt.Sprintf("course of %s complete (%d doses, %d boosters)", vac.Code, vac.Doses, vac.Boosters)
		return ps
	}
	ps.Done = last.Dose >= vac.Doses
	day, err := time.Parse(time.DateOnly, last.Date)
	if err != nil {
		return ps
	}
	wait, booster := vac.MinIntervalDays, n > vac.Doses
	if booster && vac.BoosterIntervalDays > 0 {
		wait = vac.BoosterIntervalDays
	}
	next := &api.NextDose{Dose: n, Vaccine: vac.Code, Booster: booster, DueFrom: day.AddDate(0, 0, wait).Format(time.DateOnly)}
	if !booster && vac.MaxIntervalDays > 0 {
		next.DueUntil = day.AddDate(0, 0, vac.MaxIntervalDays).Format(time.DateOnly)
	}
	ps.Next = next
	return ps
}
