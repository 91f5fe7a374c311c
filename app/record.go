package app

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/divoc/divoc/internal/strictjson"
)

// vaccination.record/v1: a batch of vaccination events signed by the
// facility that gave them, optionally with the issuing authority's anchors
// of the certificates it signed for them (one per event, in order).
//
// Part 0, typ "divoc-record+json", facility-signed: RecordStatement.
// Part 1, typ "divoc-anchors+json", issuer-signed:  AnchorStatement, whose
// Events field is the SHA-256 of part 0's payload.
//
// Every event is checked against the registries and the dose history; an
// event that fails takes its anchor with it. The batch commitment is the
// Merkle root over one leaf per event: the event, its result and its anchor.

// Part types of a record transaction.
const (
	TypRecord  = "divoc-record+json"
	TypAnchors = "divoc-anchors+json"
)

// RecordStatement is what the facility signs. No personal data: the
// recipient is a keyed hash of their identity and the commitment a keyed
// hash of their details, both computed with a key that is not on the ledger.
type RecordStatement struct {
	Events   []Event `json:"events"`
	Facility string  `json:"facility"`
}

// Event is one dose given. Priority (the recipient's priority group) and
// IDType (the kind of identity they showed) are what eligibility and
// identity policies are checked against.
type Event struct {
	AgeBand    string `json:"age_band"`
	Batch      string `json:"batch"`
	Commitment string `json:"commitment"`
	Date       string `json:"date"`
	Dose       int    `json:"dose"`
	IDType     string `json:"id_type,omitempty"`
	Priority   string `json:"priority,omitempty"`
	Program    string `json:"program"`
	Recipient  string `json:"recipient"`
	Vaccinator string `json:"vaccinator"`
	Vaccine    string `json:"vaccine"`
}

// AnchorStatement is what the issuer signs: the hash of each certificate it
// issued for the facility's events.
type AnchorStatement struct {
	Anchors []Anchor `json:"anchors"`
	Events  string   `json:"events"`
	Issuer  string   `json:"issuer"`
}

// Anchor binds a certificate id to the SHA-256 of the credential's bytes.
type Anchor struct {
	Certificate string `json:"certificate"`
	Hash        string `json:"hash"`
}

// RecordLeaf is the data of one leaf of a record batch.
type RecordLeaf struct {
	Anchor *Anchor `json:"anchor"`
	Event  Event   `json:"event"`
	Index  int     `json:"index"`
	Result Code    `json:"result"`
}

// Hash is the leaf hash of the leaf's canonical encoding.
func (l RecordLeaf) Hash() []byte {
	b, err := strictjson.Marshal(l)
	if err != nil {
		panic(err)
	}
	return LeafHash(b)
}

// AgeBands are the only age values on the ledger.
var AgeBands = []string{"", "0-17", "18-44", "45-59", "60+"}

var (
	certIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)
	batchRE  = regexp.MustCompile(`^[A-Za-z0-9/_.-]{1,64}$`)
)

type recordTx struct {
	record  *signedPart
	anchors *signedPart // nil when the batch carries no certificates
	stmt    RecordStatement
	anc     AnchorStatement
}

func decodeRecord(tx *Tx) (body, *Error) {
	if len(tx.Parts) < 1 || len(tx.Parts) > 2 {
		return nil, reject(CodeMalformed, "a record has the facility's part and optionally the issuer's anchors")
	}
	r := &recordTx{}
	var e *Error
	if r.record, e = decodePart(tx.Parts[0], TypRecord, &r.stmt); e != nil {
		return nil, e
	}
	if len(r.stmt.Events) == 0 {
		return nil, reject(CodeMalformed, "a record carries at least one event")
	}
	if len(tx.Parts) == 2 {
		if r.anchors, e = decodePart(tx.Parts[1], TypAnchors, &r.anc); e != nil {
			return nil, e
		}
		if r.anc.Events != payloadDigest(r.record.payload) {
			return nil, reject(CodeAnchorMismatch, "the anchors name another batch of events (digest differs)")
		}
		if len(r.anc.Anchors) != len(r.stmt.Events) {
			return nil, reject(CodeAnchorMismatch, fmt.Sprintf("%d anchors for %d events", len(r.anc.Anchors), len(r.stmt.Events)))
		}
	}
	return r, nil
}

