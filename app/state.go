package app

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// IAVL keys. What verifiers need proofs of, and what stays small or grows in
// order, is in the tree: registries, keys, batch commitments (keyed by
// height, so inserts touch the right edge), certificate status changes
// (rare), nonces, and counters per facility and day.
const (
	kChain     = "meta/chain"
	kParams    = "meta/params"
	kTotals    = "meta/totals"
	kAuthority = "reg/authority/"
	kFacility  = "reg/facility/"
	kVaccinatr = "reg/vaccinator/"
	kProgram   = "reg/program/"
	kVaccine   = "reg/vaccine/"
	kKey       = "key/"
	kNonce     = "nonce/"
	kBatch     = "batch/"
	kStatus    = "status/"
	kCount     = "count/"
	kDistrict  = "reg/district/"
)

// BatchKey is the IAVL key of the commitment of transaction tx at height h.
func BatchKey(h int64, tx int) string { return fmt.Sprintf("%s%020d/%06d", kBatch, h, tx) }

// StatusKey is the IAVL key of a certificate's revocation or supersession.
func StatusKey(id string) string { return kStatus + id }

// Params are the chain's tunables, set at genesis.
type Params struct {
	// BackdateDays: events dated more than this many days before the block
	// time are refused.
	BackdateDays int `json:"backdate_days"`
	// MaxClockSkewSeconds: a signature dated this far after block time is refused.
	MaxClockSkewSeconds int64 `json:"max_clock_skew_seconds"`
	// MaxEventsPerTx bounds one batch.
	MaxEventsPerTx int `json:"max_events_per_tx"`
	// TxValiditySeconds: a signed statement older than this (by its iat,
	// against block time) is refused as stale.
	TxValiditySeconds int64 `json:"tx_validity_seconds"`
	// GovernanceThreshold is M: how many governance authorities must
	// approve a change (0 or 1: one signature applies it).
	GovernanceThreshold int `json:"governance_threshold,omitempty"`
	// ProposalTTLBlocks: a proposal not approved within this many blocks expires.
	ProposalTTLBlocks int64 `json:"proposal_ttl_blocks,omitempty"`
	// TimezoneOffsetMinutes is the consortium's time zone (minutes east of
	// UTC): an event's date is a day there, and "today" is the block
	// time's date there (330 for India: a dose given at 00:30 IST on the
	// 4th is not in the future at 19:00 UTC on the 3rd).
	TimezoneOffsetMinutes int `json:"timezone_offset_minutes,omitempty"`
}

