package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/divocfmt"
)

// Governor is what the registry and policy routes need: governed changes
// are signed with the node's governance key and go through the ledger's
// M-of-N proposals.
type Governor interface {
	// Govern proposes a change of a governed kind (see app.GovernedKinds)
	// with its statement; with a threshold of 1 it is applied at once.
	Govern(ctx context.Context, kind string, statement any) (*GovernanceResult, error)
	Approve(ctx context.Context, proposal string) (*GovernanceResult, error)
	Proposals(status string) []app.Proposal
	RegistryUpload(ctx context.Context, kind string, facilities []divocfmt.Facility, vaccinators []divocfmt.Vaccinator, errs []divocfmt.RowError) (*RegistryUpload, error)
	Vaccinators() []app.Vaccinator
	Districts() []app.District
	Schedule(recipient string) (*Schedule, error)
}

// GovernanceResult is where a change stands.
type GovernanceResult struct {
	Kind      string   `json:"kind"`
	Proposal  string   `json:"proposal"`
	Status    string   `json:"status"`
	Approvals []string `json:"approvals"`
	Threshold int      `json:"threshold"`
	Height    int64    `json:"height"`
	Reason    string   `json:"reason,omitempty"`
}

// RegistryUpload is the outcome of a DIVOC registry CSV: a change per good
// row, and every bad row.
type RegistryUpload struct {
	Rows    int                 `json:"rows"`
	Changes []RegistryChange    `json:"changes"`
	Errors  []divocfmt.RowError `json:"errors"`
}

// RegistryChange is one row's change.
type RegistryChange struct {
	Row    int               `json:"row"`
	Code   string            `json:"code"`
	Result *GovernanceResult `json:"result,omitempty"`
	// Key is the kid of a new facility's signing key (kept by this node,
	// with an API token, until the facility brings its own).
	Key string `json:"key,omitempty"`
}

// Schedule is a recipient's doses and what is due next, per program.
type Schedule struct {
	Recipient string            `json:"recipient"`
	Height    int64             `json:"height"`
	Programs  []ProgramSchedule `json:"programs"`
}

// ProgramSchedule is one program's doses and the next one.
type ProgramSchedule struct {
	Program string     `json:"program"`
	Doses   []app.Dose `json:"doses"`
	Next    *NextDose  `json:"next,omitempty"`
	Done    bool       `json:"complete"`
	Note    string     `json:"note,omitempty"`
}

// NextDose is when the next dose may be given.
type NextDose struct {
	Dose     int    `json:"dose"`
	Vaccine  string `json:"vaccine"`
	Booster  bool   `json:"booster"`
	DueFrom  string `json:"due_from"`
	DueUntil string `json:"due_until,omitempty"`
}

// VaccinatorInput registers a vaccinator: their details (kept in the
// node's vault; the ledger gets a keyed commitment) and where they work.
type VaccinatorInput struct {
	Code               string   `json:"code"`
	Name               string   `json:"name"`
	NationalIdentifier string   `json:"nationalIdentifier,omitempty"`
	Mobile             string   `json:"mobile,omitempty"`
	Email              string   `json:"email,omitempty"`
	Status             string   `json:"status"`
	Facilities         []string `json:"facilities"`
	Programs           []string `json:"programs,omitempty"`
}

func (s *server) governor() (Governor, error) {
	g, ok := s.Backend.(Governor)
	if !ok {
		return nil, NewProblem(http.StatusNotImplemented, CodeInternal, "this node does not govern registries")
	}
	return g, nil
}

// govern decodes a statement body of a governed kind and proposes it.
func govern[T any](s *server, w http.ResponseWriter, r *http.Request, kind string, check func(*T) error) error {
	g, err := s.governor()
	if err != nil {
		return err
	}
	var stmt T
	if err := decodeJSON(r, &stmt); err != nil {
		return err
	}
	if check != nil {
		if err := check(&stmt); err != nil {
			return err
		}
	}
	res, err := g.Govern(r.Context(), kind, stmt)
	if err != nil {
		return err
	}
	return writeGovernance(w, res)
}

func writeGovernance(w http.ResponseWriter, res *GovernanceResult) error {
	status := http.StatusOK
	if res.Status == app.ProposalPending {
		status = http.StatusAccepted
	}
	return writeJSON(w, status, res)
}

func (s *server) listFacilities(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, s.Backend.Registry().Facilities)
}

func (s *server) setFacility(w http.ResponseWriter, r *http.Request) error {
	return govern[app.RegisterFacilityStatement](s, w, r, app.KindRegisterFacility, nil)
}

func (s *server) listPrograms(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, s.Backend.Registry().Programs)
}

func (s *server) setProgram(w http.ResponseWriter, r *http.Request) error {
	return govern[app.SetProgramStatement](s, w, r, app.KindSetProgram, nil)
}

