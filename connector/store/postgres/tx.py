"""``PostgresTx``: the queries of one transaction against the PostgreSQL store (``store.py``).

Most methods are one plain statement. What SQLite gets from its single writer, PostgreSQL gets
from locks the database holds until the transaction ends, so any number of replicas can write:

- a write transaction that reads a conversation first takes an advisory lock on its id (the row
  may not exist yet, so a row lock alone would not do): writers of one conversation take turns,
  and the second sees what the first committed (read committed: every statement reads afresh);
- handoffs read for writing take their conversation's lock, then are read ``FOR UPDATE``, as are
  inbox items; locks are taken in one order (event, conversation, rows), so writers do not
  deadlock (and should they, the store answers ``StoreBusy``: retry);
- outbox rows and timers are claimed ``FOR UPDATE SKIP LOCKED``, so claimers never wait for each
  other and never take the same row; an outbox lane is delivered one row at a time, and its
  writers take turns on an advisory lock per lane (``tx_outbox.py`` says why that is enough);
- repeats are refused by unique constraints, with ``ON CONFLICT`` where the contract says "adds
  nothing"; "only if none yet" facts and the rows of an outbox lane (one conversation's) are
  written under the conversation's lock, which their writers mostly hold already.

Statements per event are what the database's CPU goes on (bench/bench_pg_statements.py counts
them), so checks are folded into writes where the locks make that safe: the messages of one call
are one INSERT numbered in SQL, an audit row and its chain's head one statement (the head read
with the conversation, under its lock, and kept for the transaction), a KPI row's inputs one
query. Reads the service makes together (an event's snapshot, a handoff's routing history, a
worker's look for work, a handoff with its ticket refs) are one statement each, which the store
sends alone, outside any transaction (``PostgresStore._one_statement``). A transaction runs in
pipeline mode (``store.py``): a statement whose answer is not read (a lock, most writes) goes
out with the next one that is; one whose row count is read (``_count``) waits for it.
"""

from __future__ import annotations

from typing import Any

from connector.kpis import row_from_store
from connector.store.base import (
    AuditCheckpoint,
    AuditRow,
    ConversationRow,
    FactRow,
    HandoffRow,
    IngestSnapshot,
    MessageRow,
    RoutingHistory,
    Tx,
    audit_chain,
    audit_hash,
    canonical_json,
    checkpoint_hash,
)
from connector.store.postgres.sql import _j, _l, _where
from connector.store.postgres.tx_outbox import OutboxQueries
from connector.store.postgres.tx_reports import KPI_INPUTS, ReportQueries
from connector.store.sqlite.migrations import report_columns

CHECKPOINTS = "audit-checkpoints"