func (r *recordTx) parts() []*signedPart {
	if r.anchors == nil {
		return []*signedPart{r.record}
	}
	return []*signedPart{r.record, r.anchors}
}

func (r *recordTx) authorize(c *execCtx, keys []*Key) *Error {
	if n := len(r.stmt.Events); n > c.params.MaxEventsPerTx {
		return reject(CodeTooLarge, fmt.Sprintf("%d events in one batch, the limit is %d", n, c.params.MaxEventsPerTx))
	}
	if e := ownerIs(keys[0], FacilityOwner(r.stmt.Facility), RoleFacility); e != nil {
		return e
	}
	f, err := c.facility(r.stmt.Facility)
	if err != nil {
		return reject(CodeMalformed, err.Error())
	}
	if f == nil {
		return reject(CodeUnknownFacility, fmt.Sprintf("facility %s is not registered", r.stmt.Facility))
	}
	if f.Status != StatusActive {
		return reject(CodeFacilityInactive, fmt.Sprintf("facility %s is %s", f.Code, f.Status))
	}
	if r.anchors != nil {
		a, e := authorityWithRole(c, keys[1], RoleIssuer)
		if e != nil {
			return e
		}
		if a.ID != r.anc.Issuer {
			return reject(CodeUnauthorized, fmt.Sprintf("anchors name issuer %s but are signed by %s", r.anc.Issuer, a.ID))
		}
	}
	return nil
}

func (r *recordTx) apply(c *execCtx, keys []*Key) *TxResult {
	events := r.stmt.Events
	res := &TxResult{Code: OK, Kind: KindRecord, Items: make([]ItemResult, len(events))}
	leaves := make([][]byte, len(events))
	// "Today" is the block time's date in the consortium's time zone.
	local := c.time.In(c.params.Zone())
	blockDay := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	fac, _ := c.facility(r.stmt.Facility)
	accepted := 0
	for i := range events {
		ev := &events[i]
		var anchor *Anchor
		if r.anchors != nil {
			anchor = &r.anc.Anchors[i]
		}
		item := r.checkEvent(c, ev, anchor, blockDay, fac)
		at := BatchRef{Height: c.height, Tx: c.txIdx, Pos: i}
		if item.Code == OK {
			accepted++
			cert := ""
			if anchor != nil {
				cert = anchor.Certificate
				item.Certificate = cert
				c.ixSet(certKey(cert), CertRecord{Anchor: at, Event: *ev, EventAt: at, Facility: r.stmt.Facility, Hash: anchor.Hash, ID: cert, Issuer: r.anc.Issuer, Kind: KindRecord})
			}
			c.ixSet(doseKey(ev.Recipient, ev.Program, ev.Dose), DoseRecord{At: at, Certificate: cert, Date: ev.Date, Facility: r.stmt.Facility, Vaccine: ev.Vaccine})
			c.blk.counts[CountKey(ev.Date, fac.Code, ev.Program)]++
			c.blk.counts[DistrictCountKey(ev.Date, fac.State, fac.District, ev.Program)]++
			c.blk.batchDoses[BatchSafetyKey(ev.Vaccine, ev.Batch)]++
		}
		res.Items[i] = item
		leaves[i] = RecordLeaf{Anchor: anchor, Event: *ev, Index: i, Result: item.Code}.Hash()
		c.blk.events = append(c.blk.events, BlockEvent{Kind: EventVaccination, At: at, Code: item.Code, Certificate: item.Certificate, Event: ev, Facility: fac.Code,
			District: fac.District, State: fac.State, Date: ev.Date, Vaccine: ev.Vaccine, Batch: ev.Batch})
	}
	c.blk.totals.EventsAccepted += int64(accepted)
	c.blk.totals.EventsRejected += int64(len(events) - accepted)
	if r.anchors != nil {
		c.blk.totals.Certificates += int64(accepted)
	}
	bc := BatchCommitment{Accepted: accepted, Facility: r.stmt.Facility, Kind: KindRecord, Rejected: len(events) - accepted, Size: len(events), Tx: c.txHash}
	if r.anchors != nil {
		bc.Issuer = r.anc.Issuer
	}
	res.Batch = writeBatch(c, bc, leaves)
	return res
}

