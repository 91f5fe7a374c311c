package app

import (
	"fmt"
	"sort"
	"strings"

	"github.com/divoc/divoc/internal/strictjson"
)

// Vaccine safety: adverse events following immunization (AEFI), feedback,
// per-batch counters, signals and batch suspension.
//
//	aefi.report/v1     "divoc-aefi+json"      issuer-signed AEFIStatement
//	feedback.record/v1 "divoc-feedback+json"  issuer-signed FeedbackStatement
//	batch.set/v1       "divoc-batch+json"     governed: suspend or restore a batch
//	safety.set/v1      "divoc-safety+json"    governed: the signal threshold
//
// The node that signs a report has checked that the reporter holds the
// certificate (off the ledger); the ledger checks the certificate is
// anchored and takes the vaccine, batch, facility and district from its
// own record, so a report cannot be pinned on another batch. Free text and
// anything personal stay in the node's vault: the ledger gets the report's
// hash and coded fields.
//
// Per batch (safety/batch/<vaccine>/<batch>) the state counts doses given
// and AEFI by seriousness. When a batch's serious reports per million doses
// reach the threshold (with at least the minimum number of doses), a
// signal opens (safety/signal/<vaccine>/<batch>), once.

// Safety kinds and part types.
const (
	KindAEFI       = "aefi.report/v1"
	KindFeedback   = "feedback.record/v1"
	KindSetBatch   = "batch.set/v1"
	KindSetSafety  = "safety.set/v1"
	TypAEFI        = "divoc-aefi+json"
	TypFeedback    = "divoc-feedback+json"
	TypSetBatch    = "divoc-batch+json"
	TypSetSafety   = "divoc-safety+json"
	kBatchSafety   = "safety/batch/"
	kSignal        = "safety/signal/"
	kSafetyPolicy  = "meta/safety"
	kBatchRegistry = "reg/batch/"
	kFeedback      = "feedback/"
	// kAEFICase: aefi/<certificate>/<reporter> -> the seriousness criteria
	// counted so far for that certificate from that kind of reporter.
	kAEFICase = "aefi/"
)

// Symptoms are the AEFI symptom codes: DIVOC's side-effects schema and
// the common reactions.
var Symptoms = []string{"fever", "headache", "fatigue", "injection_site_pain", "nausea", "allergic_reaction", "anaphylaxis",
	"muscle_pain", "joint_pain", "chills", "dizziness", "vomiting", "diarrhoea", "rash", "swelling", "seizure",
	"thrombosis", "myocarditis", "guillain_barre", "other"}

// Seriousness criteria (WHO).
var Seriousness = []string{"death", "life_threatening", "hospitalization", "disability", "congenital_anomaly", "other_medically_important"}

// Severities, outcomes and reporters.
var (
	Severities = []string{"mild", "moderate", "severe"}
	Outcomes   = []string{"recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown"}
	Reporters  = []string{"recipient", "facility", "clinician"}
	WaitTimes  = []string{"under_15m", "15_30m", "30_60m", "over_60m"}
)

// AEFIStatement lists reports.
type AEFIStatement struct {
	Issuer  string       `json:"issuer"`
	Reports []AEFIReport `json:"reports"`
}

// AEFIReport is the coded part of an adverse event report.
type AEFIReport struct {
	Certificate string   `json:"certificate"`
	Hash        string   `json:"hash"` // SHA-256 of the full report kept in the vault
	Onset       int      `json:"onset_day"`
	Outcome     string   `json:"outcome"`
	Reporter    string   `json:"reporter"`
	Seriousness []string `json:"seriousness"` // empty: not serious
	Severity    string   `json:"severity"`
	Symptoms    []string `json:"symptoms"`
}

// AEFILeaf is a report as the ledger recorded it, with the facts it took
// from the certificate.
type AEFILeaf struct {
	Batch    string     `json:"batch"`
	District string     `json:"district"`
	Facility string     `json:"facility"`
	Index    int        `json:"index"`
	Report   AEFIReport `json:"report"`
	Result   Code       `json:"result"`
	Vaccine  string     `json:"vaccine"`
}

// FeedbackStatement lists feedback.
type FeedbackStatement struct {
	Feedback []Feedback `json:"feedback"`
	Issuer   string     `json:"issuer"`
}

// Feedback is the coded part of a recipient's feedback.
type Feedback struct {
	Certificate string `json:"certificate"`
	Courtesy    int    `json:"courtesy"` // 1-5
	Hash        string `json:"hash"`
	Rating      int    `json:"rating"` // 1-5
	Wait        string `json:"wait"`
}

