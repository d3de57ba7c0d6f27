package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyway/keyway/internal/db"
)

// journal writes token rows with group commit: concurrent requests hand
// their inserts to one writer that runs everything queued in a single
// transaction, and each request waits until its own rows are committed.
// Issuing a token therefore stays durable while the per-token cost of a
// commit (an fsync on most engines) is shared by every request in the batch.
type journal struct {
	db   *db.DB
	log  *slog.Logger
	reqs chan *journalEntry
	done chan struct{}
	once sync.Once
	mu   sync.RWMutex
	shut bool
	// coming counts writes announced (the token is being minted, usually
	// signed) but not yet answered. The writer waits briefly for them so a
	// commit carries many tokens instead of one: the commit's fixed cost
	// (WAL frames of the hot index pages) otherwise dominates at JWT rates,
	// where requests reach the journal one signature apart.
	coming atomic.Int64
}

// maxGather bounds how long the writer holds a batch open for announced
// writes; it adds at most this much latency and only under concurrency.
const maxGather = time.Millisecond

type journalEntry struct {
	write func(ctx context.Context, tx *db.Tx) error
	ctx   context.Context
	err   chan error
}

const maxBatch = 256

var errJournalClosed = errors.New("oauth: token store is closed")

var entryPool = sync.Pool{New: func() any { return &journalEntry{err: make(chan error, 1)} }}

func newJournal(d *db.DB, log *slog.Logger) *journal {
	j := &journal{db: d, log: log, reqs: make(chan *journalEntry, 1024), done: make(chan struct{})}
	go j.run()
	return j
}

// write runs fn inside a shared transaction and returns once it committed.
func (j *journal) write(ctx context.Context, fn func(ctx context.Context, tx *db.Tx) error) error {
	e := entryPool.Get().(*journalEntry)
	e.write, e.ctx = fn, ctx
	j.mu.RLock()
	if j.shut {
		j.mu.RUnlock()
		entryPool.Put(e)
		return errJournalClosed
	}
	j.reqs <- e
	j.mu.RUnlock()
	// The writer always answers, even when ctx is cancelled, so the entry
	// can be reused safely.
	err := <-e.err
	e.write, e.ctx = nil, nil
	entryPool.Put(e)
	return err
}

// announce tells the writer a write is on its way; the caller must call
// settle once its write returned (or it gave up).
func (j *journal) announce() { j.coming.Add(1) }

// settle ends what announce began.
func (j *journal) settle() { j.coming.Add(-1) }

// worthGathering reports whether the writer should hold a batch of n open:
// only while enough other writes are still being minted to keep every core
// busy, so waiting never idles the machine (at low concurrency the requests
// would otherwise fall into lockstep behind the commit).
func (j *journal) worthGathering(n int) bool {
	return n < maxBatch && j.coming.Load()-int64(n) >= int64(runtime.GOMAXPROCS(0))
}

func (j *journal) run() {
	defer close(j.done)
	batch := make([]*journalEntry, 0, maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for e := range j.reqs {
		batch = append(batch[:0], e)
	fill:
		for len(batch) < maxBatch {
			select {
			case more, ok := <-j.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, more)
			default:
				break fill
			}
		}
		if j.worthGathering(len(batch)) {
			timer.Reset(maxGather)
		gather:
			for j.worthGathering(len(batch)) {
				select {
				case more, ok := <-j.reqs:
					if !ok {
						break gather
					}
					batch = append(batch, more)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		j.commit(batch)
	}
}

func (j *journal) commit(batch []*journalEntry) {
	live := batch[:0]
	for _, e := range batch {
		if err := e.ctx.Err(); err != nil {
			e.err <- err
			continue
		}
		live = append(live, e)
	}
	if len(live) == 0 {
		return
	}
	err := j.db.InTx(context.Background(), func(tx *db.Tx) error {
		for _, e := range live {
			if err := e.write(e.ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, e := range live {
			e.err <- nil
		}
		return
	}
	if len(live) == 1 {
		live[0].err <- fmt.Errorf("store token: %w", err)
		return
	}
	// One entry spoiled the batch: retry each alone so only it fails.
	for _, e := range live {
		e.err <- j.db.InTx(e.ctx, func(tx *db.Tx) error { return e.write(e.ctx, tx) })
	}
}

func (j *journal) close() {
	j.once.Do(func() {
		j.mu.Lock()
		j.shut = true
		close(j.reqs)
		j.mu.Unlock()
		<-j.done
	})
}
