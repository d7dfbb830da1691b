"""``PostgresTx``'s queue verbs: the outbox (with its lanes), the delivery budgets and the timers.

Rows are claimed ``FOR UPDATE SKIP LOCKED``, so claimers never wait for each other and never take
the same row; a claim holds a lease (``claim_expires_at``) after which another worker may take it.
"""

from __future__ import annotations

from typing import Any

from connector.store.base import OutboxRow, TimerRow, WorkLook
from connector.store.postgres.sql import Queries, _j, _l, _where

# Lanes (``Tx.enqueue``): a row waits while an earlier row of its lane is pending or delivering; a
# dead row does not hold its lane. The same NOT EXISTS as SQLite's, and it is enough across
# replicas, without an advisory lock per lane at claim time, because of two things together:
# - only a lane's head (its earliest undelivered row) passes the NOT EXISTS, and the head is one
#   row, so two workers that race for a lane race for that one row: FOR UPDATE SKIP LOCKED gives
#   it to one, the other skips it, and (read committed) re-checks its status if it was claimed and
#   committed meanwhile. The rows behind it stay out for both: each statement's snapshot still sees
#   the head pending (or delivering), and a snapshot can only be behind, never ahead;
# - a lane's ids are taken in commit order: ``enqueue`` takes an advisory lock before its INSERT
#   (the lane's conversation's: a lane is one conversation's), so a second writer of the lane
#   waits for the first to commit before it draws its id. Without it, identity values are drawn at INSERT and not committed in order: row 11 could
#   commit and be claimed while row 10, earlier in the lane, was still invisible.
# An advisory lock per lane at claim time would make claimers wait on each other, which SKIP LOCKED
# exists to avoid; and a lock held only for the claim's own transaction would not cover the
# delivery, which happens after it commits: the row's status does that.
_LANE_FREE = (
    " AND (o.lane IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e WHERE e.lane = o.lane AND e.id < o.id"
    " AND e.status IN ('pending', 'delivering')))"
)
_DUE = "((o.status='pending' AND o.next_attempt_at<=%s) OR (o.status='delivering' AND o.claim_expires_at<=%s))"