// BatchSafety is a batch's counters.
type BatchSafety struct {
	AEFI            int64  `json:"aefi"`
	Batch           string `json:"batch"`
	Congenital      int64  `json:"congenital_anomaly"`
	Death           int64  `json:"death"`
	Disability      int64  `json:"disability"`
	Doses           int64  `json:"doses"`
	Hospitalization int64  `json:"hospitalization"`
	LifeThreatening int64  `json:"life_threatening"`
	OtherImportant  int64  `json:"other_medically_important"`
	Serious         int64  `json:"serious"`
	Vaccine         string `json:"vaccine"`
}

// Signal is an open safety signal on a batch.
type Signal struct {
	Batch             string `json:"batch"`
	Doses             int64  `json:"doses"`
	Height            int64  `json:"height"`
	SeriousPerMillion int64  `json:"serious_per_million"`
	Serious           int64  `json:"serious"`
	Vaccine           string `json:"vaccine"`
}

// SafetyPolicy is the signal threshold.
type SafetyPolicy struct {
	MinDoses          int64 `json:"min_doses"`
	SeriousPerMillion int64 `json:"serious_per_million"`
}

// BatchStatus is a batch's registry entry (only suspended batches have one
// that matters).
type BatchStatus struct {
	Batch   string `json:"batch"`
	Reason  string `json:"reason"`
	Status  string `json:"status"`
	Vaccine string `json:"vaccine"`
}

// BatchSafetyKey, SignalKey and BatchKeyOf name a batch's entries.
func BatchSafetyKey(vaccine, batch string) string { return kBatchSafety + vaccine + "/" + batch }
func SignalKey(vaccine, batch string) string      { return kSignal + vaccine + "/" + batch }
func batchStatusKey(vaccine, batch string) string { return kBatchRegistry + vaccine + "/" + batch }

// DefaultSafetyPolicy: a signal when serious AEFI reach 1,000 per million
// doses (0.1%) with at least 1,000 doses given.
func DefaultSafetyPolicy() SafetyPolicy { return SafetyPolicy{MinDoses: 1000, SeriousPerMillion: 1000} }

func (c *execCtx) safetyPolicy() SafetyPolicy {
	if p, _ := getJSON[SafetyPolicy](c, kSafetyPolicy); p != nil {
		return *p
	}
	return DefaultSafetyPolicy()
}

// batchSuspended reports whether a batch is suspended.
func (c *execCtx) batchSuspended(vaccine, batch string) (*BatchStatus, bool) {
	b, _ := getJSON[BatchStatus](c, batchStatusKey(vaccine, batch))
	return b, b != nil && b.Status == StatusSuspended
}

// flushSafety adds the block's doses per batch to the counters, in key
// order, and opens signals the doses or reports made due.
func (c *execCtx) flushSafety() {
	keys := make([]string, 0, len(c.blk.batchDoses))
	for k := range c.blk.batchDoses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		bs := c.batchSafety(k)
		bs.Vaccine, bs.Batch, _ = strings.Cut(strings.TrimPrefix(k, kBatchSafety), "/")
		bs.Doses += c.blk.batchDoses[k]
		c.setJSON(k, bs)
		// Doses can bring a batch with early serious reports up to the
		// minimum the policy needs.
		if sig := c.checkSignal(bs); sig != nil {
			c.blk.events = append(c.blk.events, BlockEvent{Kind: EventSignal, Vaccine: sig.Vaccine, Batch: sig.Batch, Rate: sig.SeriousPerMillion})
		}
	}
}

func (c *execCtx) batchSafety(key string) BatchSafety {
	if bs, _ := getJSON[BatchSafety](c, key); bs != nil {
		return *bs
	}
	return BatchSafety{}
}

// checkSignal opens a signal on a batch whose counters reached the policy.
func (c *execCtx) checkSignal(bs BatchSafety) *Signal {
	p := c.safetyPolicy()
	if bs.Doses < p.MinDoses || bs.Doses == 0 || p.SeriousPerMillion <= 0 {
		return nil
	}
	rate := bs.Serious * 1_000_000 / bs.Doses
	if rate < p.SeriousPerMillion {
		return nil
	}
	if old, _ := getJSON[Signal](c, SignalKey(bs.Vaccine, bs.Batch)); old != nil {
		return nil
	}
	s := Signal{Batch: bs.Batch, Doses: bs.Doses, Height: c.height, SeriousPerMillion: rate, Serious: bs.Serious, Vaccine: bs.Vaccine}
	c.setJSON(SignalKey(bs.Vaccine, bs.Batch), s)
	return &s
}