# The messages of one ``add_messages`` call not stored yet, numbered on from the conversation's
# last one, in one statement (its caller holds the conversation's lock, so MAX(seq) is stable).
ADD_MESSAGES = (
    "INSERT INTO messages (conversation_id, id, seq, role, text, at, data)"
    " SELECT %(c)s, t.id, b.s + row_number() OVER (ORDER BY t.n), t.role, t.text, t.at, t.data"
    " FROM unnest(%(ids)s::text[], %(roles)s::text[], %(texts)s::text[], %(ats)s::text[],"
    " %(datas)s::text[]) WITH ORDINALITY AS t(id, role, text, at, data, n)"
    " CROSS JOIN (SELECT COALESCE(MAX(seq), 0) AS s FROM messages WHERE conversation_id=%(c)s) b"
    " WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id=%(c)s AND m.id=t.id)"
    " ORDER BY t.n RETURNING id, seq"
)
# ... and with them, the conversation's handoffs (whose KPI rows count later messages).
ADD_MESSAGES_AND_HANDOFFS = (
    f"WITH ins AS ({ADD_MESSAGES}) SELECT ins.id, ins.seq, (SELECT array_agg(h.id ORDER BY h.id)"
    " FROM handoffs h WHERE h.conversation_id=%(c)s) AS handoffs FROM ins"
)
# A conversation (its columns, all NULL when there is none) and its audit chain's head.
CONVERSATION_AND_HEAD = (
    "SELECT c.*, h.hash AS audit_head FROM (SELECT %s::text AS id, %s::text AS chain) k"
    " LEFT JOIN conversations c ON c.id = k.id LEFT JOIN audit_heads h ON h.chain = k.chain"
)
# An audit row and its chain's new head, in one statement.
APPEND_AUDIT = (
    "WITH a AS (INSERT INTO audit (at, action, actor, conversation_id, handoff_id, reason, data,"
    " prev_hash, hash) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id, hash),"
    " h AS (INSERT INTO audit_heads (chain, hash) SELECT %s, hash FROM a"
    " ON CONFLICT (chain) DO UPDATE SET hash=excluded.hash)"
    " SELECT id FROM a"
)
# Everything a handoff's KPI row is computed from (``refresh_handoff_kpis``), as JSON, one row.
KPI_INPUTS_SQL = (
    "SELECT row_to_json(h) AS h,"
    " (SELECT row_to_json(c) FROM conversations c WHERE c.id = h.conversation_id) AS c,"
    " (SELECT json_agg(m ORDER BY m.seq) FROM messages m WHERE m.conversation_id = h.conversation_id)"
    " AS m,"
    " (SELECT json_agg(f ORDER BY f.id) FROM handoff_facts f WHERE f.handoff_id = h.id) AS f,"
    " (SELECT json_agg(d.action ORDER BY d.id) FROM draft_events d WHERE d.handoff_id = h.id) AS d"
    " FROM handoffs h WHERE h.id=%s"
)
# The advisory lock of a handoff's conversation, found by the handoff's row (``get_handoff``'s).
LOCK_HANDOFF_CONVERSATION = (
    "SELECT pg_advisory_xact_lock(hashtextextended('conversation:' || COALESCE(conversation_id,"
    " ''), 0)) FROM handoffs WHERE id=%s"
)


# What an event's decision reads (``ingest_snapshot``), one statement: a row per message of the
# conversation (one row, its message columns NULL, when it has none or there is none), each with
# the conversation's columns (all NULL when there is none) and the answer kept for the event (the
# messages are not read when there is one). Rows, not JSON: building JSON costs the database more.
INGEST_SNAPSHOT = (
    "SELECT e.response AS event_response, c.*, m.conversation_id AS m_conversation_id,"
    " m.id AS m_id, m.seq AS m_seq, m.role AS m_role, m.text AS m_text, m.at AS m_at,"
    " m.data AS m_data FROM (SELECT %s::text AS id) k"
    " LEFT JOIN events e ON e.source = %s AND e.event_id = %s"
    " LEFT JOIN conversations c ON c.id = k.id"
    " LEFT JOIN messages m ON m.conversation_id = c.id AND e.response IS NULL ORDER BY m.seq"
)
# The team's latest first-response seconds and the customer's handoffs (``routing_history``).
ROUTING_HISTORY = (
    "SELECT ARRAY(SELECT (f.data::jsonb ->> 'seconds')::float8 FROM handoff_facts f"
    " JOIN handoffs h ON h.id = f.handoff_id WHERE f.kind = 'first_response' AND h.team = %s"
    " ORDER BY f.at DESC, f.id DESC LIMIT %s) AS s,"
    " (SELECT COUNT(*) FROM handoffs WHERE customer_id=%s) AS n"
)
# A handoff (its columns, all NULL when there is none) and its ticket refs (``handoff_with_refs``).
HANDOFF_WITH_REFS = (
    "SELECT h.*, (SELECT json_object_agg(r.destination, r.ref) FROM ticket_refs r"
    " WHERE r.handoff_id = k.id) AS refs FROM (SELECT %s::text AS id) k"
    " LEFT JOIN handoffs h ON h.id = k.id"
)


def _message_columns(conversation_id: str, rows: list[MessageRow]) -> dict[str, Any]:
    return {
        "c": conversation_id,
        "ids": [r.id for r in rows],
        "roles": [r.role for r in rows],
        "texts": [r.text for r in rows],
        "ats": [r.at for r in rows],
        "datas": [_j(r.data) for r in rows],
    }


