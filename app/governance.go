package app

import (
	"fmt"
	"sort"
)

// M-of-N governance. A governance authority proposes a change (any governed
// kind, see register.go); other governance authorities approve it; it is
// applied in the transaction whose approval reaches the chain's threshold
// M (Params.GovernanceThreshold; N is the number of governance
// authorities). One authority counts once, whichever of its keys signs.
// Until then it is pending and changes nothing (threat 28). A proposal not
// approved within Params.ProposalTTLBlocks expires.
//
//	governance.propose/v1  "divoc-proposal+json"  ProposeStatement
//	governance.approve/v1  "divoc-approval+json"  ApproveStatement

// Governance kinds and part types.
const (
	KindPropose = "governance.propose/v1"
	KindApprove = "governance.approve/v1"

	TypPropose = "divoc-proposal+json"
	TypApprove = "divoc-approval+json"

	kProposal = "gov/proposal/"
)

// ProposeStatement proposes a change: its kind and the base64url of its
// canonical statement (what a direct transaction of that kind would sign).
type ProposeStatement struct {
	Change   ChangeRef `json:"change"`
	Proposer string    `json:"proposer"`
}

// ChangeRef names a governed change.
type ChangeRef struct {
	Kind      string `json:"kind"`
	Statement string `json:"statement"`
}

// ApproveStatement approves a pending proposal.
type ApproveStatement struct {
	Approver string `json:"approver"`
	Proposal string `json:"proposal"`
}

// Proposal statuses.
const (
	ProposalPending = "pending"
	ProposalApplied = "applied"
	ProposalFailed  = "failed"
	ProposalExpired = "expired"
)

// Proposal is the state of one proposal, under gov/proposal/<id>; its id is
// the height and transaction index that proposed it.
type Proposal struct {
	AppliedAt int64     `json:"applied_at,omitempty"`
	Approvals []string  `json:"approvals"`
	Change    ChangeRef `json:"change"`
	Expires   int64     `json:"expires"`
	Height    int64     `json:"height"`
	ID        string    `json:"id"`
	Proposer  string    `json:"proposer"`
	Reason    string    `json:"reason,omitempty"`
	Status    string    `json:"status"`
	Threshold int       `json:"threshold"`
}

// ProposalKey is the IAVL key of a proposal.
func ProposalKey(id string) string { return kProposal + id }

type proposeTx struct {
	part *signedPart
	stmt ProposeStatement
	ck   changeKind
}

func decodePropose(tx *Tx) (body, *Error) {
	if len(tx.Parts) != 1 {
		return nil, reject(CodeMalformed, "a proposal has exactly one part")
	}
	p := &proposeTx{}
	var e *Error
	if p.part, e = decodePart(tx.Parts[0], TypPropose, &p.stmt); e != nil {
		return nil, e
	}
	ck, ok := lookupChange(p.stmt.Change.Kind)
	if !ok {
		return nil, reject(CodeUnknownKind, fmt.Sprintf("%q is not a governed kind", p.stmt.Change.Kind))
	}
	payload, err := b64.DecodeString(p.stmt.Change.Statement)
	if err != nil {
		return nil, reject(CodeMalformed, "change statement is not base64url")
	}
	if _, e := ck.decode(payload); e != nil {
		return nil, e
	}
	p.ck = ck
	return p, nil
}

func (p *proposeTx) parts() []*signedPart { return []*signedPart{p.part} }

func (p *proposeTx) authorize(c *execCtx, keys []*Key) *Error {
	a, e := authorityWithRole(c, keys[0], RoleGovernance)
	if e != nil {
		return e
	}
	if a.ID != p.stmt.Proposer {
		return reject(CodeUnauthorized, fmt.Sprintf("proposal names proposer %s but is signed by %s", p.stmt.Proposer, a.ID))
	}
	return nil
}