type aefiTx struct {
	part *signedPart
	stmt AEFIStatement
}

func decodeAEFI(tx *Tx) (body, *Error) {
	if len(tx.Parts) != 1 {
		return nil, reject(CodeMalformed, "an AEFI report has exactly one part")
	}
	a := &aefiTx{}
	var e *Error
	if a.part, e = decodePart(tx.Parts[0], TypAEFI, &a.stmt); e != nil {
		return nil, e
	}
	if len(a.stmt.Reports) == 0 {
		return nil, reject(CodeMalformed, "no report")
	}
	return a, nil
}

func (a *aefiTx) parts() []*signedPart { return []*signedPart{a.part} }

func (a *aefiTx) authorize(c *execCtx, keys []*Key) *Error {
	if n := len(a.stmt.Reports); n > c.params.MaxEventsPerTx {
		return reject(CodeTooLarge, fmt.Sprintf("%d reports in one batch, the limit is %d", n, c.params.MaxEventsPerTx))
	}
	auth, e := authorityWithRole(c, keys[0], RoleIssuer)
	if e != nil {
		return e
	}
	if auth.ID != a.stmt.Issuer {
		return reject(CodeUnauthorized, fmt.Sprintf("statement names issuer %s but is signed by %s", a.stmt.Issuer, auth.ID))
	}
	return nil
}

func (a *aefiTx) apply(c *execCtx, _ []*Key) *TxResult {
	res := &TxResult{Code: OK, Kind: KindAEFI, Items: make([]ItemResult, len(a.stmt.Reports))}
	leaves := make([][]byte, len(a.stmt.Reports))
	accepted := 0
	for i, r := range a.stmt.Reports {
		leaf := AEFILeaf{Index: i, Report: r}
		item := a.check(c, r)
		var rec CertRecord
		if item.Code == OK {
			if found, _ := c.ixGet(certKey(r.Certificate), &rec); !found {
				item = ItemResult{Code: CodeUnknownCert, Reason: fmt.Sprintf("certificate %q is not anchored on the ledger", r.Certificate)}
			}
		}
		if item.Code == OK {
			fac, _ := c.facility(rec.Facility)
			leaf.Vaccine, leaf.Batch, leaf.Facility = rec.Event.Vaccine, rec.Event.Batch, rec.Facility
			if fac != nil {
				leaf.District = fac.District
			}
			key := BatchSafetyKey(leaf.Vaccine, leaf.Batch)
			bs := c.batchSafety(key)
			bs.Vaccine, bs.Batch = leaf.Vaccine, leaf.Batch
			// One case per certificate and kind of reporter: a further
			// report from the same kind is a follow-up. It is recorded, but
			// counts only the seriousness criteria it adds, so a holder
			// repeating a report cannot raise a batch's rate.
			caseKey := kAEFICase + r.Certificate + "/" + r.Reporter
			var counted []string
			prev, _ := getJSON[[]string](c, caseKey)
			followUp := prev != nil
			if followUp {
				counted = append(counted, (*prev)...)
			}
			added := make([]string, 0, len(r.Seriousness))
			for _, s := range r.Seriousness {
				if !contains(counted, s) && !contains(added, s) {
					added = append(added, s)
				}
			}
			if !followUp {
				bs.AEFI++
			} else {
				item.Reason = "a follow-up of this certificate's " + r.Reporter + " report: only new seriousness criteria count"
			}
			if len(added) > 0 && len(counted) == 0 {
				bs.Serious++
			}
			c.setJSON(caseKey, append(counted, added...))
			for _, s := range added {
				switch s {
				case "death":
					bs.Death++
				case "life_threatening":
					bs.LifeThreatening++
				case "hospitalization":
					bs.Hospitalization++
				case "disability":
					bs.Disability++
				case "congenital_anomaly":
					bs.Congenital++
				case "other_medically_important":
					bs.OtherImportant++
				}
			}
			c.setJSON(key, bs)
			if sig := c.checkSignal(bs); sig != nil {
				item.Reason = fmt.Sprintf("safety signal opened on batch %s of %s: %d serious reports per million doses", sig.Batch, sig.Vaccine, sig.SeriousPerMillion)
				c.blk.events = append(c.blk.events, BlockEvent{Kind: EventSignal, Vaccine: sig.Vaccine, Batch: sig.Batch, Rate: sig.SeriousPerMillion})
			}
			c.blk.events = append(c.blk.events, BlockEvent{Kind: EventAEFI, Certificate: r.Certificate, Vaccine: leaf.Vaccine, Batch: leaf.Batch,
				Facility: leaf.Facility, District: leaf.District, Serious: len(r.Seriousness) > 0, Seriousness: r.Seriousness, Date: rec.Event.Date})
			accepted++
		}
		leaf.Result = item.Code
		item.Certificate = r.Certificate
		res.Items[i] = item
		b, _ := strictjson.Marshal(leaf)
		leaves[i] = LeafHash(b)
	}
	res.Batch = writeBatch(c, BatchCommitment{Accepted: accepted, Issuer: a.stmt.Issuer, Kind: KindAEFI, Rejected: len(leaves) - accepted, Size: len(leaves), Tx: c.txHash}, leaves)
	return res
}