// checkEvent applies the rules to one event, in a fixed order: the
// event's own shape, the registries (program, facility, vaccine,
// vaccinator), the policies (eligibility, identity), the recipient's dose
// history (duplicate, sequence, interval, schedule, booster), and last the
// daily caps, so that a refused event never uses capacity.
func (r *recordTx) checkEvent(c *execCtx, ev *Event, anchor *Anchor, blockDay time.Time, fac *Facility) ItemResult {
	fail := func(code Code, format string, args ...any) ItemResult {
		return ItemResult{Code: code, Reason: fmt.Sprintf(format, args...)}
	}
	if !hexRE.MatchString(ev.Recipient) || !hexRE.MatchString(ev.Commitment) {
		return fail(CodeMalformedEvent, "recipient and commitment must be 64 lowercase hex digits")
	}
	if !batchRE.MatchString(ev.Batch) {
		return fail(CodeMalformedEvent, "batch must be 1-64 letters, digits or /_.-")
	}
	if !validAgeBand(ev.AgeBand) {
		return fail(CodeMalformedEvent, "age band %q is not one of %q", ev.AgeBand, AgeBands)
	}
	if ev.Priority != "" && !contains(PriorityGroups, ev.Priority) {
		return fail(CodeMalformedEvent, "priority group %q is not one of %q", ev.Priority, PriorityGroups)
	}
	if ev.IDType != "" && !contains(IDTypes, ev.IDType) {
		return fail(CodeMalformedEvent, "identity type %q is not one of %q", ev.IDType, IDTypes)
	}
	if anchor != nil && (!certIDRE.MatchString(anchor.Certificate) || !hexRE.MatchString(anchor.Hash)) {
		return fail(CodeMalformedEvent, "anchor: certificate id must be 8-64 base64url characters and hash 64 hex digits")
	}
	day, err := time.Parse(time.DateOnly, ev.Date)
	if err != nil {
		return fail(CodeMalformedEvent, "date %q is not YYYY-MM-DD", ev.Date)
	}
	if day.After(blockDay) {
		return fail(CodeFutureDate, "date %s is after the block date %s", ev.Date, blockDay.Format(time.DateOnly))
	}
	if oldest := blockDay.AddDate(0, 0, -c.params.BackdateDays); day.Before(oldest) {
		return fail(CodeDateTooOld, "date %s is before %s: events may be recorded up to %d days late", ev.Date, oldest.Format(time.DateOnly), c.params.BackdateDays)
	}

	prog, err := c.program(ev.Program)
	if err != nil || prog == nil || prog.Status != StatusActive {
		return fail(CodeUnknownProgram, "program %q is not registered or not active", ev.Program)
	}
	if (prog.StartDate != "" && ev.Date < prog.StartDate) || (prog.EndDate != "" && ev.Date > prog.EndDate) {
		return fail(CodeProgramNotRunning, "program %s runs from %s to %s, not on %s", prog.ID, orOpen(prog.StartDate), orOpen(prog.EndDate), ev.Date)
	}
	if !contains(fac.Programs, ev.Program) {
		return fail(CodeFacilityNotApproved, "facility %s is not approved for program %s", fac.Code, ev.Program)
	}
	vac, err := c.vaccine(ev.Vaccine)
	if err != nil || vac == nil || vac.Status != StatusActive {
		return fail(CodeUnknownVaccine, "vaccine %q is not registered or is suspended", ev.Vaccine)
	}
	if !contains(prog.Vaccines, ev.Vaccine) {
		return fail(CodeVaccineNotApproved, "vaccine %s is not approved for program %s", ev.Vaccine, ev.Program)
	}
	if b, suspended := c.batchSuspended(ev.Vaccine, ev.Batch); suspended {
		return fail(CodeBatchSuspended, "batch %s of %s is suspended (%s)", ev.Batch, ev.Vaccine, b.Reason)
	}
	vr, err := c.vaccinator(ev.Vaccinator)
	if err != nil || vr == nil || vr.Status != StatusActive {
		return fail(CodeUnknownVaccinator, "vaccinator %q is not registered or not active", ev.Vaccinator)
	}
	if !contains(vr.Facilities, fac.Code) {
		return fail(CodeVaccinatorElsewhere, "vaccinator %s is not attached to facility %s", ev.Vaccinator, fac.Code)
	}
	if len(vr.Programs) > 0 && !contains(vr.Programs, ev.Program) {
		return fail(CodeVaccinatorNotCertified, "vaccinator %s is not certified for program %s", ev.Vaccinator, ev.Program)
	}
	if !prog.eligible(ev.Priority) {
		return fail(CodeNotEligible, "priority group %q is in no open phase of program %s (open: %s)", ev.Priority, prog.ID, openPhases(prog))
	}
	if len(prog.IDTypes) > 0 && !contains(prog.IDTypes, ev.IDType) {
		return fail(CodeIDTypeNotAccepted, "program %s accepts identity types %v, not %q", prog.ID, prog.IDTypes, ev.IDType)
	}
	if max := vac.Doses + vac.Boosters; ev.Dose < 1 || ev.Dose > max {
		return fail(CodeDoseOutOfRange, "dose %d is outside 1..%d for %s (%d doses, %d boosters)", ev.Dose, max, vac.Code, vac.Doses, vac.Boosters)
	}

	var prev DoseRecord
	if found, err := c.ixGet(doseKey(ev.Recipient, ev.Program, ev.Dose), &prev); err != nil {
		return fail(CodeMalformedEvent, "index: %v", err)
	} else if found {
		if fac != nil && prev.Facility == fac.Code && prev.Certificate != "" {
			// The facility's own record: name its certificate, so that a
			// facility that lost the answer to an upload can recover it.
			return fail(CodeDuplicateDose, "dose %d of program %s was already recorded for this recipient by this facility at %s: certificate %s", ev.Dose, ev.Program, prev.At, prev.Certificate)
		}
		return fail(CodeDuplicateDose, "dose %d of program %s was already recorded for this recipient by facility %s at %s", ev.Dose, ev.Program, prev.Facility, prev.At)
	}
	if ev.Dose > 1 {
		if item, ok := r.checkSchedule(c, ev, day, prog, vac); !ok {
			return item
		}
	}
	if anchor != nil {
		var other CertRecord
		if found, err := c.ixGet(certKey(anchor.Certificate), &other); err != nil {
			return fail(CodeMalformedEvent, "index: %v", err)
		} else if found {
			return fail(CodeDuplicateCert, "certificate id %s is already anchored at %s", anchor.Certificate, other.Anchor)
		}
	}

	if limit := capFor(fac.Caps, ev.Program); limit > 0 {
		if n := c.count(CountKey(ev.Date, fac.Code, ev.Program)); n >= int64(limit) {
			return fail(CodeFacilityOverCap, "facility %s has recorded %d doses of program %s on %s, its daily cap", fac.Code, n, ev.Program, ev.Date)
		}
	}
	if d, _ := c.district(fac.State, fac.District); d != nil {
		if limit := capFor(d.Caps, ev.Program); limit > 0 {
			if n := c.count(DistrictCountKey(ev.Date, fac.State, fac.District, ev.Program)); n >= int64(limit) {
				return fail(CodeDistrictOverCap, "district %s/%s has recorded %d doses of program %s on %s, its daily cap", fac.State, fac.District, n, ev.Program, ev.Date)
			}
		}
	}
	return ItemResult{Code: OK}
}