// Zone is the consortium's time zone.
func (p Params) Zone() *time.Location {
	if p.TimezoneOffsetMinutes == 0 {
		return time.UTC
	}
	return time.FixedZone(fmt.Sprintf("UTC%+03d:%02d", p.TimezoneOffsetMinutes/60, abs(p.TimezoneOffsetMinutes%60)), p.TimezoneOffsetMinutes*60)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// DefaultParams suits a national drive.
func DefaultParams() Params {
	return Params{BackdateDays: 365, MaxClockSkewSeconds: 600, MaxEventsPerTx: 5000, TxValiditySeconds: 86400, GovernanceThreshold: 1, ProposalTTLBlocks: 100_000, TimezoneOffsetMinutes: 330}
}

// Totals are the ledger's running counts.
type Totals struct {
	Certificates   int64 `json:"certificates"`
	EventsAccepted int64 `json:"events_accepted"`
	EventsRejected int64 `json:"events_rejected"`
	Revocations    int64 `json:"revocations"`
	Supersessions  int64 `json:"supersessions"`
	TxRejected     int64 `json:"tx_rejected"`
}

// BatchRef locates an item: the block, the transaction in it, and the
// position inside that transaction's batch.
type BatchRef struct {
	Height int64 `json:"height"`
	Pos    int   `json:"pos"`
	Tx     int   `json:"tx"`
}

func (b BatchRef) String() string { return fmt.Sprintf("%d/%d/%d", b.Height, b.Tx, b.Pos) }

// BatchCommitment is what the tree holds for each transaction that carries
// a batch: the Merkle root over its leaves (each event or item with its
// result and certificate anchor) and the counts.
type BatchCommitment struct {
	Accepted int    `json:"accepted"`
	Facility string `json:"facility,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	Kind     string `json:"kind"`
	Rejected int    `json:"rejected"`
	Root     string `json:"root"`
	Size     int    `json:"size"`
	Tx       string `json:"tx"`
}

// CertStatus is a certificate's revocation or supersession.
type CertStatus struct {
	Height       int64  `json:"height"`
	Reason       string `json:"reason"`
	Status       string `json:"status"`
	SupersededBy string `json:"superseded_by,omitempty"`
}

// Certificate statuses.
const (
	CertActive     = "active"
	CertRevoked    = "revoked"
	CertSuperseded = "superseded"
)

// CertRecord is the index entry of an anchored certificate.
type CertRecord struct {
	Anchor   BatchRef `json:"anchor"`
	Event    Event    `json:"event"`
	EventAt  BatchRef `json:"event_at"`
	Facility string   `json:"facility"`
	Hash     string   `json:"hash"`
	ID       string   `json:"id"`
	Issuer   string   `json:"issuer"`
	Kind     string   `json:"kind"`
	Replaces string   `json:"replaces,omitempty"`
}

// DoseRecord is the index entry of an accepted dose: where and when, of
// which vaccine (the next dose's interval and schedule are checked
// against it).
type DoseRecord struct {
	At          BatchRef `json:"at"`
	Certificate string   `json:"certificate"`
	Date        string   `json:"date"`
	Facility    string   `json:"facility"`
	Vaccine     string   `json:"vaccine"`
}

// kvReader is what execution reads: the working tree while a block runs,
// the last committed tree during CheckTx.
type kvReader interface {
	Get(key []byte) ([]byte, error)
}

// execCtx is the state one transaction executes against.
type execCtx struct {
	app    *App
	height int64
	time   time.Time
	chain  string
	params Params
	txIdx  int
	txHash string
	check  bool // CheckTx: read committed state, write nothing
	kv     kvReader
	blk    *blockState
}

// blockState gathers what one block writes outside the tree, and caches
// decoded registry entries for the block.
type blockState struct {
	ixKeys   []string
	ixValues map[string][]byte
	cache    map[string]any
	totals   Totals
	counts   map[string]int64
	// countBase caches counters' values before this block.
	countBase map[string]int64
	// validatorUpdates are the block's validator changes, for CometBFT.
	validatorUpdates []Validator
	// batchDoses counts the block's accepted doses per batch-safety key.
	batchDoses map[string]int64
	// events is the block's journal: what analytics and the event stream
	// learn of it (no personal data).
	events []BlockEvent
}

func newBlockState() *blockState {
	return &blockState{ixValues: map[string][]byte{}, cache: map[string]any{}, counts: map[string]int64{}, countBase: map[string]int64{}, batchDoses: map[string]int64{}}
}

func (c *execCtx) get(key string) ([]byte, error) {
	v, err := c.kv.Get([]byte(key))
	if err != nil {
		return nil, fmt.Errorf("state read %s: %w", key, err)
	}
	return v, nil
}

func (c *execCtx) set(key string, v []byte) {
	if c.check {
		panic("write during CheckTx: " + key)
	}
	if _, err := c.app.tree.Set([]byte(key), v); err != nil {
		panic(fmt.Sprintf("state write %s: %v", key, err))
	}
	delete(c.blk.cache, key)
}

func (c *execCtx) remove(key string) {
	if c.check {
		panic("write during CheckTx: " + key)
	}
	if _, _, err := c.app.tree.Remove([]byte(key)); err != nil {
		panic(fmt.Sprintf("state remove %s: %v", key, err))
	}
	delete(c.blk.cache, key)
}

func (c *execCtx) setJSON(key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	c.set(key, b)
}

// getJSON decodes the value at key into a fresh T, caching it for the block.
func getJSON[T any](c *execCtx, key string) (*T, error) {
	if v, ok := c.blk.cache[key]; ok {
		t, _ := v.(*T)
		return t, nil
	}
	b, err := c.get(key)
	if err != nil {
		return nil, err
	}
	var t *T
	if b != nil {
		t = new(T)
		if err := json.Unmarshal(b, t); err != nil {
			return nil, fmt.Errorf("state value %s: %w", key, err)
		}
	}
	c.blk.cache[key] = t
	return t, nil
}

// ixGet reads the index as of before this block, with this block's own
// writes on top.
func (c *execCtx) ixGet(key string, v any) (bool, error) {
	if b, ok := c.blk.ixValues[key]; ok {
		return true, json.Unmarshal(b, v)
	}
	return c.app.ix.getJSON(key, c.height, v)
}

func (c *execCtx) ixSet(key string, v any) {
	if c.check {
		panic("index write during CheckTx")
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	c.ixSetRaw(key, b)
}

func (c *execCtx) ixSetRaw(key string, b []byte) {
	if _, ok := c.blk.ixValues[key]; !ok {
		c.blk.ixKeys = append(c.blk.ixKeys, key)
	}
	c.blk.ixValues[key] = b
}

// flushCounts writes the block's per-facility-day counters and totals into
// the tree, in sorted key order.
func (c *execCtx) flushCounts() {
	keys := make([]string, 0, len(c.blk.counts))
	for k := range c.blk.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(c.count(k)))
		c.set(k, b[:])
	}
	t := c.blk.totals
	if t == (Totals{}) {
		return
	}
	cur, _ := getJSON[Totals](c, kTotals)
	if cur == nil {
		cur = &Totals{}
	}
	sum := Totals{
		Certificates:   cur.Certificates + t.Certificates,
		EventsAccepted: cur.EventsAccepted + t.EventsAccepted,
		EventsRejected: cur.EventsRejected + t.EventsRejected,
		Revocations:    cur.Revocations + t.Revocations,
		Supersessions:  cur.Supersessions + t.Supersessions,
		TxRejected:     cur.TxRejected + t.TxRejected,
	}
	c.setJSON(kTotals, sum)
}

// CountKey is the IAVL key of a facility's accepted doses of a program on
// a day (the events' date).
func CountKey(day, facility, program string) string {
	return kCount + day + "/f/" + facility + "/" + program
}

// DistrictCountKey is the IAVL key of a district's accepted doses of a
// program on a day.
func DistrictCountKey(day, state, district, program string) string {
	return kCount + day + "/d/" + state + "/" + district + "/" + program
}

// count reads a counter as of now in this block: the committed value plus
// this block's increments.
func (c *execCtx) count(key string) int64 {
	base, ok := c.blk.countBase[key]
	if !ok {
		if b, _ := c.get(key); len(b) == 8 {
			base = int64(binary.BigEndian.Uint64(b))
		}
		c.blk.countBase[key] = base
	}
	return base + c.blk.counts[key]
}

func (c *execCtx) facility(code string) (*Facility, error) {
	return getJSON[Facility](c, kFacility+code)
}
func (c *execCtx) vaccinator(code string) (*Vaccinator, error) {
	return getJSON[Vaccinator](c, kVaccinatr+code)
}
func (c *execCtx) program(id string) (*Program, error) { return getJSON[Program](c, kProgram+id) }
func (c *execCtx) vaccine(code string) (*Vaccine, error) {
	return getJSON[Vaccine](c, kVaccine+code)
}
func (c *execCtx) authority(id string) (*Authority, error) {
	return getJSON[Authority](c, kAuthority+id)
}
func (c *execCtx) key(kid string) (*Key, error) { return getJSON[Key](c, kKey+kid) }
func (c *execCtx) district(state, district string) (*District, error) {
	return getJSON[District](c, DistrictKey(state, district))
}

// DistrictKey is the IAVL key of a district's policy.
func DistrictKey(state, district string) string { return kDistrict + state + "/" + district }