func (a *aefiTx) check(_ *execCtx, r AEFIReport) ItemResult {
	if _, reason := r.Problem(); reason != "" {
		return ItemResult{Code: CodeMalformedEvent, Reason: reason}
	}
	return ItemResult{Code: OK}
}

// Problem names the field of a report that breaks the rules, and why;
// both empty when the report is well-formed. Nodes check it before
// signing; the ledger checks it again.
func (r AEFIReport) Problem() (field, reason string) {
	switch {
	case !certIDRE.MatchString(r.Certificate):
		return "certificate", "a certificate id is required"
	case !hexRE.MatchString(r.Hash):
		return "hash", "a 64-hex-digit hash is required"
	case len(r.Symptoms) == 0 || len(r.Symptoms) > 20:
		return "symptoms", "1 to 20 symptoms"
	case !contains(Severities, r.Severity):
		return "severity", fmt.Sprintf("severity %q: want one of %v", r.Severity, Severities)
	case !contains(Outcomes, r.Outcome):
		return "outcome", fmt.Sprintf("outcome %q: want one of %v", r.Outcome, Outcomes)
	case !contains(Reporters, r.Reporter):
		return "reporter", fmt.Sprintf("reporter %q: want one of %v", r.Reporter, Reporters)
	case r.Onset < 0 || r.Onset > 365:
		return "onset_date", fmt.Sprintf("onset day %d: 0 to 365 days after the vaccination", r.Onset)
	}
	for _, s := range r.Symptoms {
		if !contains(Symptoms, s) {
			return "symptoms", fmt.Sprintf("symptom %q is not a code of the list", s)
		}
	}
	for _, s := range r.Seriousness {
		if !contains(Seriousness, s) {
			return "seriousness", fmt.Sprintf("seriousness %q: want one of %v", s, Seriousness)
		}
	}
	return "", ""
}

// Problem names the field of feedback that breaks the rules, and why.
func (f Feedback) Problem() (field, reason string) {
	switch {
	case !certIDRE.MatchString(f.Certificate):
		return "certificate", "a certificate id is required"
	case !hexRE.MatchString(f.Hash):
		return "hash", "a 64-hex-digit hash is required"
	case f.Rating < 1 || f.Rating > 5:
		return "rating", "rating 1-5"
	case f.Courtesy < 1 || f.Courtesy > 5:
		return "courtesy", "courtesy 1-5"
	case !contains(WaitTimes, f.Wait):
		return "wait", fmt.Sprintf("wait %q: want one of %v", f.Wait, WaitTimes)
	}
	return "", ""
}

func fbProblem(f Feedback) string {
	_, reason := f.Problem()
	return reason
}

type feedbackTx struct {
	part *signedPart
	stmt FeedbackStatement
}

func decodeFeedback(tx *Tx) (body, *Error) {
	if len(tx.Parts) != 1 {
		return nil, reject(CodeMalformed, "feedback has exactly one part")
	}
	f := &feedbackTx{}
	var e *Error
	if f.part, e = decodePart(tx.Parts[0], TypFeedback, &f.stmt); e != nil {
		return nil, e
	}
	if len(f.stmt.Feedback) == 0 {
		return nil, reject(CodeMalformed, "no feedback")
	}
	return f, nil
}

func (f *feedbackTx) parts() []*signedPart { return []*signedPart{f.part} }

func (f *feedbackTx) authorize(c *execCtx, keys []*Key) *Error {
	if n := len(f.stmt.Feedback); n > c.params.MaxEventsPerTx {
		return reject(CodeTooLarge, fmt.Sprintf("%d feedback items in one batch, the limit is %d", n, c.params.MaxEventsPerTx))
	}
	auth, e := authorityWithRole(c, keys[0], RoleIssuer)
	if e != nil {
		return e
	}
	if auth.ID != f.stmt.Issuer {
		return reject(CodeUnauthorized, fmt.Sprintf("statement names issuer %s but is signed by %s", f.stmt.Issuer, auth.ID))
	}
	return nil
}

