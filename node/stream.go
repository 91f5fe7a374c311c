package node

import (
	"net/http"
	"sync"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/app"
)

// Stream fans committed blocks' journals out to Server-Sent Events
// subscribers. A subscriber that falls behind is dropped (its channel is
// closed); it resumes from the last height it saw, which the journal
// serves.
type Stream struct {
	app    *app.App
	mu     sync.Mutex
	subs   map[chan []app.BlockEvent]struct{}
	closed bool
}

// NewStream follows the app's commits.
func NewStream(a *app.App) *Stream {
	s := &Stream{app: a, subs: map[chan []app.BlockEvent]struct{}{}}
	a.OnCommit(s.committed)
	return s
}

func (s *Stream) committed(b *app.CommittedBlock) {
	if len(b.Events) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- b.Events:
		default: // too slow: drop it; it resumes from its last height
			delete(s.subs, ch)
			close(ch)
		}
	}
}

// Subscribe returns the journal of every block from `from` on: first the
// committed ones, through replay, then live ones on the channel. The
// caller must Unsubscribe.
func (s *Stream) Subscribe(from int64, replay func(height int64, events []app.BlockEvent) bool) (chan []app.BlockEvent, int64, error) {
	ch := make(chan []app.BlockEvent, 256)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, 0, api.NewProblem(http.StatusServiceUnavailable, api.CodeBusy, "the node is shutting down")
	}
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	// Blocks committed from here on arrive on ch too; replay stops at the
	// height it read, and the caller skips live blocks at or below it.
	snap := s.app.Committed()
	if snap == nil {
		return ch, 0, nil
	}
	if from < 1 {
		from = snap.Height + 1
	}
	if from <= snap.Height {
		if err := s.app.Journal(snap, from, snap.Height, replay); err != nil {
			s.Unsubscribe(ch)
			return nil, 0, err
		}
	}
	return ch, snap.Height, nil
}

// Close ends every subscription (the node is stopping) and refuses new ones.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for ch := range s.subs {
		delete(s.subs, ch)
		close(ch)
	}
}

// Unsubscribe stops a subscription.
func (s *Stream) Unsubscribe(ch chan []app.BlockEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[ch]; ok {
		delete(s.subs, ch)
		close(ch)
	}
}
