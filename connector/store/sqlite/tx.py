"""``SqliteTx``: the queries of one transaction against the SQLite store (``connector/store/sqlite/store.py``).

Every method is one or two plain SQL statements on the transaction's connection; JSON columns
are encoded compactly on the way in and decoded on the way out.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from typing import Any

from connector.store.base import (
    AuditCheckpoint,
    AuditRow,
    ConversationRow,
    FactRow,
    HandoffRow,
    MessageRow,
    OutboxRow,
    TimerRow,
    Tx,
    audit_chain,
    audit_hash,
    canonical_json,
    checkpoint_hash,
    compact_json,
)
from connector.store.sqlite.migrations import report_columns

# A row of a lane waits while an earlier row of its lane is undelivered (pending or delivering);
# a dead row does not hold its lane forever: it is reported, and later rows go on.
_LANE_FREE = (
    " AND (o.lane IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e WHERE e.lane = o.lane AND e.id < o.id"
    " AND e.status IN ('pending', 'delivering')))"
)
# The handoff columns a KPI row reads: an update touching one of them recomputes the row.
KPI_INPUTS = frozenset({"team", "payload", "claimed_by", "handback"})


def _j(value: Any) -> str | None:
    return None if value is None else compact_json(value)  # an ``Encoded`` object: its text


def _where(**filters: Any) -> tuple[str, list[Any]]:
    """`` WHERE a=? AND b=?`` for the filters that are set (empty when none is), and the values."""
    used = {column: value for column, value in filters.items() if value}
    clause = " WHERE " + " AND ".join(f"{column}=?" for column in used) if used else ""
    return clause, list(used.values())


def _l(value: str | None) -> Any:
    return None if value is None else json.loads(value)


class SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        # Handoffs whose KPI row a write changed: recomputed once each at the end of the
        # transaction (``flush_kpis``, before COMMIT), not once per write verb.
        self._kpis_due: dict[str, None] = {}
        # Handoffs this transaction inserted and did not update since: their KPI row needs no read
        # back (nor the payload decoded again) under the write lock.
        self._inserted: dict[str, HandoffRow] = {}

    def _kpis_changed(self, handoff_id: str) -> None:
        self._kpis_due[handoff_id] = None

    def flush_kpis(self) -> None:
        """Recompute the KPI rows this transaction's writes changed; the store calls it before COMMIT."""
        while self._kpis_due:
            handoff_id = next(iter(self._kpis_due))
            del self._kpis_due[handoff_id]
            self.refresh_handoff_kpis(handoff_id)

    def refresh_handoff_kpis(self, handoff_id):
        """``Tx.refresh_handoff_kpis``, reading less while the write lock is held: a handoff this
        transaction inserted comes from memory, and messages without the ``data`` column (a KPI
        row reads only their sequence, role, text and time)."""
        from connector.kpis import row_from_store

        handoff = self._inserted.get(handoff_id) or self.get_handoff(handoff_id)
        if handoff is None:
            return
        messages = [
            MessageRow(handoff.conversation_id, r[0], r[1], r[2], r[3], {}, r[4])
            for r in self.conn.execute(
                "SELECT id, role, text, at, seq FROM messages WHERE conversation_id=? ORDER BY seq",
                (handoff.conversation_id,),
            )
        ]
        self.put_handoff_kpis(
            row_from_store(
                handoff,
                self.get_conversation(handoff.conversation_id),
                messages,
                self.list_facts(handoff_id),
                [e["action"] for e in self.list_draft_events(handoff_id)],
            )
        )

    def _one(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    # events
    def get_event(self, source, event_id):
        row = self._one(
            "SELECT response FROM events WHERE source=? AND event_id=?", (source, event_id)
        )
        return None if row is None else _l(row["response"])

    def put_event(self, source, event_id, conversation_id, response, received_at):
        self.conn.execute(
            "INSERT INTO events (source, event_id, conversation_id, response, received_at) VALUES (?,?,?,?,?)",
            (source, event_id, conversation_id, _j(response), received_at),
        )

    # conversations
    @staticmethod
    def _conversation(row: sqlite3.Row) -> ConversationRow:
        return ConversationRow(
            id=row["id"],
            source=row["source"],
            owner=row["owner"],
            version=row["version"],
            owner_since=row["owner_since"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            handoff_id=row["handoff_id"],
            channel=row["channel"],
            language=row["language"],
            url=row["url"],
            customer=_l(row["customer"]) or {},
            bot=_l(row["bot"]) or {},
        )

    def get_conversation(self, conversation_id):
        row = self._one("SELECT * FROM conversations WHERE id=?", (conversation_id,))
        return None if row is None else self._conversation(row)

    def insert_conversation(self, row):
        self.conn.execute(
            "INSERT INTO conversations (id, source, owner, version, owner_since, handoff_id, channel,"
            " language, url, customer, bot, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.id,
                row.source,
                row.owner,
                row.version,
                row.owner_since,
                row.handoff_id,
                row.channel,
                row.language,
                row.url,
                _j(row.customer),
                _j(row.bot),
                row.created_at,
                row.updated_at,
            ),
        )

    def update_conversation(self, conversation_id, **fields):
        allowed = {"channel", "language", "url", "customer", "bot", "updated_at"}
        assert set(fields) <= allowed, set(fields) - allowed
        cols = ", ".join(f"{k}=?" for k in fields)
        values = [_j(v) if k in ("customer", "bot") else v for k, v in fields.items()]
        self.conn.execute(f"UPDATE conversations SET {cols} WHERE id=?", (*values, conversation_id))

    def cas_control(self, conversation_id, expected_version, owner, handoff_id, now):
        cur = self.conn.execute(
            "UPDATE conversations SET owner=?, version=version+1, owner_since=?, handoff_id=?,"
            " updated_at=? WHERE id=? AND version=?",
            (owner, now, handoff_id, now, conversation_id, expected_version),
        )
        return cur.rowcount == 1

    # messages
    def add_messages(self, rows):
        if not rows:
            return []
        conversation_id = rows[0].conversation_id
        last = self._one(
            "SELECT COALESCE(MAX(seq), 0) AS s FROM messages WHERE conversation_id=?",
            (conversation_id,),
        )
        seq = last["s"] if last else 0
        inserted = []
        for row in rows:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO messages (conversation_id, id, seq, role, text, at, data)"
                " VALUES (?,?,?,?,?,?,?)",
                (row.conversation_id, row.id, seq + 1, row.role, row.text, row.at, _j(row.data)),
            )
            if cur.rowcount == 1:
                seq += 1
                row.seq = seq
                inserted.append(row)
        if any(r.role in ("agent", "customer") for r in inserted):
            # messages after a handoff feed its repeat-context figures
            for h in self.conn.execute(
                "SELECT id FROM handoffs WHERE conversation_id=?", (conversation_id,)
            ).fetchall():
                self._kpis_changed(h["id"])
        return inserted

    def list_messages(self, conversation_id):
        cur = self.conn.execute(
            "SELECT * FROM messages WHERE conversation_id=? ORDER BY seq", (conversation_id,)
        )
        return [
            MessageRow(
                conversation_id=r["conversation_id"],
                id=r["id"],
                role=r["role"],
                text=r["text"],
                at=r["at"],
                data=_l(r["data"]) or {},
                seq=r["seq"],
            )
            for r in cur
        ]

    # handoffs
    @staticmethod
    def _handoff(row: sqlite3.Row) -> HandoffRow:
        return HandoffRow(
            id=row["id"],
            conversation_id=row["conversation_id"],
            source=row["source"],
            status=row["status"],
            team=row["team"],
            priority=row["priority"],
            payload=_l(row["payload"]) or {},
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            customer_id=row["customer_id"],
            claimed_by=row["claimed_by"],
            handback=_l(row["handback"]),
        )

    def insert_handoff(self, row):
        self.conn.execute(
            "INSERT INTO handoffs (id, conversation_id, source, status, team, priority, payload,"
            " customer_id, claimed_by, handback, created_at, updated_at, intent, triggers, has_draft,"
            " transcript_turns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.id,
                row.conversation_id,
                row.source,
                row.status,
                row.team,
                row.priority,
                _j(row.payload),
                row.customer_id,
                row.claimed_by,
                _j(row.handback),
                row.created_at,
                row.updated_at,
                *report_columns(row.payload),
            ),
        )
        self._inserted[row.id] = replace(row)
        self._kpis_changed(row.id)

    def get_handoff(self, handoff_id):
        row = self._one("SELECT * FROM handoffs WHERE id=?", (handoff_id,))
        return None if row is None else self._handoff(row)

    def update_handoff(self, handoff_id, **fields):
        allowed = {"status", "team", "priority", "payload", "claimed_by", "handback", "updated_at"}
        assert set(fields) <= allowed, set(fields) - allowed
        cols = ", ".join(f"{k}=?" for k in fields)
        values = [_j(v) if k in ("payload", "handback") else v for k, v in fields.items()]
        self.conn.execute(f"UPDATE handoffs SET {cols} WHERE id=?", (*values, handoff_id))
        self._inserted.pop(handoff_id, None)
        if fields.keys() & KPI_INPUTS:
            self._kpis_changed(handoff_id)

    def list_handoffs(self, status=None, team=None, limit=100):
        clause, params = _where(status=status, team=team)
        sql = f"SELECT * FROM handoffs{clause} ORDER BY created_at DESC, id DESC LIMIT ?"
        return [self._handoff(r) for r in self.conn.execute(sql, (*params, limit))]

    def count_customer_handoffs(self, customer_id):
        row = self._one("SELECT COUNT(*) AS n FROM handoffs WHERE customer_id=?", (customer_id,))
        return int(row["n"]) if row else 0

    def put_ticket_ref(self, handoff_id, destination, ref):
        self.conn.execute(
            "INSERT INTO ticket_refs (handoff_id, destination, ref) VALUES (?,?,?)"
            " ON CONFLICT (handoff_id, destination) DO UPDATE SET ref=excluded.ref",
            (handoff_id, destination, _j(ref)),
        )

    def get_ticket_refs(self, handoff_id):
        cur = self.conn.execute(
            "SELECT destination, ref FROM ticket_refs WHERE handoff_id=?", (handoff_id,)
        )
        return {r["destination"]: _l(r["ref"]) for r in cur}

    # outbox
    @staticmethod
    def _outbox(row: sqlite3.Row) -> OutboxRow:
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
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO outbox (kind, target, handoff_id, conversation_id, idempotency_key,"
            " body, status, attempts, next_attempt_at, created_at, updated_at, lane)"
            " VALUES (?,?,?,?,?,?,'pending',0,?,?,?,?)",
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
        return cur.lastrowid if cur.rowcount == 1 else None

    def claim_outbox(self, worker_id, now, lease_seconds):
        row = self._one(
            "UPDATE outbox SET status='delivering', claimed_by=?, claim_expires_at=?,"
            " attempts=attempts+1, updated_at=? WHERE id = ("
            "  SELECT id FROM outbox o WHERE ((status='pending' AND next_attempt_at<=?)"
            "  OR (status='delivering' AND claim_expires_at<=?))"
            + _LANE_FREE
            + "  ORDER BY next_attempt_at, id LIMIT 1"
            ") RETURNING *",
            (worker_id, now + lease_seconds, now, now, now),
        )
        return None if row is None else self._outbox(row)

    def claim_outbox_batch(self, worker_id, now, lease_seconds, limit):
        cur = self.conn.execute(
            "UPDATE outbox SET status='delivering', claimed_by=?, claim_expires_at=?,"
            " attempts=attempts+1, updated_at=? WHERE id IN ("
            "  SELECT id FROM outbox o WHERE ((status='pending' AND next_attempt_at<=?)"
            "  OR (status='delivering' AND claim_expires_at<=?))"
            + _LANE_FREE
            + "  ORDER BY next_attempt_at, id LIMIT ?"
            ") RETURNING *",
            (worker_id, now + lease_seconds, now, now, now, limit),
        )
        rows = [self._outbox(r) for r in cur]
        return sorted(rows, key=lambda r: (r.next_attempt_at, r.id))

    def finish_outbox(
        self, row_id, worker_id, now, *, status, next_attempt_at=None, error=None, result=None
    ):
        cur = self.conn.execute(
            "UPDATE outbox SET status=?, next_attempt_at=COALESCE(?, next_attempt_at),"
            " last_error=?, result=COALESCE(?, result), claimed_by=NULL, claim_expires_at=NULL,"
            " updated_at=? WHERE id=? AND claimed_by=? AND status='delivering'",
            (status, next_attempt_at, error, _j(result), now, row_id, worker_id),
        )
        return cur.rowcount == 1

    def defer_outbox(self, row_id, worker_id, now, next_attempt_at):
        cur = self.conn.execute(
            "UPDATE outbox SET status='pending', next_attempt_at=?, attempts=MAX(attempts-1, 0),"
            " claimed_by=NULL, claim_expires_at=NULL, updated_at=?"
            " WHERE id=? AND claimed_by=? AND status='delivering'",
            (next_attempt_at, now, row_id, worker_id),
        )
        return cur.rowcount == 1

    def extend_outbox_claim(self, row_id, worker_id, now, lease_seconds):
        cur = self.conn.execute(
            "UPDATE outbox SET claim_expires_at=?, updated_at=? WHERE id=? AND claimed_by=?"
            " AND status='delivering'",
            (now + lease_seconds, now, row_id, worker_id),
        )
        return cur.rowcount == 1

    def take_budget(self, key, cost, per_second, capacity, now, max_wait):
        row = self._one("SELECT tokens, updated_at FROM budgets WHERE key=?", (key,))
        tokens = (
            capacity
            if row is None
            else min(capacity, row["tokens"] + max(0.0, now - row["updated_at"]) * per_second)
        )
        if cost < 0:
            tokens, wait = min(capacity, tokens - cost), 0.0
        else:
            # a cost above the bucket's size is taken from a full bucket (it could never fit)
            wait = max(0.0, min(cost, capacity) - tokens) / per_second
            if wait > max_wait:
                return wait
            tokens -= cost
        self.conn.execute(
            "INSERT INTO budgets (key, tokens, updated_at) VALUES (?,?,?)"
            " ON CONFLICT(key) DO UPDATE SET tokens=excluded.tokens, updated_at=excluded.updated_at",
            (key, tokens, max(now, row["updated_at"]) if row is not None else now),
        )
        return wait

    def get_outbox(self, row_id):
        row = self._one("SELECT * FROM outbox WHERE id=?", (row_id,))
        return None if row is None else self._outbox(row)

    def list_outbox(self, status=None, limit=100):
        if status:
            cur = self.conn.execute(
                "SELECT * FROM outbox WHERE status=? ORDER BY id LIMIT ?", (status, limit)
            )
        else:
            cur = self.conn.execute("SELECT * FROM outbox ORDER BY id LIMIT ?", (limit,))
        return [self._outbox(r) for r in cur]

    def count_pending_ahead(self, row_id, kind, target):
        row = self._one(
            "SELECT COUNT(*) AS n FROM outbox WHERE status='pending' AND id<? AND kind=?"
            " AND target=?",
            (row_id, kind, target),
        )
        return row["n"] if row else 0

    def retry_outbox(self, row_id, now):
        cur = self.conn.execute(
            "UPDATE outbox SET status='pending', attempts=0, next_attempt_at=?, claimed_by=NULL,"
            " claim_expires_at=NULL, updated_at=? WHERE id=? AND status IN ('dead','pending')",
            (now, now, row_id),
        )
        return cur.rowcount == 1

    def any_due(self, now):
        row = self._one(
            "SELECT 1 FROM outbox o WHERE ((status='pending' AND next_attempt_at<=?)"
            " OR (status='delivering' AND claim_expires_at<=?))" + _LANE_FREE + " LIMIT 1",
            (now, now),
        )
        return row is not None

    def next_due_at(self):
        row = self._one(
            "SELECT MIN(t) AS t FROM (SELECT MIN(next_attempt_at) AS t FROM outbox o"
            " WHERE status='pending'"
            + _LANE_FREE
            + " UNION ALL SELECT MIN(claim_expires_at) FROM outbox WHERE status='delivering'"
            " UNION ALL SELECT MIN(due_at) FROM timers WHERE status='pending')"
        )
        return None if row is None or row["t"] is None else float(row["t"])

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
    def _timer(row: sqlite3.Row) -> TimerRow:
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
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO timers (handoff_id, conversation_id, kind, round, step, due_at,"
            " status, data, created_at, updated_at) VALUES (?,?,?,?,?,?,'pending',?,?,?)",
            (handoff_id, conversation_id, kind, round, step, due_at, _j(data), now, now),
        )
        return cur.lastrowid if cur.rowcount == 1 else None

    def claim_due_timer(self, worker_id, now):
        row = self._one(
            "UPDATE timers SET status='fired', claimed_by=?, fired_at=?, updated_at=? WHERE id = ("
            "  SELECT id FROM timers WHERE status='pending' AND due_at<=? ORDER BY due_at, id LIMIT 1"
            ") AND status='pending' RETURNING *",
            (worker_id, now, now, now),
        )
        return None if row is None else self._timer(row)

    def cancel_timers(self, handoff_id, now):
        cur = self.conn.execute(
            "UPDATE timers SET status='cancelled', updated_at=? WHERE handoff_id=? AND status='pending'",
            (now, handoff_id),
        )
        return cur.rowcount

    def next_timer_due_at(self):
        row = self._one("SELECT MIN(due_at) AS t FROM timers WHERE status='pending'")
        return None if row is None or row["t"] is None else float(row["t"])

    def list_timers(self, handoff_id=None, status=None):
        clause, params = _where(handoff_id=handoff_id, status=status)
        sql = f"SELECT * FROM timers{clause} ORDER BY id"
        return [self._timer(r) for r in self.conn.execute(sql, params)]

    # facts
    def add_fact(self, handoff_id, kind, at, data, *, once=False):
        if once and self._one(
            "SELECT 1 FROM handoff_facts WHERE handoff_id=? AND kind=?", (handoff_id, kind)
        ):
            return False
        self.conn.execute(
            "INSERT INTO handoff_facts (handoff_id, kind, at, data) VALUES (?,?,?,?)",
            (handoff_id, kind, at, _j(data)),
        )
        self._kpis_changed(handoff_id)
        return True

    def recent_first_responses(self, team, limit):
        cur = self.conn.execute(
            "SELECT json_extract(f.data, '$.seconds') AS s FROM handoff_facts f"
            " JOIN handoffs h ON h.id = f.handoff_id"
            " WHERE f.kind = 'first_response' AND h.team = ?"
            " ORDER BY f.at DESC, f.id DESC LIMIT ?",
            (team, limit),
        )
        return [float(r["s"] or 0.0) for r in cur]

    def list_facts(self, handoff_id=None, kind=None):
        clause, params = _where(handoff_id=handoff_id, kind=kind)
        sql = f"SELECT * FROM handoff_facts{clause} ORDER BY id"
        return [
            FactRow(r["id"], r["handoff_id"], r["kind"], r["at"], _l(r["data"]) or {})
            for r in self.conn.execute(sql, params)
        ]

    def report_data(self, since, until, team=None):
        from connector.store.sqlite.reports import report_data

        return report_data(self.conn, since, until, team)

    # KPI rows
    def put_handoff_kpis(self, row):
        from connector.store.sqlite.reports import put_kpi_rows

        put_kpi_rows(self.conn, [row])

    def list_handoff_kpis(self, since, until):
        from connector.store.sqlite.reports import list_kpi_rows

        self.flush_kpis()  # what this transaction wrote, read back in it
        return list_kpi_rows(self.conn, since, until)

    def count_conversations(self, since, until):
        row = self._one(
            "SELECT COUNT(*) AS n FROM conversations WHERE created_at >= ? AND created_at < ?",
            (since, until),
        )
        return int(row["n"]) if row else 0

    # inbox
    def put_inbox_item(self, handoff_id, payload, now):
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO inbox (handoff_id, payload, notes, filed_at) VALUES (?,?,?,?)",
            (handoff_id, _j(payload), "[]", now),
        )
        row = self._one("SELECT number FROM inbox WHERE handoff_id=?", (handoff_id,))
        assert row is not None
        return int(row["number"]), cur.rowcount == 1

    def get_inbox_item(self, handoff_id):
        row = self._one("SELECT * FROM inbox WHERE handoff_id=?", (handoff_id,))
        if row is None:
            return None
        return {
            "number": row["number"],
            "handoff_id": row["handoff_id"],
            "payload": _l(row["payload"]),
            "notes": _l(row["notes"]) or [],
            "filed_at": row["filed_at"],
        }

    def add_inbox_note(self, handoff_id, text, now, key=None):
        item = self.get_inbox_item(handoff_id)
        if item is None:
            raise KeyError(handoff_id)
        if key and any(note.get("key") == key for note in item["notes"]):
            return False
        notes = item["notes"] + [{"at": now, "text": text, **({"key": key} if key else {})}]
        self.conn.execute("UPDATE inbox SET notes=? WHERE handoff_id=?", (_j(notes), handoff_id))
        return True

    # audit
    def append_audit(self, *, at, action, actor, conversation_id, handoff_id, reason, data):
        chain = audit_chain(conversation_id)
        head = self._one("SELECT hash FROM audit_heads WHERE chain=?", (chain,))
        prev = head["hash"] if head else ""
        data_json = canonical_json(data)  # stored as hashed: one encoding of the largest field
        digest = audit_hash(
            prev, at, action, actor, conversation_id, handoff_id, reason, data, data_json=data_json
        )
        cur = self.conn.execute(
            "INSERT INTO audit (at, action, actor, conversation_id, handoff_id, reason, data, prev_hash, hash)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (at, action, actor, conversation_id, handoff_id, reason, data_json, prev, digest),
        )
        self.conn.execute(
            "INSERT INTO audit_heads (chain, hash) VALUES (?,?)"
            " ON CONFLICT (chain) DO UPDATE SET hash=excluded.hash",
            (chain, digest),
        )
        return AuditRow(
            int(cur.lastrowid or 0),
            at,
            action,
            actor,
            conversation_id,
            handoff_id,
            reason,
            data,
            prev,
            digest,
        )

    def list_audit(self, conversation_id=None):
        if conversation_id is None:
            cur = self.conn.execute("SELECT * FROM audit ORDER BY id")
        else:
            cur = self.conn.execute(
                "SELECT * FROM audit WHERE conversation_id=? ORDER BY id", (conversation_id,)
            )
        return [
            AuditRow(
                r["id"],
                r["at"],
                r["action"],
                r["actor"],
                r["conversation_id"],
                r["handoff_id"],
                r["reason"],
                _l(r["data"]) or {},
                r["prev_hash"],
                r["hash"],
            )
            for r in cur
        ]

    def seal_audit(self, at):
        heads = {
            r["chain"]: r["hash"]
            for r in self.conn.execute(
                "UPDATE audit_heads SET sealed=hash WHERE sealed IS NULL OR sealed != hash RETURNING chain, hash"
            )
        }
        if not heads:
            return None
        last = self._one("SELECT hash FROM audit_checkpoints ORDER BY id DESC LIMIT 1")
        prev = last["hash"] if last else ""
        digest = checkpoint_hash(prev, at, heads, None)
        cur = self.conn.execute(
            "INSERT INTO audit_checkpoints (at, heads, legacy_upto, prev_hash, hash)"
            " VALUES (?,?,NULL,?,?)",
            (at, canonical_json(heads), prev, digest),
        )
        return AuditCheckpoint(int(cur.lastrowid or 0), at, heads, prev, digest)

    def list_audit_checkpoints(self):
        return [
            AuditCheckpoint(
                r["id"], r["at"], _l(r["heads"]) or {}, r["prev_hash"], r["hash"], r["legacy_upto"]
            )
            for r in self.conn.execute("SELECT * FROM audit_checkpoints ORDER BY id")
        ]

    # draft events (the widget)
    def add_draft_event(self, row):
        cur = self.conn.execute(
            "INSERT INTO draft_events (handoff_id, action, actor, via, at, draft_chars, final_chars,"
            " edit_distance) VALUES (?,?,?,?,?,?,?,?)",
            (
                row["handoff_id"],
                row["action"],
                row.get("actor"),
                row.get("via"),
                row["at"],
                row.get("draft_chars"),
                row.get("final_chars"),
                row.get("edit_distance"),
            ),
        )
        self._kpis_changed(row["handoff_id"])
        return int(cur.lastrowid or 0)

    def list_draft_events(self, handoff_id=None):
        if handoff_id is None:
            cur = self.conn.execute("SELECT * FROM draft_events ORDER BY id")
        else:
            cur = self.conn.execute(
                "SELECT * FROM draft_events WHERE handoff_id=? ORDER BY id", (handoff_id,)
            )
        return [dict(r) for r in cur]

    def latest_handoff_for_conversation(self, conversation_id):
        row = self._one(
            "SELECT * FROM handoffs WHERE conversation_id=? ORDER BY created_at DESC, id DESC"
            " LIMIT 1",
            (conversation_id,),
        )
        return None if row is None else self._handoff(row)
