package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/mempool"

	"github.com/divoc/divoc/app"
)

// Ledger submits transactions to the local mempool and waits until the
// app has committed them. A transaction counts as committed only after the
// app's Commit has saved the version that holds it.
type Ledger struct {
	app     *app.App
	mempool mempool.Mempool
	timeout time.Duration

	mu      sync.Mutex
	waiters map[string][]chan Outcome
	next    chan struct{}
}

// Outcome is a committed transaction's result.
type Outcome struct {
	Height int64
	Time   time.Time
	TxHash string
	Result *app.TxResult
}

// Errors of Submit besides the ledger's own rejections (*app.Error).
var (
	ErrBusy    = errors.New("the mempool is full; retry later")
	ErrTimeout = errors.New("the transaction was accepted but not committed in time; resubmitting the same signed transaction is safe (a replay is refused)")
)

// NewLedger watches the app's commits.
func NewLedger(a *app.App, mp mempool.Mempool, timeout time.Duration) *Ledger {
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	l := &Ledger{app: a, mempool: mp, timeout: timeout, waiters: map[string][]chan Outcome{}, next: make(chan struct{})}
	a.OnCommit(l.committed)
	return l
}

func (l *Ledger) committed(b *app.CommittedBlock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, h := range b.TxHashes {
		for _, ch := range l.waiters[h] {
			ch <- Outcome{Height: b.Height, Time: b.Time, TxHash: h, Result: b.Results[i]}
		}
		delete(l.waiters, h)
	}
	close(l.next)
	l.next = make(chan struct{})
}

// NextCommit returns a channel closed at the next commit.
func (l *Ledger) NextCommit() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// Submit sends tx and waits for its commit. A transaction CheckTx refuses
// returns the refusal as *app.Error.
func (l *Ledger) Submit(ctx context.Context, tx []byte) (*Outcome, error) {
	hash := app.TxHash(tx)
	ch := make(chan Outcome, 1)
	l.mu.Lock()
	l.waiters[hash] = append(l.waiters[hash], ch)
	l.mu.Unlock()
	defer l.forget(hash, ch)

	checked := make(chan *abcitypes.ResponseCheckTx, 1)
	err := l.mempool.CheckTx(tx, func(r *abcitypes.ResponseCheckTx) { checked <- r }, mempool.TxInfo{})
	switch {
	case errors.Is(err, mempool.ErrTxInCache):
		// Already submitted: wait for the first copy.
	case errors.As(err, &mempool.ErrMempoolIsFull{}):
		return nil, ErrBusy
	case err != nil:
		var tooLarge mempool.ErrTxTooLarge
		if errors.As(err, &tooLarge) {
			return nil, &app.Error{Code: app.CodeTooLarge, Reason: err.Error()}
		}
		return nil, fmt.Errorf("mempool: %w", err)
	default:
		select {
		case r := <-checked:
			if r.Code != abcitypes.CodeTypeOK {
				code := app.CodeFromABCI(r.Code)
				return nil, &app.Error{Code: code, Reason: strings.TrimPrefix(r.Log, string(code)+": ")}
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	timer := time.NewTimer(l.timeout)
	defer timer.Stop()
	select {
	case o := <-ch:
		return &o, nil
	case <-timer.C:
		return nil, ErrTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Ledger) forget(hash string, ch chan Outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ws := l.waiters[hash]
	for i, c := range ws {
		if c == ch {
			l.waiters[hash] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(l.waiters[hash]) == 0 {
		delete(l.waiters, hash)
	}
}