// checkSchedule checks dose n > 1 against dose n-1: it must be recorded,
// at least the minimum interval before (at most the maximum, where the
// vaccine sets one), of the same vaccine unless the program allows mixing;
// a booster must be due.
func (r *recordTx) checkSchedule(c *execCtx, ev *Event, day time.Time, prog *Program, vac *Vaccine) (ItemResult, bool) {
	fail := func(code Code, format string, args ...any) (ItemResult, bool) {
		return ItemResult{Code: code, Reason: fmt.Sprintf(format, args...)}, false
	}
	var prev DoseRecord
	found, err := c.ixGet(doseKey(ev.Recipient, ev.Program, ev.Dose-1), &prev)
	if err != nil {
		return fail(CodeMalformedEvent, "index: %v", err)
	}
	if !found {
		return fail(CodeDoseOutOfSequence, "dose %d of program %s before dose %d is recorded for this recipient", ev.Dose, ev.Program, ev.Dose-1)
	}
	if prev.Vaccine != ev.Vaccine && !prog.AllowMixed {
		return fail(CodeMixedSchedule, "dose %d is %s but dose %d was %s, and program %s does not allow mixed schedules", ev.Dose, ev.Vaccine, ev.Dose-1, prev.Vaccine, prog.ID)
	}
	prevDay, err := time.Parse(time.DateOnly, prev.Date)
	if err != nil {
		return fail(CodeMalformedEvent, "index: dose %d has no date", ev.Dose-1)
	}
	gap := int(day.Sub(prevDay).Hours() / 24)
	if ev.Dose > vac.Doses {
		due := vac.BoosterIntervalDays
		if due == 0 {
			due = vac.MinIntervalDays
		}
		if gap < due {
			return fail(CodeBoosterNotDue, "booster (dose %d) %d days after dose %d; %s boosters are due after %d days, from %s", ev.Dose, gap, ev.Dose-1, vac.Code, due, prevDay.AddDate(0, 0, due).Format(time.DateOnly))
		}
		return ItemResult{}, true
	}
	if gap < vac.MinIntervalDays {
		return fail(CodeIntervalTooShort, "dose %d %d days after dose %d; %s needs at least %d days (due from %s)", ev.Dose, gap, ev.Dose-1, vac.Code, vac.MinIntervalDays, prevDay.AddDate(0, 0, vac.MinIntervalDays).Format(time.DateOnly))
	}
	if vac.MaxIntervalDays > 0 && gap > vac.MaxIntervalDays {
		return fail(CodeIntervalTooLong, "dose %d %d days after dose %d; %s allows at most %d days", ev.Dose, gap, ev.Dose-1, vac.Code, vac.MaxIntervalDays)
	}
	return ItemResult{}, true
}

func orOpen(d string) string {
	if d == "" {
		return "open"
	}
	return d
}

func openPhases(p *Program) string {
	var open []string
	for _, ph := range p.Phases {
		if ph.Open {
			open = append(open, ph.ID)
		}
	}
	if len(open) == 0 {
		return "none"
	}
	return strings.Join(open, ", ")
}

// writeBatch stores a batch commitment in the tree and its leaf hashes in
// the index.
func writeBatch(c *execCtx, bc BatchCommitment, leaves [][]byte) *BatchInfo {
	root := MerkleRoot(leaves)
	bc.Root = hex.EncodeToString(root)
	key := BatchKey(c.height, c.txIdx)
	c.setJSON(key, bc)
	flat := make([]byte, 0, 32*len(leaves))
	for _, l := range leaves {
		flat = append(flat, l...)
	}
	c.ixSetRaw(leavesKey(c.height, c.txIdx), flat)
	return &BatchInfo{Height: c.height, Key: key, Root: bc.Root, Tx: c.txIdx}
}

func validAgeBand(b string) bool { return contains(AgeBands, b) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
