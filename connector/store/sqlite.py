"""``SqliteStore``: the default store, one file, WAL, through sqlite-utils.

Each thread has its own connection. Writes take the database's write lock at ``BEGIN IMMEDIATE``,
so a transaction's reads and writes are one atomic step even across processes; other writers wait
up to ``busy_timeout_ms``. Readers never block under WAL.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from connector.store.base import (
    AuditRow,
    ConversationRow,
    HandoffRow,
    MessageRow,
    OutboxRow,
    Store,
    Tx,
    audit_hash,
)

# --- migrations: small, named, applied once, in order ------------------------------------------


def _m001_initial(db: sqlite_utils.Database) -> None:
    db["events"].create(
        {"source": str, "event_id": str, "conversation_id": str, "response": str, "received_at": str},
        pk=("source", "event_id"),
    )
    db["conversations"].create(
        {
            "id": str, "source": str, "owner": str, "version": int, "owner_since": str,
            "handoff_id": str, "channel": str, "language": str, "url": str, "customer": str,
            "bot": str, "created_at": str, "updated_at": str,
        },
        pk="id",
        not_null={"source", "owner", "version"},
    )
    db["messages"].create(
        {"conversation_id": str, "id": str, "seq": int, "role": str, "text": str, "at": str, "data": str},
        pk=("conversation_id", "id"),
    )
    db["messages"].create_index(["conversation_id", "seq"], unique=True)
    db["handoffs"].create(
        {
            "id": str, "conversation_id": str, "source": str, "status": str, "team": str,
            "priority": str, "payload": str, "customer_id": str, "claimed_by": str,
            "handback": str, "created_at": str, "updated_at": str,
        },
        pk="id",
    )
    db["handoffs"].create_index(["status", "created_at"])
    db["handoffs"].create_index(["conversation_id"])
    db["handoffs"].create_index(["customer_id"])
    db["ticket_refs"].create(
        {"handoff_id": str, "destination": str, "ref": str}, pk=("handoff_id", "destination")
    )
    db["outbox"].create(
        {
            "id": int, "kind": str, "target": str, "handoff_id": str, "conversation_id": str,
            "idempotency_key": str, "body": str, "status": str, "attempts": int,
            "next_attempt_at": float, "claimed_by": str, "claim_expires_at": float,
            "last_error": str, "result": str, "created_at": float, "updated_at": float,
        },
        pk="id",
        not_null={"kind", "target", "idempotency_key", "status"},
    )
    db["outbox"].create_index(["idempotency_key"], unique=True)
    db["outbox"].create_index(["status", "next_attempt_at"])
    db["inbox"].create(
        {"number": int, "handoff_id": str, "payload": str, "notes": str, "filed_at": str},
        pk="number",
    )
    db["inbox"].create_index(["handoff_id"], unique=True)
    db["audit"].create(
        {
            "id": int, "at": str, "action": str, "actor": str, "conversation_id": str,
            "handoff_id": str, "reason": str, "data": str, "prev_hash": str, "hash": str,
        },
        pk="id",
    )
    db["audit"].create_index(["conversation_id", "id"])


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_initial", _m001_initial),
]


def _j(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _l(value: str | None) -> Any:
    return None if value is None else json.loads(value)


class SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def _one(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    # events
    def get_event(self, source, event_id):
        row = self._one("SELECT response FROM events WHERE source=? AND event_id=?", (source, event_id))
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
            id=row["id"], source=row["source"], owner=row["owner"], version=row["version"],
            owner_since=row["owner_since"], created_at=row["created_at"], updated_at=row["updated_at"],
            handoff_id=row["handoff_id"], channel=row["channel"], language=row["language"],
            url=row["url"], customer=_l(row["customer"]) or {}, bot=_l(row["bot"]) or {},
        )

    def get_conversation(self, conversation_id):
        row = self._one("SELECT * FROM conversations WHERE id=?", (conversation_id,))
        return None if row is None else self._conversation(row)

    def insert_conversation(self, row):
        self.conn.execute(
            "INSERT INTO conversations (id, source, owner, version, owner_since, handoff_id, channel,"
            " language, url, customer, bot, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (row.id, row.source, row.owner, row.version, row.owner_since, row.handoff_id, row.channel,
             row.language, row.url, _j(row.customer), _j(row.bot), row.created_at, row.updated_at),
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
        last = self._one("SELECT COALESCE(MAX(seq), 0) AS s FROM messages WHERE conversation_id=?",
                         (conversation_id,))
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
        return inserted

    def list_messages(self, conversation_id):
        cur = self.conn.execute(
            "SELECT * FROM messages WHERE conversation_id=? ORDER BY seq", (conversation_id,)
        )
        return [
            MessageRow(conversation_id=r["conversation_id"], id=r["id"], role=r["role"], text=r["text"],
                       at=r["at"], data=_l(r["data"]) or {}, seq=r["seq"])
            for r in cur
        ]

    # handoffs
    @staticmethod
    def _handoff(row: sqlite3.Row) -> HandoffRow:
        return HandoffRow(
            id=row["id"], conversation_id=row["conversation_id"], source=row["source"],
            status=row["status"], team=row["team"], priority=row["priority"],
            payload=_l(row["payload"]) or {}, created_at=row["created_at"],
            updated_at=row["updated_at"], customer_id=row["customer_id"],
            claimed_by=row["claimed_by"], handback=_l(row["handback"]),
        )

    def insert_handoff(self, row):
        self.conn.execute(
            "INSERT INTO handoffs (id, conversation_id, source, status, team, priority, payload,"
            " customer_id, claimed_by, handback, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (row.id, row.conversation_id, row.source, row.status, row.team, row.priority,
             _j(row.payload), row.customer_id, row.claimed_by, _j(row.handback), row.created_at,
             row.updated_at),
        )

    def get_handoff(self, handoff_id):
        row = self._one("SELECT * FROM handoffs WHERE id=?", (handoff_id,))
        return None if row is None else self._handoff(row)

    def update_handoff(self, handoff_id, **fields):
        allowed = {"status", "team", "priority", "payload", "claimed_by", "handback", "updated_at"}
        assert set(fields) <= allowed, set(fields) - allowed
        cols = ", ".join(f"{k}=?" for k in fields)
        values = [_j(v) if k in ("payload", "handback") else v for k, v in fields.items()]
        self.conn.execute(f"UPDATE handoffs SET {cols} WHERE id=?", (*values, handoff_id))

    def list_handoffs(self, status=None, team=None, limit=100):
        where, params = [], []
        if status:
            where.append("status=?")
            params.append(status)
        if team:
            where.append("team=?")
            params.append(team)
        sql = "SELECT * FROM handoffs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
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
        cur = self.conn.execute("SELECT destination, ref FROM ticket_refs WHERE handoff_id=?", (handoff_id,))
        return {r["destination"]: _l(r["ref"]) for r in cur}

    # outbox
    @staticmethod
    def _outbox(row: sqlite3.Row) -> OutboxRow:
        return OutboxRow(
            id=row["id"], kind=row["kind"], target=row["target"], handoff_id=row["handoff_id"],
            conversation_id=row["conversation_id"], idempotency_key=row["idempotency_key"],
            body=_l(row["body"]) or {}, status=row["status"], attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"], claimed_by=row["claimed_by"],
            claim_expires_at=row["claim_expires_at"], last_error=row["last_error"],
            result=_l(row["result"]), created_at=row["created_at"], updated_at=row["updated_at"],
        )

    def enqueue(self, kind, target, idempotency_key, body, now, handoff_id=None, conversation_id=None):
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO outbox (kind, target, handoff_id, conversation_id, idempotency_key,"
            " body, status, attempts, next_attempt_at, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,'pending',0,?,?,?)",
            (kind, target, handoff_id, conversation_id, idempotency_key, _j(body), now, now, now),
        )
        return cur.lastrowid if cur.rowcount == 1 else None

    def claim_outbox(self, worker_id, now, lease_seconds):
        row = self._one(
            "UPDATE outbox SET status='delivering', claimed_by=?, claim_expires_at=?,"
            " attempts=attempts+1, updated_at=? WHERE id = ("
            "  SELECT id FROM outbox WHERE (status='pending' AND next_attempt_at<=?)"
            "  OR (status='delivering' AND claim_expires_at<=?)"
            "  ORDER BY next_attempt_at, id LIMIT 1"
            ") RETURNING *",
            (worker_id, now + lease_seconds, now, now, now),
        )
        return None if row is None else self._outbox(row)

    def finish_outbox(self, row_id, worker_id, now, *, status, next_attempt_at=None, error=None,
                      result=None):
        cur = self.conn.execute(
            "UPDATE outbox SET status=?, next_attempt_at=COALESCE(?, next_attempt_at),"
            " last_error=?, result=COALESCE(?, result), claimed_by=NULL, claim_expires_at=NULL,"
            " updated_at=? WHERE id=? AND claimed_by=? AND status='delivering'",
            (status, next_attempt_at, error, _j(result), now, row_id, worker_id),
        )
        return cur.rowcount == 1

    def get_outbox(self, row_id):
        row = self._one("SELECT * FROM outbox WHERE id=?", (row_id,))
        return None if row is None else self._outbox(row)

    def list_outbox(self, status=None, limit=100):
        if status:
            cur = self.conn.execute("SELECT * FROM outbox WHERE status=? ORDER BY id LIMIT ?", (status, limit))
        else:
            cur = self.conn.execute("SELECT * FROM outbox ORDER BY id LIMIT ?", (limit,))
        return [self._outbox(r) for r in cur]

    def retry_outbox(self, row_id, now):
        cur = self.conn.execute(
            "UPDATE outbox SET status='pending', attempts=0, next_attempt_at=?, claimed_by=NULL,"
            " claim_expires_at=NULL, updated_at=? WHERE id=? AND status IN ('dead','pending')",
            (now, now, row_id),
        )
        return cur.rowcount == 1

    def next_due_at(self):
        row = self._one(
            "SELECT MIN(t) AS t FROM (SELECT MIN(next_attempt_at) AS t FROM outbox WHERE status='pending'"
            " UNION ALL SELECT MIN(claim_expires_at) FROM outbox WHERE status='delivering')"
        )
        return None if row is None or row["t"] is None else float(row["t"])

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
        return {"number": row["number"], "handoff_id": row["handoff_id"], "payload": _l(row["payload"]),
                "notes": _l(row["notes"]) or [], "filed_at": row["filed_at"]}

    def add_inbox_note(self, handoff_id, text, now):
        item = self.get_inbox_item(handoff_id)
        if item is None:
            raise KeyError(handoff_id)
        notes = item["notes"] + [{"at": now, "text": text}]
        self.conn.execute("UPDATE inbox SET notes=? WHERE handoff_id=?", (_j(notes), handoff_id))

    # audit
    def append_audit(self, *, at, action, actor, conversation_id, handoff_id, reason, data):
        last = self._one("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
        prev = last["hash"] if last else ""
        digest = audit_hash(prev, at, action, actor, conversation_id, handoff_id, reason, data)
        cur = self.conn.execute(
            "INSERT INTO audit (at, action, actor, conversation_id, handoff_id, reason, data, prev_hash, hash)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (at, action, actor, conversation_id, handoff_id, reason, _j(data), prev, digest),
        )
        return AuditRow(int(cur.lastrowid or 0), at, action, actor, conversation_id, handoff_id, reason,
                        data, prev, digest)

    def list_audit(self, conversation_id=None):
        if conversation_id is None:
            cur = self.conn.execute("SELECT * FROM audit ORDER BY id")
        else:
            cur = self.conn.execute("SELECT * FROM audit WHERE conversation_id=? ORDER BY id", (conversation_id,))
        return [
            AuditRow(r["id"], r["at"], r["action"], r["actor"], r["conversation_id"], r["handoff_id"],
                     r["reason"], _l(r["data"]) or {}, r["prev_hash"], r["hash"])
            for r in cur
        ]


class SqliteStore(Store):
    name = "sqlite"

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000):
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=self.busy_timeout_ms / 1000)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def migrate(self) -> list[str]:
        conn = self._conn()
        db = sqlite_utils.Database(conn)
        db.enable_wal()
        applied: list[str] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            if "_migrations" not in db.table_names():
                db["_migrations"].create({"name": str, "applied_at": str}, pk="name")
            done = {r["name"] for r in conn.execute("SELECT name FROM _migrations")}
            for name, step in MIGRATIONS:
                if name in done:
                    continue
                step(db)
                conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, datetime('now'))", (name,))
                applied.append(name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return applied

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[Tx]:
        conn = self._conn()
        conn.execute(begin)
        try:
            yield SqliteTx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def atomic(self):
        return self._transaction("BEGIN IMMEDIATE")

    def reading(self):
        return self._transaction("BEGIN")

    def ping(self) -> None:
        self._conn().execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()
