package listener

import (
	"context"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
)

// TestOutbox exercises the SQL on every engine: ordering, the optimistic
// claim that keeps two nodes from sending the same attempt, rescheduling,
// the restart reload and pruning.
func TestOutbox(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.Migrate(ctx, component, migrations); err != nil {
			t.Fatal(err)
		}
		o := outbox{d: d}
		if n, err := o.maxSeq(ctx); err != nil || n != 0 {
			t.Fatalf("maxSeq of empty outbox = %d, %v", n, err)
		}
		rows := []outboxRow{
			{EventID: "00000000-0000-4000-8000-000000000002", Seq: 20, Kind: EventTypeTokenRevocation, TokenKey: tokenKey("a"), Payload: `{"n":2}`, NextAttempt: 1000, CreatedAt: 1000},
			{EventID: "00000000-0000-4000-8000-000000000001", Seq: 10, Kind: EventTypeTokenRevocation, TokenKey: tokenKey("a"), Payload: `{"n":1}`, NextAttempt: 1000, CreatedAt: 1000},
			{EventID: "00000000-0000-4000-8000-000000000003", Seq: 30, Kind: EventTypeTokenRevocation, TokenKey: tokenKey("b"), Payload: `{"n":3}`, NextAttempt: 1000, CreatedAt: 1000},
		}
		for _, r := range rows {
			if err := o.insert(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		// Inserting the same event again (a retried insert) is not an error.
		if err := o.insert(ctx, rows[0]); err != nil {
			t.Fatalf("re-insert: %v", err)
		}
		head, err := o.head(ctx, 10)
		if err != nil || len(head) != 3 || head[0].Seq != 10 || head[2].Seq != 30 {
			t.Fatalf("head = %+v, %v", head, err)
		}
		first := head[0]
		ok, err := o.claim(ctx, first, 5000)
		if err != nil || !ok {
			t.Fatalf("first claim = %v, %v", ok, err)
		}
		// A second node that read the same row loses the race.
		if ok, err := o.claim(ctx, first, 6000); err != nil || ok {
			t.Fatalf("stale claim = %v, %v; want false", ok, err)
		}
		if err := o.failed(ctx, first.EventID, 9000, "HTTP 503 from the API Manager"); err != nil {
			t.Fatal(err)
		}
		head, _ = o.head(ctx, 10)
		if head[0].Attempts != 1 || head[0].NextAttempt != 9000 {
			t.Fatalf("after failure: %+v", head[0])
		}
		if err := o.retryNow(ctx, 2000); err != nil {
			t.Fatal(err)
		}
		head, _ = o.head(ctx, 10)
		if head[0].NextAttempt != 2000 || head[1].NextAttempt != 1000 {
			t.Fatalf("retryNow moved the wrong rows: %+v", head)
		}
		if err := o.delivered(ctx, first.EventID); err != nil {
			t.Fatal(err)
		}
		if n, err := o.count(ctx); err != nil || n != 2 {
			t.Fatalf("count = %d, %v; want 2", n, err)
		}
		if n, err := o.maxSeq(ctx); err != nil || n != 30 {
			t.Fatalf("maxSeq = %d, %v; want 30", n, err)
		}
		// Migrating again is a no-op.
		if err := d.Migrate(ctx, component, migrations); err != nil {
			t.Fatal(err)
		}
	})
}