def _message(r: dict[str, Any], prefix: str = "") -> MessageRow:
    """A message row from its columns, named ``prefix`` + column (a join's ``m_id`` …)."""
    return MessageRow(
        conversation_id=r[prefix + "conversation_id"],
        id=r[prefix + "id"],
        role=r[prefix + "role"],
        text=r[prefix + "text"],
        at=r[prefix + "at"],
        data=_l(r[prefix + "data"]) or {},
        seq=r[prefix + "seq"],
    )


def _fact(r: dict[str, Any]) -> FactRow:
    return FactRow(r["id"], r["handoff_id"], r["kind"], r["at"], _l(r["data"]) or {})


class PostgresTx(OutboxQueries, ReportQueries, Tx):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heads: dict[str, str] = {}  # audit chain → its head as this transaction left it
        self._conversation_of: dict[str, str] = {}  # handoff → conversation, as read or written

    def _lock_handoff(self, handoff_id: str) -> None:
        """Take the lock of the handoff's conversation (found by its row when not known yet)."""
        known = self._conversation_of.get(handoff_id)
        if known is not None:
            self._lock("conversation:" + known)
        elif self.write:
            self.conn.execute(LOCK_HANDOFF_CONVERSATION, (handoff_id,))

    def refresh_handoff_kpis(self, handoff_id):
        # What ``Tx.refresh_handoff_kpis`` reads, in one statement after the conversation's lock:
        # the handoff (FOR UPDATE), its conversation, messages, facts and draft events, as JSON.
        self._lock_handoff(handoff_id)
        found = self._one(KPI_INPUTS_SQL + self._for_update(), (handoff_id,))
        if found is None:
            return
        handoff, conversation = found["h"], found["c"]
        self.put_handoff_kpis(
            row_from_store(
                self._handoff(handoff),
                None if conversation is None else self._conversation(conversation),
                [_message(r) for r in found["m"] or []],
                [_fact(r) for r in found["f"] or []],
                list(found["d"] or []),
            )
        )

    # events
    def get_event(self, source, event_id):
        # Writing, two posts of one event take turns here, so the second finds the first's answer
        # (its conversation may look unchanged: the check in the ingest would not catch it).
        # Event locks come before conversation locks in every transaction: no deadlock.
        self._lock(f"event:{source}:{event_id}")
        row = self._one(
            "SELECT response FROM events WHERE source=%s AND event_id=%s", (source, event_id)
        )
        return None if row is None else _l(row["response"])

    def ingest_snapshot(self, source, event_id, conversation_id):
        if self.write:  # the locks of ``get_event`` and ``get_conversation``, in their order
            return super().ingest_snapshot(source, event_id, conversation_id)
        rows = self.conn.execute(INGEST_SNAPSHOT, (conversation_id, source, event_id)).fetchall()
        first = rows[0]
        response = _l(first["event_response"])
        if response is not None:
            return IngestSnapshot(response, None, [])
        if first["id"] is None:
            return IngestSnapshot(None, None, [])
        messages = [_message(r, "m_") for r in rows if r["m_id"] is not None]
        return IngestSnapshot(None, self._conversation(first), messages)

    def put_event(self, source, event_id, conversation_id, response, received_at):
        self.conn.execute(
            "INSERT INTO events (source, event_id, conversation_id, response, received_at)"
            " VALUES (%s,%s,%s,%s,%s)",
            (source, event_id, conversation_id, _j(response), received_at),
        )

    # conversations
    @staticmethod
    def _conversation(row: dict[str, Any]) -> ConversationRow:
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
        if not self.write:
            row = self._one("SELECT * FROM conversations WHERE id=%s", (conversation_id,))
            return None if row is None else self._conversation(row)
        self._lock("conversation:" + conversation_id)
        # Its audit chain's head comes with it: a writer of the conversation holds the lock that
        # every appender of the chain takes, so the head stays what is read here (``append_audit``)
        row = self._one(CONVERSATION_AND_HEAD, (conversation_id, audit_chain(conversation_id)))
        assert row is not None
        self._heads.setdefault(audit_chain(conversation_id), row["audit_head"] or "")
        return None if row["id"] is None else self._conversation(row)

    def insert_conversation(self, row):
        self.conn.execute(
            "INSERT INTO conversations (id, source, owner, version, owner_since, handoff_id, channel,"
            " language, url, customer, bot, created_at, updated_at)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
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
        cols = ", ".join(f"{k}=%s" for k in fields)
        values = [_j(v) if k in ("customer", "bot") else v for k, v in fields.items()]
        self.conn.execute(
            f"UPDATE conversations SET {cols} WHERE id=%s", (*values, conversation_id)
        )

    def cas_control(self, conversation_id, expected_version, owner, handoff_id, now):
        # the row lock the UPDATE takes makes a second CAS wait, then re-check the version
        return (
            self._count(
                "UPDATE conversations SET owner=%s, version=version+1, owner_since=%s, handoff_id=%s,"
                " updated_at=%s WHERE id=%s AND version=%s",
                (owner, now, handoff_id, now, conversation_id, expected_version),
            )
            == 1
        )

    # messages
    def add_messages(self, rows):
        if not rows:
            return []
        conversation_id = rows[0].conversation_id
        # numbering reads MAX(seq): one writer at a time
        self._lock("conversation:" + conversation_id)
        fresh: dict[str, MessageRow] = {}
        for row in rows:
            fresh.setdefault(row.id, row)  # a repeated id in one call: the first one counts
        # One statement: those not stored yet, numbered on from the conversation's last message,
        # and (messages after a handoff feed its repeat-context figures) the handoffs to recount.
        recount = any(r.role in ("agent", "customer") for r in fresh.values())
        cur = self.conn.execute(
            ADD_MESSAGES_AND_HANDOFFS if recount else ADD_MESSAGES,
            _message_columns(conversation_id, list(fresh.values())),
        )
        numbered = {r["id"]: r for r in cur}
        inserted = []
        for row in fresh.values():
            if row.id in numbered:
                row.seq = int(numbered[row.id]["seq"])
                inserted.append(row)
        inserted.sort(key=lambda r: r.seq or 0)
        if recount and any(r.role in ("agent", "customer") for r in inserted):
            for handoff_id in numbered[inserted[0].id]["handoffs"] or []:
                self._kpis_changed(handoff_id)
        return inserted

    def list_messages(self, conversation_id):
        cur = self.conn.execute(
            "SELECT * FROM messages WHERE conversation_id=%s ORDER BY seq", (conversation_id,)
        )
        return [_message(r) for r in cur]

    # handoffs
    @staticmethod
    def _handoff(row: dict[str, Any]) -> HandoffRow:
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
            " transcript_turns) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
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
        self._conversation_of[row.id] = row.conversation_id or ""
        self._kpis_changed(row.id)

    def get_handoff(self, handoff_id):
        row = self._one("SELECT * FROM handoffs WHERE id=%s", (handoff_id,))
        if row is not None and self.write:
            # Its conversation's lock first, then the row: every writer of a conversation's things
            # takes the locks in the one order (event, conversation, rows), so none deadlock.
            self._lock("conversation:" + (row["conversation_id"] or ""))
            self._conversation_of[handoff_id] = row["conversation_id"] or ""
            row = self._one("SELECT * FROM handoffs WHERE id=%s FOR UPDATE", (handoff_id,))
        return None if row is None else self._handoff(row)

    def update_handoff(self, handoff_id, **fields):
        allowed = {"status", "team", "priority", "payload", "claimed_by", "handback", "updated_at"}
        assert set(fields) <= allowed, set(fields) - allowed
        cols = ", ".join(f"{k}=%s" for k in fields)
        values = [_j(v) if k in ("payload", "handback") else v for k, v in fields.items()]
        self.conn.execute(f"UPDATE handoffs SET {cols} WHERE id=%s", (*values, handoff_id))
        if fields.keys() & KPI_INPUTS:
            self._kpis_changed(handoff_id)

    def list_handoffs(self, status=None, team=None, limit=100):
        clause, params = _where(status=status, team=team)
        sql = f"SELECT * FROM handoffs{clause} ORDER BY created_at DESC, id DESC LIMIT %s"
        return [self._handoff(r) for r in self.conn.execute(sql, (*params, limit))]

    def count_customer_handoffs(self, customer_id):
        row = self._one("SELECT COUNT(*) AS n FROM handoffs WHERE customer_id=%s", (customer_id,))
        return int(row["n"]) if row else 0

    def routing_history(self, team, limit, customer_id):
        row = self._one(ROUTING_HISTORY, (team, limit, customer_id or None))
        assert row is not None
        return RoutingHistory([float(s or 0.0) for s in row["s"]], int(row["n"]))

    def handoff_with_refs(self, handoff_id):
        if self.write:  # ``get_handoff``'s locks
            return super().handoff_with_refs(handoff_id)
        row = self._one(HANDOFF_WITH_REFS, (handoff_id,))
        assert row is not None
        refs = {destination: _l(ref) for destination, ref in (row["refs"] or {}).items()}
        return (None if row["id"] is None else self._handoff(row)), refs

    def put_ticket_ref(self, handoff_id, destination, ref):
        self.conn.execute(
            "INSERT INTO ticket_refs (handoff_id, destination, ref) VALUES (%s,%s,%s)"
            " ON CONFLICT (handoff_id, destination) DO UPDATE SET ref=excluded.ref",
            (handoff_id, destination, _j(ref)),
        )

    def get_ticket_refs(self, handoff_id):
        cur = self.conn.execute(
            "SELECT destination, ref FROM ticket_refs WHERE handoff_id=%s", (handoff_id,)
        )
        return {r["destination"]: _l(r["ref"]) for r in cur}

    # facts
    def add_fact(self, handoff_id, kind, at, data, *, once=False):
        if once:
            # "only if none yet" holds across replicas: adders of one handoff's facts take turns on
            # its conversation's lock (which the ingest and get_handoff hold already)
            self._lock_handoff(handoff_id)
            added = self._one(
                "INSERT INTO handoff_facts (handoff_id, kind, at, data) SELECT %s,%s,%s,%s"
                " WHERE NOT EXISTS (SELECT 1 FROM handoff_facts WHERE handoff_id=%s AND kind=%s)"
                " RETURNING id",
                (handoff_id, kind, at, _j(data), handoff_id, kind),
            )
            if added is None:
                return False
        else:
            self.conn.execute(
                "INSERT INTO handoff_facts (handoff_id, kind, at, data) VALUES (%s,%s,%s,%s)",
                (handoff_id, kind, at, _j(data)),
            )
        self._kpis_changed(handoff_id)
        return True

    def recent_first_responses(self, team, limit):
        cur = self.conn.execute(
            "SELECT (f.data::jsonb ->> 'seconds')::float8 AS s FROM handoff_facts f"
            " JOIN handoffs h ON h.id = f.handoff_id"
            " WHERE f.kind = 'first_response' AND h.team = %s"
            " ORDER BY f.at DESC, f.id DESC LIMIT %s",
            (team, limit),
        )
        return [float(r["s"] or 0.0) for r in cur]

    def list_facts(self, handoff_id=None, kind=None):
        clause, params = _where(handoff_id=handoff_id, kind=kind)
        return [
            _fact(r)
            for r in self.conn.execute(f"SELECT * FROM handoff_facts{clause} ORDER BY id", params)
        ]

    # inbox
    def put_inbox_item(self, handoff_id, payload, now):
        inserted = self._one(
            "INSERT INTO inbox (handoff_id, payload, notes, filed_at) VALUES (%s,%s,'[]',%s)"
            " ON CONFLICT (handoff_id) DO NOTHING RETURNING number",
            (handoff_id, _j(payload), now),
        )
        if inserted is not None:
            return int(inserted["number"]), True
        row = self._one("SELECT number FROM inbox WHERE handoff_id=%s", (handoff_id,))
        assert row is not None
        return int(row["number"]), False

    def get_inbox_item(self, handoff_id):
        row = self._one(
            "SELECT * FROM inbox WHERE handoff_id=%s" + self._for_update(), (handoff_id,)
        )
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
        item = self.get_inbox_item(handoff_id)  # FOR UPDATE: two notes at once both land
        if item is None:
            raise KeyError(handoff_id)
        if key and any(note.get("key") == key for note in item["notes"]):
            return False
        notes = item["notes"] + [{"at": now, "text": text, **({"key": key} if key else {})}]
        self.conn.execute("UPDATE inbox SET notes=%s WHERE handoff_id=%s", (_j(notes), handoff_id))
        return True

    # audit
    def append_audit(self, *, at, action, actor, conversation_id, handoff_id, reason, data):
        chain = audit_chain(conversation_id)
        # the conversation's own lock (the ingest holds it already): chains of different
        # conversations are appended to at once, with no shared head row
        self._lock("conversation:" + chain if chain else "audit-chain:")
        if chain in self._heads:  # this transaction's own last row: the lock keeps it the head
            prev = self._heads[chain]
        else:
            head = self._one("SELECT hash FROM audit_heads WHERE chain=%s", (chain,))
            prev = head["hash"] if head else ""
        data_json = canonical_json(data)
        digest = audit_hash(
            prev, at, action, actor, conversation_id, handoff_id, reason, data, data_json=data_json
        )
        row = self._one(
            APPEND_AUDIT,
            (
                at,
                action,
                actor,
                conversation_id,
                handoff_id,
                reason,
                data_json,
                prev,
                digest,
                chain,
            ),
        )
        self._heads[chain] = digest
        assert row is not None
        return AuditRow(
            int(row["id"]),
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
        # by time: ids come from a sequence that concurrent writers draw from in any order
        clause, params = _where(conversation_id=conversation_id)
        cur = self.conn.execute(f"SELECT * FROM audit{clause} ORDER BY at, id", params)
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

    def before_commit(self) -> None:
        """What the transaction's writes imply, written last: the KPI rows of what it changed."""
        self.flush_kpis()

    def seal_audit(self, at):
        self._lock(CHECKPOINTS)  # sealers (one per worker) take turns; appenders never wait here
        # one statement: a head that moves meanwhile is sealed at the value this UPDATE set
        heads = {
            r["chain"]: r["hash"]
            for r in self.conn.execute(
                "UPDATE audit_heads SET sealed=hash WHERE sealed IS DISTINCT FROM hash RETURNING chain, hash"
            )
        }
        if not heads:
            return None
        last = self._one("SELECT hash FROM audit_checkpoints ORDER BY id DESC LIMIT 1")
        prev = last["hash"] if last else ""
        digest = checkpoint_hash(prev, at, heads, None)
        row = self._one(
            "INSERT INTO audit_checkpoints (at, heads, legacy_upto, prev_hash, hash)"
            " VALUES (%s,%s,NULL,%s,%s) RETURNING id",
            (at, canonical_json(heads), prev, digest),
        )
        assert row is not None
        return AuditCheckpoint(int(row["id"]), at, heads, prev, digest)

    def list_audit_checkpoints(self):
        return [
            AuditCheckpoint(
                r["id"], r["at"], _l(r["heads"]) or {}, r["prev_hash"], r["hash"], r["legacy_upto"]
            )
            for r in self.conn.execute("SELECT * FROM audit_checkpoints ORDER BY id")
        ]

    # draft events (the widget)
    def add_draft_event(self, row):
        out = self._one(
            "INSERT INTO draft_events (handoff_id, action, actor, via, at, draft_chars, final_chars,"
            " edit_distance) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
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
        assert out is not None
        self._kpis_changed(row["handoff_id"])
        return int(out["id"])

    def list_draft_events(self, handoff_id=None):
        clause, params = _where(handoff_id=handoff_id)
        return [
            dict(r)
            for r in self.conn.execute(f"SELECT * FROM draft_events{clause} ORDER BY id", params)
        ]

    def latest_handoff_for_conversation(self, conversation_id):
        row = self._one(
            "SELECT * FROM handoffs WHERE conversation_id=%s ORDER BY created_at DESC, id DESC"
            " LIMIT 1",
            (conversation_id,),
        )
        return None if row is None else self._handoff(row)