func (s *server) setPhase(w http.ResponseWriter, r *http.Request) error {
	g, err := s.governor()
	if err != nil {
		return err
	}
	var body struct {
		Open *bool `json:"open"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Open == nil {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, `body must be {"open": true|false}`).WithField("open", "required")
	}
	res, err := g.Govern(r.Context(), app.KindSetPhase, app.SetPhaseStatement{Open: *body.Open, Phase: chi.URLParam(r, "phase"), Program: chi.URLParam(r, "id")})
	if err != nil {
		return err
	}
	return writeGovernance(w, res)
}

func (s *server) listVaccines(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, s.Backend.Registry().Vaccines)
}

func (s *server) setVaccine(w http.ResponseWriter, r *http.Request) error {
	return govern[app.SetVaccineStatement](s, w, r, app.KindSetVaccine, nil)
}

func (s *server) listDistricts(w http.ResponseWriter, _ *http.Request) error {
	g, err := s.governor()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g.Districts())
}

func (s *server) setDistrict(w http.ResponseWriter, r *http.Request) error {
	return govern[app.SetDistrictStatement](s, w, r, app.KindSetDistrict, nil)
}

func (s *server) listVaccinators(w http.ResponseWriter, _ *http.Request) error {
	g, err := s.governor()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g.Vaccinators())
}

func (s *server) setVaccinator(w http.ResponseWriter, r *http.Request) error {
	g, err := s.governor()
	if err != nil {
		return err
	}
	var in VaccinatorInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.Code == "" || in.Name == "" || len(in.Facilities) == 0 {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "a vaccinator needs a code, a name and at least one facility").WithField("code,name,facilities", "required")
	}
	v := divocfmt.Vaccinator{Code: in.Code, Name: in.Name, NationalIdentifier: in.NationalIdentifier, Mobile: in.Mobile, Email: in.Email, Status: in.Status, FacilityCodes: in.Facilities, Programs: in.Programs}
	up, err := g.RegistryUpload(r.Context(), "vaccinators", nil, []divocfmt.Vaccinator{v}, nil)
	if err != nil {
		return err
	}
	c := up.Changes[0]
	if c.Result == nil {
		return NewProblem(http.StatusUnprocessableEntity, c.Code, "the vaccinator was not registered")
	}
	return writeGovernance(w, c.Result)
}

func (s *server) proposals(w http.ResponseWriter, r *http.Request) error {
	g, err := s.governor()
	if err != nil {
		return err
	}
	status := r.URL.Query().Get("status")
	if status != "" && !contains([]string{app.ProposalPending, app.ProposalApplied, app.ProposalFailed, app.ProposalExpired}, status) {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "status must be pending, applied, failed or expired").WithField("status", "enum")
	}
	return writeJSON(w, http.StatusOK, g.Proposals(status))
}

func (s *server) propose(w http.ResponseWriter, r *http.Request) error {
	g, err := s.governor()
	if err != nil {
		return err
	}
	var body struct {
		Kind      string          `json:"kind"`
		Statement json.RawMessage `json:"statement"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if app.PartTypeOf(body.Kind) == "" {
		return NewProblem(http.StatusBadRequest, string(app.CodeUnknownKind), "kind must be one of "+strings.Join(app.GovernedKinds, ", ")).WithField("kind", "governed_kind")
	}
	if len(body.Statement) == 0 {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "statement is required").WithField("statement", "required")
	}
	res, err := g.Govern(r.Context(), body.Kind, body.Statement)
	if err != nil {
		return err
	}
	return writeGovernance(w, res)
}

func (s *server) approve(w http.ResponseWriter, r *http.Request) error {
	g, err := s.governor()
	if err != nil {
		return err
	}
	res, err := g.Approve(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	return writeGovernance(w, res)
}

func (s *server) facilitiesUpload(w http.ResponseWriter, r *http.Request) error {
	return s.registryUpload(w, r, "facilities")
}

func (s *server) vaccinatorsUpload(w http.ResponseWriter, r *http.Request) error {
	return s.registryUpload(w, r, "vaccinators")
}

func (s *server) registryUpload(w http.ResponseWriter, r *http.Request, kind string) error {
	g, err := s.governor()
	if err != nil {
		return err
	}
	src, err := csvBody(r)
	if err != nil {
		return err
	}
	var (
		facs []divocfmt.Facility
		vacs []divocfmt.Vaccinator
		errs []divocfmt.RowError
		ferr error
	)
	if kind == "facilities" {
		facs, errs, ferr = divocfmt.ParseFacilitiesCSV(src)
	} else {
		vacs, errs, ferr = divocfmt.ParseVaccinatorsCSV(src)
	}
	if ferr != nil {
		return fileProblem(ferr)
	}
	up, err := g.RegistryUpload(r.Context(), kind, facs, vacs, errs)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, up)
}

func (s *server) schedule(w http.ResponseWriter, r *http.Request) error {
	g, err := s.governor()
	if err != nil {
		return err
	}
	sc, err := g.Schedule(chi.URLParam(r, "ref"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sc)
}