// apply records feedback, one per certificate (a second is refused: the
// ledger is not a place to flood).
func (f *feedbackTx) apply(c *execCtx, _ []*Key) *TxResult {
	res := &TxResult{Code: OK, Kind: KindFeedback, Items: make([]ItemResult, len(f.stmt.Feedback))}
	for i, fb := range f.stmt.Feedback {
		item := ItemResult{Code: OK, Certificate: fb.Certificate}
		var rec CertRecord
		switch {
		case fbProblem(fb) != "":
			item = ItemResult{Certificate: fb.Certificate, Code: CodeMalformedEvent, Reason: fbProblem(fb)}
		default:
			if found, _ := c.ixGet(certKey(fb.Certificate), &rec); !found {
				item = ItemResult{Certificate: fb.Certificate, Code: CodeUnknownCert, Reason: fmt.Sprintf("certificate %q is not anchored on the ledger", fb.Certificate)}
			} else if old, _ := c.get(kFeedback + fb.Certificate); old != nil {
				item = ItemResult{Certificate: fb.Certificate, Code: CodeFeedbackExists, Reason: "this certificate already has feedback"}
			}
		}
		if item.Code == OK {
			c.set(kFeedback+fb.Certificate, []byte(fb.Hash))
			c.blk.events = append(c.blk.events, BlockEvent{Kind: EventFeedback, Certificate: fb.Certificate, Facility: rec.Facility, Rating: fb.Rating, Date: rec.Event.Date})
		}
		res.Items[i] = item
	}
	return res
}

// SetBatchStatement suspends or restores a batch.
type SetBatchStatement struct {
	Batch BatchStatus `json:"batch"`
}

type batchChange struct{ b BatchStatus }

func decodeBatchChange(payload []byte) (change, *Error) {
	st, e := canonical[SetBatchStatement](payload, TypSetBatch)
	if e != nil {
		return nil, e
	}
	b := st.Batch
	if !validCode(b.Vaccine) || !batchRE.MatchString(b.Batch) || (b.Status != StatusActive && b.Status != StatusSuspended) || (b.Reason != "" && !contains(ReasonCodes, b.Reason) && b.Reason != "safety_signal") {
		return nil, reject(CodeInvalidRegistry, "batch: a vaccine code, a batch, status active or suspended, and a reason code")
	}
	return &batchChange{b: b}, nil
}

func (bc *batchChange) apply(c *execCtx) *TxResult {
	if v, _ := c.vaccine(bc.b.Vaccine); v == nil {
		return rejected(reject(CodeInvalidRegistry, fmt.Sprintf("vaccine %s is not registered", bc.b.Vaccine)))
	}
	c.setJSON(batchStatusKey(bc.b.Vaccine, bc.b.Batch), bc.b)
	return accepted(KindSetBatch)
}

// SetSafetyStatement sets the signal threshold.
type SetSafetyStatement struct {
	Policy SafetyPolicy `json:"policy"`
}

type safetyChange struct{ p SafetyPolicy }

func decodeSafetyChange(payload []byte) (change, *Error) {
	st, e := canonical[SetSafetyStatement](payload, TypSetSafety)
	if e != nil {
		return nil, e
	}
	if st.Policy.MinDoses < 1 || st.Policy.SeriousPerMillion < 1 || st.Policy.SeriousPerMillion > 1_000_000 {
		return nil, reject(CodeInvalidRegistry, "safety policy: min_doses ≥ 1, serious_per_million 1..1000000")
	}
	return &safetyChange{p: st.Policy}, nil
}

func (sc *safetyChange) apply(c *execCtx) *TxResult {
	c.setJSON(kSafetyPolicy, sc.p)
	return accepted(KindSetSafety)
}

// Signals lists the open signals at the snapshot.
func (s *Snapshot) Signals() []Signal { return List[Signal](s, kSignal) }

// BatchSafeties lists every batch's counters.
func (s *Snapshot) BatchSafeties() []BatchSafety { return List[BatchSafety](s, kBatchSafety) }

// SafetyPolicy is the threshold in force.
func (s *Snapshot) SafetyPolicy() SafetyPolicy {
	if p := snapGet[SafetyPolicy](s, kSafetyPolicy); p != nil {
		return *p
	}
	return DefaultSafetyPolicy()
}

// SuspendedBatches lists suspended batches.
func (s *Snapshot) SuspendedBatches() []BatchStatus {
	var out []BatchStatus
	for _, b := range List[BatchStatus](s, kBatchRegistry) {
		if b.Status == StatusSuspended {
			out = append(out, b)
		}
	}
	return out
}
