package oauth

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
)

// TestJournalGathersWithoutStalling: writes announced but never made (a
// request that failed after announcing) must not hold the others' commit
// forever, and every write made while the writer gathers is committed.
func TestJournalGathersWithoutStalling(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	if _, err := d.ExecContext(ctx, `CREATE TABLE journal_probe (k VARCHAR(20) NOT NULL PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	j := newJournal(d, slog.New(slog.DiscardHandler))
	defer j.close()
	// More announced-but-silent writers than cores: the writer would gather.
	ghosts := runtime.GOMAXPROCS(0) + 2
	for range ghosts {
		j.announce()
	}
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.announce()
			defer j.settle()
			errs <- j.write(ctx, func(ctx context.Context, tx *db.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO journal_probe (k) VALUES (?)`, string(rune('a'+i)))
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM journal_probe`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != writers {
		t.Fatalf("committed %d rows, want %d", n, writers)
	}
	for range ghosts {
		j.settle()
	}
	if got := j.coming.Load(); got != 0 {
		t.Fatalf("coming = %d after every write settled", got)
	}
}