func (p *proposeTx) apply(c *execCtx, _ []*Key) *TxResult {
	id := fmt.Sprintf("%d-%d", c.height, c.txIdx)
	ttl := c.params.ProposalTTLBlocks
	if ttl <= 0 {
		ttl = DefaultParams().ProposalTTLBlocks
	}
	pr := Proposal{Approvals: []string{p.stmt.Proposer}, Change: p.stmt.Change, Expires: c.height + ttl, Height: c.height,
		ID: id, Proposer: p.stmt.Proposer, Status: ProposalPending, Threshold: threshold(c)}
	res := &TxResult{Code: OK, Kind: KindPropose, Proposal: id, Items: []ItemResult{{Code: OK, Reason: "proposal " + id}}}
	settle(c, &pr, res)
	c.setJSON(ProposalKey(id), pr)
	return res
}

type approveTx struct {
	part *signedPart
	stmt ApproveStatement
}

func decodeApprove(tx *Tx) (body, *Error) {
	if len(tx.Parts) != 1 {
		return nil, reject(CodeMalformed, "an approval has exactly one part")
	}
	a := &approveTx{}
	var e *Error
	if a.part, e = decodePart(tx.Parts[0], TypApprove, &a.stmt); e != nil {
		return nil, e
	}
	return a, nil
}

func (a *approveTx) parts() []*signedPart { return []*signedPart{a.part} }

func (a *approveTx) authorize(c *execCtx, keys []*Key) *Error {
	auth, e := authorityWithRole(c, keys[0], RoleGovernance)
	if e != nil {
		return e
	}
	if auth.ID != a.stmt.Approver {
		return reject(CodeUnauthorized, fmt.Sprintf("approval names approver %s but is signed by %s", a.stmt.Approver, auth.ID))
	}
	return nil
}

func (a *approveTx) apply(c *execCtx, _ []*Key) *TxResult {
	pr, _ := getJSON[Proposal](c, ProposalKey(a.stmt.Proposal))
	if pr == nil {
		return rejected(reject(CodeUnknownProposal, fmt.Sprintf("no proposal %q", a.stmt.Proposal)))
	}
	next := *pr
	next.Approvals = append([]string(nil), pr.Approvals...)
	switch {
	case next.Status != ProposalPending:
		return rejected(reject(CodeProposalClosed, fmt.Sprintf("proposal %s is %s", next.ID, next.Status)))
	case c.height > next.Expires:
		next.Status = ProposalExpired
		c.setJSON(ProposalKey(next.ID), next)
		return &TxResult{Code: OK, Kind: KindApprove, Items: []ItemResult{{Code: CodeProposalClosed, Reason: fmt.Sprintf("proposal %s expired at height %d", next.ID, next.Expires)}}}
	case contains(next.Approvals, a.stmt.Approver):
		return rejected(reject(CodeAlreadyApproved, fmt.Sprintf("%s already approved proposal %s", a.stmt.Approver, next.ID)))
	}
	next.Approvals = append(next.Approvals, a.stmt.Approver)
	sort.Strings(next.Approvals)
	res := &TxResult{Code: OK, Kind: KindApprove, Proposal: next.ID, Items: []ItemResult{{Code: OK, Reason: fmt.Sprintf("%d of %d approvals", len(next.Approvals), next.Threshold)}}}
	settle(c, &next, res)
	c.setJSON(ProposalKey(next.ID), next)
	return res
}

// threshold is M: the chain's governance threshold, at least 1.
func threshold(c *execCtx) int { return max(c.params.GovernanceThreshold, 1) }

// settle applies a pending proposal once it has enough approvals, and
// records the change's outcome in the proposal and the result.
func settle(c *execCtx, pr *Proposal, res *TxResult) {
	if pr.Status != ProposalPending || len(pr.Approvals) < pr.Threshold {
		return
	}
	ck, _ := lookupChange(pr.Change.Kind)
	payload, _ := b64.DecodeString(pr.Change.Statement)
	ch, e := ck.decode(payload)
	var out *TxResult
	if e != nil {
		out = rejected(e)
	} else {
		out = ch.apply(c)
	}
	pr.AppliedAt = c.height
	if out.Code != OK {
		pr.Status, pr.Reason = ProposalFailed, string(out.Code)+": "+out.Reason
		res.Items = append(res.Items, ItemResult{Code: out.Code, Reason: "the change was refused: " + out.Reason})
		return
	}
	pr.Status = ProposalApplied
	res.Items = append(res.Items, ItemResult{Code: OK, Reason: "applied " + pr.Change.Kind})
}
