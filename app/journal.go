package app

import (
	"encoding/json"
	"fmt"
)

// The journal: for every block, what happened in it, without personal
// data: vaccinations (accepted or refused, with their non-personal facts),
// certificates, revocations, adverse events, feedback and safety signals.
// It is written to the index with the block (index.go), so that analytics
// and the event stream can catch up from any height after a restart
// without re-reading CometBFT's blocks.

// Journal entry kinds.
const (
	EventVaccination = "vaccination"
	EventCertificate = "certificate" // a correction's new certificate
	EventRevocation  = "revocation"
	EventAEFI        = "aefi"
	EventFeedback    = "feedback"
	EventSignal      = "signal"
)

// BlockEvent is one journal entry.
type BlockEvent struct {
	Kind        string   `json:"kind"`
	Height      int64    `json:"height"`
	At          BatchRef `json:"at,omitzero"`
	Code        Code     `json:"code,omitempty"`
	Certificate string   `json:"certificate,omitempty"`
	Replaces    string   `json:"replaces,omitempty"`
	Event       *Event   `json:"event,omitempty"`
	Facility    string   `json:"facility,omitempty"`
	District    string   `json:"district,omitempty"`
	State       string   `json:"state,omitempty"`
	Date        string   `json:"date,omitempty"`
	Vaccine     string   `json:"vaccine,omitempty"`
	Batch       string   `json:"batch,omitempty"`
	Status      string   `json:"status,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	Serious     bool     `json:"serious,omitempty"`
	Seriousness []string `json:"seriousness,omitempty"`
	Rating      int      `json:"rating,omitempty"`
	Rate        int64    `json:"serious_per_million,omitempty"`
}

const ixJournal = "e/" // e/<height> -> []BlockEvent

func journalKey(h int64) string { return fmt.Sprintf("%s%020d", ixJournal, h) }

// Journal returns the entries of blocks from..to (inclusive) that are
// committed at the snapshot, calling f per block in height order.
func (a *App) Journal(s *Snapshot, from, to int64, f func(height int64, events []BlockEvent) bool) error {
	if to > s.Height {
		to = s.Height
	}
	it, err := a.ix.db.Iterator([]byte(journalKey(from)), []byte(journalKey(to+1)))
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		v := it.Value()
		if len(v) < 8 {
			continue
		}
		var evs []BlockEvent
		if err := json.Unmarshal(v[8:], &evs); err != nil {
			return err
		}
		if len(evs) == 0 {
			continue
		}
		if !f(evs[0].Height, evs) {
			break
		}
	}
	return it.Error()
}