class OutboxQueries(Queries):
    # outbox
    @staticmethod
    def _outbox(row: dict[str, Any]) -> OutboxRow:
        return OutboxRow(
            id=row["id"],
            kind=row["kind"],
            target=row["target"],
            handoff_id=row["handoff_id"],
            conversation_id=row["conversation_id"],
            idempotency_key=row["idempotency_key"],
            body=_l(row["body"]) or {},
            status=row["status"],
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"],
            claimed_by=row["claimed_by"],
            claim_expires_at=row["claim_expires_at"],
            last_error=row["last_error"],
            result=_l(row["result"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def enqueue(
        self,
        kind,
        target,
        idempotency_key,
        body,
        now,
        handoff_id=None,
        conversation_id=None,
        lane=None,
    ):
        if lane is not None:
            # the lane's ids in commit order (see _LANE_FREE): a lane is one conversation's, so
            # its writers take turns on the conversation's lock, which they mostly hold already
            self._lock("conversation:" + conversation_id if conversation_id else f"lane:{lane}")
        row = self._one(
            "INSERT INTO outbox (kind, target, handoff_id, conversation_id, idempotency_key,"
            " body, status, attempts, next_attempt_at, created_at, updated_at, lane)"
            " VALUES (%s,%s,%s,%s,%s,%s,'pending',0,%s,%s,%s,%s)"
            " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            (
                kind,
                target,
                handoff_id,
                conversation_id,
                idempotency_key,
                _j(body),
                now,
                now,
                now,
                lane,
            ),
        )
        return None if row is None else int(row["id"])

    def claim_outbox(self, worker_id, now, lease_seconds):
        row = self._one(
            "UPDATE outbox SET status='delivering', claimed_by=%s, claim_expires_at=%s,"
            " attempts=attempts+1, updated_at=%s WHERE id = ("
            "  SELECT id FROM outbox o WHERE "
            + _DUE
            + _LANE_FREE
            + "  ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE OF o SKIP LOCKED"
            ") RETURNING *",
            (worker_id, now + lease_seconds, now, now, now),
        )
        return None if row is None else self._outbox(row)

    def claim_outbox_batch(self, worker_id, now, lease_seconds, limit):
        cur = self.conn.execute(
            "UPDATE outbox SET status='delivering', claimed_by=%s, claim_expires_at=%s,"
            " attempts=attempts+1, updated_at=%s WHERE id IN ("
            "  SELECT id FROM outbox o WHERE "
            + _DUE
            + _LANE_FREE
            + "  ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE OF o SKIP LOCKED"
            ") RETURNING *",
            (worker_id, now + lease_seconds, now, now, now, limit),
        )
        return sorted((self._outbox(r) for r in cur), key=lambda r: (r.next_attempt_at, r.id))

    def finish_outbox(
        self, row_id, worker_id, now, *, status, next_attempt_at=None, error=None, result=None
    ):
        return (
            self._count(
                "UPDATE outbox SET status=%s, next_attempt_at=COALESCE(%s, next_attempt_at),"
                " last_error=%s, result=COALESCE(%s, result), claimed_by=NULL, claim_expires_at=NULL,"
                " updated_at=%s WHERE id=%s AND claimed_by=%s AND status='delivering'",
                (status, next_attempt_at, error, _j(result), now, row_id, worker_id),
            )
            == 1
        )

    def defer_outbox(self, row_id, worker_id, now, next_attempt_at):
        return (
            self._count(
                "UPDATE outbox SET status='pending', next_attempt_at=%s, attempts=GREATEST(attempts-1, 0),"
                " claimed_by=NULL, claim_expires_at=NULL, updated_at=%s"
                " WHERE id=%s AND claimed_by=%s AND status='delivering'",
                (next_attempt_at, now, row_id, worker_id),
            )
            == 1
        )

    def extend_outbox_claim(self, row_id, worker_id, now, lease_seconds):
        return (
            self._count(
                "UPDATE outbox SET claim_expires_at=%s, updated_at=%s WHERE id=%s AND claimed_by=%s"
                " AND status='delivering'",
                (now + lease_seconds, now, row_id, worker_id),
            )
            == 1
        )

    def take_budget(self, key, cost, per_second, capacity, now, max_wait):
        # The bucket's row, locked until this transaction ends: takers on every replica take turns
        # on it. A missing bucket is made full first (what a missing one means), so there is always
        # a row to lock; two first takers meet on the primary key and the second then waits.
        self.conn.execute(
            "INSERT INTO budgets (key, tokens, updated_at) VALUES (%s,%s,%s) ON CONFLICT (key) DO NOTHING",
            (key, float(capacity), now),
        )
        row = self._one("SELECT tokens, updated_at FROM budgets WHERE key=%s FOR UPDATE", (key,))
        assert row is not None
        tokens = min(capacity, row["tokens"] + max(0.0, now - row["updated_at"]) * per_second)
        if cost < 0:
            tokens, wait = min(capacity, tokens - cost), 0.0
        else:
            # a cost above the bucket's size is taken from a full bucket (it could never fit)
            wait = max(0.0, min(cost, capacity) - tokens) / per_second
            if wait > max_wait:
                return wait
            tokens -= cost
        self.conn.execute(
            "UPDATE budgets SET tokens=%s, updated_at=%s WHERE key=%s",
            (tokens, max(now, row["updated_at"]), key),
        )
        return wait

    def get_outbox(self, row_id):
        row = self._one("SELECT * FROM outbox WHERE id=%s", (row_id,))
        return None if row is None else self._outbox(row)

    def list_outbox(self, status=None, limit=100):
        clause, params = _where(status=status)
        cur = self.conn.execute(
            f"SELECT * FROM outbox{clause} ORDER BY id LIMIT %s", (*params, limit)
        )
        return [self._outbox(r) for r in cur]

    def count_pending_ahead(self, row_id, kind, target):
        row = self._one(
            "SELECT COUNT(*) AS n FROM outbox WHERE status='pending' AND id<%s AND kind=%s"
            " AND target=%s",
            (row_id, kind, target),
        )
        return int(row["n"]) if row else 0

    def retry_outbox(self, row_id, now):
        return (
            self._count(
                "UPDATE outbox SET status='pending', attempts=0, next_attempt_at=%s, claimed_by=NULL,"
                " claim_expires_at=NULL, updated_at=%s WHERE id=%s AND status IN ('dead','pending')",
                (now, now, row_id),
            )
            == 1
        )

    def any_due(self, now):
        row = self._one(
            "SELECT 1 AS one FROM outbox o WHERE " + _DUE + _LANE_FREE + " LIMIT 1",
            (now, now),
        )
        return row is not None

    def next_due_at(self):
        row = self._one(
            "SELECT LEAST((SELECT MIN(next_attempt_at) FROM outbox o WHERE status='pending'"
            + _LANE_FREE
            + "),"
            " (SELECT MIN(claim_expires_at) FROM outbox WHERE status='delivering'),"
            " (SELECT MIN(due_at) FROM timers WHERE status='pending')) AS t"
        )
        return None if row is None or row["t"] is None else float(row["t"])

    def look_for_work(self, now):
        # ``any_due``, ``next_timer_due_at`` and ``next_due_at`` in one statement; the last only
        # when nothing is due (a subquery in a CASE branch not taken is not run)
        row = self._one(
            "SELECT w.due, w.t AS timer_due, CASE WHEN w.due THEN NULL ELSE LEAST("
            "(SELECT MIN(next_attempt_at) FROM outbox o WHERE status='pending'"
            + _LANE_FREE
            + "), (SELECT MIN(claim_expires_at) FROM outbox WHERE status='delivering'), w.t) END"
            " AS next_due FROM (SELECT EXISTS (SELECT 1 FROM outbox o WHERE "
            + _DUE
            + _LANE_FREE
            + ") AS due, (SELECT MIN(due_at) FROM timers WHERE status='pending') AS t) w",
            (now, now),
        )
        assert row is not None
        timer_due, next_due = row["timer_due"], row["next_due"]
        return WorkLook(
            bool(row["due"]),
            None if timer_due is None else float(timer_due),
            None if next_due is None else float(next_due),
        )

    def outbox_stats(self):
        by_status = [
            {"kind": r["kind"], "target": r["target"], "status": r["status"], "n": r["n"]}
            for r in self.conn.execute(
                "SELECT kind, target, status, COUNT(*) AS n FROM outbox GROUP BY kind, target, status"
            )
        ]
        oldest = self._one(
            "SELECT MIN(created_at) AS t FROM outbox WHERE status IN ('pending','delivering')"
        )
        timers = self._one("SELECT COUNT(*) AS n FROM timers WHERE status='pending'")
        return {
            "rows": by_status,
            "oldest_undelivered_at": oldest["t"] if oldest else None,
            "pending_timers": int(timers["n"]) if timers else 0,
        }

    # timers
    @staticmethod
    def _timer(row: dict[str, Any]) -> TimerRow:
        return TimerRow(
            id=row["id"],
            handoff_id=row["handoff_id"],
            conversation_id=row["conversation_id"],
            kind=row["kind"],
            round=row["round"],
            step=row["step"],
            due_at=row["due_at"],
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            data=_l(row["data"]) or {},
            claimed_by=row["claimed_by"],
            fired_at=row["fired_at"],
        )

    def add_timer(self, *, handoff_id, conversation_id, kind, round, step, due_at, now, data):
        row = self._one(
            "INSERT INTO timers (handoff_id, conversation_id, kind, round, step, due_at, status, data,"
            " created_at, updated_at) VALUES (%s,%s,%s,%s,%s,%s,'pending',%s,%s,%s)"
            " ON CONFLICT (handoff_id, kind, round, step) DO NOTHING RETURNING id",
            (handoff_id, conversation_id, kind, round, step, due_at, _j(data), now, now),
        )
        return None if row is None else int(row["id"])

    def claim_due_timer(self, worker_id, now):
        row = self._one(
            "UPDATE timers SET status='fired', claimed_by=%s, fired_at=%s, updated_at=%s WHERE id = ("
            "  SELECT id FROM timers WHERE status='pending' AND due_at<=%s ORDER BY due_at, id"
            "  LIMIT 1 FOR UPDATE SKIP LOCKED"
            ") AND status='pending' RETURNING *",
            (worker_id, now, now, now),
        )
        return None if row is None else self._timer(row)

    def cancel_timers(self, handoff_id, now):
        return self._count(
            "UPDATE timers SET status='cancelled', updated_at=%s WHERE handoff_id=%s AND status='pending'",
            (now, handoff_id),
        )

    def next_timer_due_at(self):
        row = self._one("SELECT MIN(due_at) AS t FROM timers WHERE status='pending'")
        return None if row is None or row["t"] is None else float(row["t"])

    def list_timers(self, handoff_id=None, status=None):
        clause, params = _where(handoff_id=handoff_id, status=status)
        return [
            self._timer(r)
            for r in self.conn.execute(f"SELECT * FROM timers{clause} ORDER BY id", params)
        ]
