"""The store contract: what every store in ``STORES`` must do, written against ``Store``/``Tx`` only.

No SQL here: a new store joins ``STORES`` and ``FRESH_URLS`` (``conftest.py``) and must pass
this file and ``test_contract_queues.py`` unchanged. Records, audit, reports and transactions
are here; the outbox, timers and the races between two stores on one URL are in the other file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from connector import audit
from connector.store import STORES, ConversationRow, HandoffRow, MessageRow, Store, Tx, store_class
from tests.store.conftest import FRESH_URLS

T0 = "2026-11-21T10:00:00.000000+00:00"
T1 = "2026-11-21T10:05:00.000000+00:00"
T2 = "2026-11-21T10:10:00.000000+00:00"
DAY_START, DAY_END = "2026-11-21T00:00:00.000000+00:00", "2026-11-22T00:00:00.000000+00:00"


def conversation(cid: str = "conv-1", *, at: str = T0) -> ConversationRow:
    return ConversationRow(
        id=cid,
        source="demo",
        owner="bot",
        version=0,
        owner_since=at,
        created_at=at,
        updated_at=at,
        channel="web",
        customer={"id": "cust-1"},
        bot={"name": "b"},
    )


def handoff(
    hid: str = "h-1",
    cid: str = "conv-1",
    *,
    at: str = T0,
    team: str | None = "general",
    status: str = "open",
    customer_id: str | None = "cust-1",
    turns: int = 1,
) -> HandoffRow:
    payload = {
        "intent": {"name": "billing"},
        "escalation": {"reasons": [{"trigger": "human_request"}]},
        "transcript": {"turns": [{"role": "customer", "text": f"turn {i}"} for i in range(turns)]},
        "customer": {"id": customer_id},
    }
    return HandoffRow(
        id=hid,
        conversation_id=cid,
        source="demo",
        status=status,
        team=team,
        priority="normal",
        payload=payload,
        created_at=at,
        updated_at=at,
        customer_id=customer_id,
    )


def message(mid: str, text: str = "hi", cid: str = "conv-1", role: str = "customer") -> MessageRow:
    return MessageRow(conversation_id=cid, id=mid, role=role, text=text, at=T0, data={"n": mid})


def write(store: Store, fn: Callable[[Tx], object]) -> object:
    with store.atomic() as tx:
        return fn(tx)


def read(store: Store, fn: Callable[[Tx], object]) -> object:
    with store.reading() as tx:
        return fn(tx)


def test_every_store_has_a_fresh_url_and_a_matching_name() -> None:
    assert set(FRESH_URLS) == set(STORES)
    for scheme in STORES:
        assert store_class(scheme).name == scheme


def test_migrate_again_applies_nothing(store: Store) -> None:
    assert store.migrate() == []
    store.ping()


# --- events --------------------------------------------------------------------------------------


def test_an_event_is_kept_by_source_and_id_and_a_repeat_is_refused(store: Store) -> None:
    assert read(store, lambda tx: tx.get_event("demo", "evt-1")) is None
    write(store, lambda tx: tx.put_event("demo", "evt-1", "conv-1", {"status": "ok", "n": [1]}, T0))
    assert read(store, lambda tx: tx.get_event("demo", "evt-1")) == {"status": "ok", "n": [1]}
    assert read(store, lambda tx: tx.get_event("other", "evt-1")) is None  # ids are per source

    with pytest.raises(Exception):  # noqa: B017 - each store raises its own driver's error
        write(store, lambda tx: tx.put_event("demo", "evt-1", "conv-1", {"status": "second"}, T1))
    assert read(store, lambda tx: tx.get_event("demo", "evt-1")) == {"status": "ok", "n": [1]}


# --- conversations and messages ------------------------------------------------------------------


def test_a_conversation_is_inserted_updated_and_read_back(store: Store) -> None:
    write(store, lambda tx: tx.insert_conversation(conversation()))
    assert read(store, lambda tx: tx.get_conversation("conv-1")) == conversation()
    assert read(store, lambda tx: tx.get_conversation("nope")) is None

    write(
        store,
        lambda tx: tx.update_conversation(
            "conv-1", language="fr", customer={"id": "c2"}, updated_at=T1
        ),
    )
    row = read(store, lambda tx: tx.get_conversation("conv-1"))
    assert isinstance(row, ConversationRow)
    assert (row.language, row.customer, row.updated_at) == ("fr", {"id": "c2"}, T1)
    assert (row.owner, row.version, row.bot) == ("bot", 0, {"name": "b"})  # untouched


def test_cas_control_moves_control_only_from_the_expected_version(store: Store) -> None:
    write(store, lambda tx: tx.insert_conversation(conversation()))
    assert write(store, lambda tx: tx.cas_control("conv-1", 0, "agent", "h-1", T1)) is True
    # the loser of a race read version 0 too: it is refused and changes nothing
    assert write(store, lambda tx: tx.cas_control("conv-1", 0, "bot", None, T2)) is False
    row = read(store, lambda tx: tx.get_conversation("conv-1"))
    assert isinstance(row, ConversationRow)
    assert (row.owner, row.version, row.handoff_id, row.owner_since) == ("agent", 1, "h-1", T1)
    assert write(store, lambda tx: tx.cas_control("nope", 0, "agent", None, T1)) is False


def test_add_messages_skips_known_ids_and_numbers_the_new_ones_in_order(store: Store) -> None:
    write(store, lambda tx: tx.insert_conversation(conversation()))
    first = write(store, lambda tx: tx.add_messages([message("m1"), message("m2", "two")]))
    assert [(m.id, m.seq) for m in first] == [("m1", 1), ("m2", 2)]  # type: ignore[attr-defined]
    again = write(store, lambda tx: tx.add_messages([message("m2", "two"), message("m3", "three")]))
    assert [(m.id, m.seq) for m in again] == [("m3", 3)]  # type: ignore[attr-defined]
    assert write(store, lambda tx: tx.add_messages([])) == []

    listed = read(store, lambda tx: tx.list_messages("conv-1"))
    assert [(m.id, m.seq, m.text, m.data) for m in listed] == [  # type: ignore[attr-defined]
        ("m1", 1, "hi", {"n": "m1"}),
        ("m2", 2, "two", {"n": "m2"}),
        ("m3", 3, "three", {"n": "m3"}),
    ]
    assert read(store, lambda tx: tx.list_messages("conv-2")) == []


# --- handoffs and ticket references --------------------------------------------------------------


def test_handoffs_are_inserted_updated_and_listed_newest_first(store: Store) -> None:
    def setup(tx: Tx) -> None:
        for cid in ("conv-1", "conv-2", "conv-3"):
            tx.insert_conversation(conversation(cid))
        tx.insert_handoff(handoff("h-1", "conv-1", at=T0, team="general"))
        tx.insert_handoff(handoff("h-2", "conv-2", at=T1, team="billing"))
        tx.insert_handoff(handoff("h-3", "conv-3", at=T2, team="general", customer_id="cust-2"))

    write(store, setup)
    assert read(store, lambda tx: tx.get_handoff("h-2")) == handoff(
        "h-2", "conv-2", at=T1, team="billing"
    )
    assert read(store, lambda tx: tx.get_handoff("nope")) is None

    write(
        store,
        lambda tx: tx.update_handoff(
            "h-1", status="with_agent", claimed_by="ann", handback={"at": T2}, updated_at=T2
        ),
    )
    row = read(store, lambda tx: tx.get_handoff("h-1"))
    assert isinstance(row, HandoffRow)
    assert (row.status, row.claimed_by, row.handback, row.updated_at) == (
        "with_agent",
        "ann",
        {"at": T2},
        T2,
    )

    def ids(**filters: object) -> list[str]:
        return [h.id for h in read(store, lambda tx: tx.list_handoffs(**filters))]  # type: ignore[attr-defined]

    assert ids() == ["h-3", "h-2", "h-1"]
    assert ids(status="open") == ["h-3", "h-2"]
    assert ids(team="general") == ["h-3", "h-1"]
    assert ids(status="open", team="general") == ["h-3"]
    assert ids(limit=2) == ["h-3", "h-2"]
    assert read(store, lambda tx: tx.count_customer_handoffs("cust-1")) == 2
    assert read(store, lambda tx: tx.count_customer_handoffs("nobody")) == 0


def test_latest_handoff_for_conversation_is_the_newest_open_or_not(store: Store) -> None:
    def setup(tx: Tx) -> None:
        tx.insert_conversation(conversation())
        tx.insert_handoff(handoff("h-old", at=T0, status="closed"))
        tx.insert_handoff(handoff("h-new", at=T1, status="closed"))

    write(store, setup)
    latest = read(store, lambda tx: tx.latest_handoff_for_conversation("conv-1"))
    assert isinstance(latest, HandoffRow) and latest.id == "h-new"
    assert read(store, lambda tx: tx.latest_handoff_for_conversation("conv-2")) is None


def test_a_ticket_ref_per_destination_and_a_second_put_replaces_it(store: Store) -> None:
    write(store, lambda tx: tx.put_ticket_ref("h-1", "zendesk", {"id": "1"}))
    write(store, lambda tx: tx.put_ticket_ref("h-1", "local", {"id": "7"}))
    write(store, lambda tx: tx.put_ticket_ref("h-1", "zendesk", {"id": "1", "url": "u"}))
    assert read(store, lambda tx: tx.get_ticket_refs("h-1")) == {
        "zendesk": {"id": "1", "url": "u"},
        "local": {"id": "7"},
    }
    assert read(store, lambda tx: tx.get_ticket_refs("h-2")) == {}


# --- facts, inbox, draft events ------------------------------------------------------------------


def test_facts_once_and_first_responses_of_a_team_newest_first(store: Store) -> None:
    def setup(tx: Tx) -> None:
        for i, team in enumerate(["general", "general", "billing"]):
            tx.insert_conversation(conversation(f"conv-{i}"))
            tx.insert_handoff(handoff(f"h-{i}", f"conv-{i}", team=team))

    write(store, setup)
    assert write(
        store, lambda tx: tx.add_fact("h-0", "first_response", T1, {"seconds": 30}, once=True)
    )
    assert not write(
        store, lambda tx: tx.add_fact("h-0", "first_response", T2, {"seconds": 99}, once=True)
    )
    assert write(
        store, lambda tx: tx.add_fact("h-1", "first_response", T2, {"seconds": 60.5}, once=True)
    )
    assert write(
        store, lambda tx: tx.add_fact("h-2", "first_response", T2, {"seconds": 5}, once=True)
    )
    assert write(store, lambda tx: tx.add_fact("h-0", "reassigned", T1, {"from_team": "x"}))
    assert write(
        store, lambda tx: tx.add_fact("h-0", "reassigned", T2, {"from_team": "y"})
    )  # not once

    facts = read(store, lambda tx: tx.list_facts(handoff_id="h-0"))
    assert [(f.kind, f.at, f.data) for f in facts] == [  # type: ignore[attr-defined]
        ("first_response", T1, {"seconds": 30}),
        ("reassigned", T1, {"from_team": "x"}),
        ("reassigned", T2, {"from_team": "y"}),
    ]
    assert len(read(store, lambda tx: tx.list_facts(kind="first_response"))) == 3  # type: ignore[arg-type]
    assert read(store, lambda tx: tx.recent_first_responses("general", 10)) == [60.5, 30.0]
    assert read(store, lambda tx: tx.recent_first_responses("general", 1)) == [60.5]
    assert read(store, lambda tx: tx.recent_first_responses("nobody", 10)) == []


def test_an_inbox_item_is_filed_once_and_a_note_key_is_kept_once(store: Store) -> None:
    number, created = write(store, lambda tx: tx.put_inbox_item("h-1", {"subject": "s"}, T0))  # type: ignore[misc]
    assert created is True and number >= 1
    assert write(store, lambda tx: tx.put_inbox_item("h-1", {"subject": "other"}, T1)) == (
        number,
        False,
    )
    other, _ = write(store, lambda tx: tx.put_inbox_item("h-2", {"subject": "t"}, T1))  # type: ignore[misc]
    assert other != number

    assert write(store, lambda tx: tx.add_inbox_note("h-1", "first", T1, key="k1")) is True
    assert write(store, lambda tx: tx.add_inbox_note("h-1", "first again", T2, key="k1")) is False
    assert write(store, lambda tx: tx.add_inbox_note("h-1", "first", T2, key="k2")) is True
    assert write(store, lambda tx: tx.add_inbox_note("h-1", "no key", T2)) is True
    item = read(store, lambda tx: tx.get_inbox_item("h-1"))
    assert isinstance(item, dict)
    assert (item["number"], item["handoff_id"], item["payload"], item["filed_at"]) == (
        number,
        "h-1",
        {"subject": "s"},
        T0,
    )
    assert item["notes"] == [
        {"at": T1, "text": "first", "key": "k1"},
        {"at": T2, "text": "first", "key": "k2"},
        {"at": T2, "text": "no key"},
    ]
    assert read(store, lambda tx: tx.get_inbox_item("nope")) is None
    with pytest.raises(KeyError):
        write(store, lambda tx: tx.add_inbox_note("nope", "text", T0))


def test_draft_events_are_listed_in_order_by_handoff(store: Store) -> None:
    first = write(
        store,
        lambda tx: tx.add_draft_event(
            {"handoff_id": "h-1", "action": "shown", "actor": "ann", "via": "widget", "at": T0}
        ),
    )
    second = write(
        store,
        lambda tx: tx.add_draft_event(
            {
                "handoff_id": "h-1",
                "action": "sent_edited",
                "at": T1,
                "draft_chars": 10,
                "final_chars": 12,
                "edit_distance": 3,
            }
        ),
    )
    write(store, lambda tx: tx.add_draft_event({"handoff_id": "h-2", "action": "shown", "at": T1}))
    assert first != second
    events = read(store, lambda tx: tx.list_draft_events("h-1"))
    assert [(e["id"], e["action"], e["actor"], e["edit_distance"]) for e in events] == [  # type: ignore[attr-defined]
        (first, "shown", "ann", None),
        (second, "sent_edited", None, 3),
    ]
    assert len(read(store, lambda tx: tx.list_draft_events())) == 3  # type: ignore[arg-type]


# --- audit ---------------------------------------------------------------------------------------


def test_each_conversation_has_its_own_audit_chain_and_an_edit_breaks_it(store: Store) -> None:
    def append(tx: Tx, action: str, cid: str | None, at: str) -> object:
        return tx.append_audit(
            at=at,
            action=action,
            actor="system",
            conversation_id=cid,
            handoff_id=None,
            reason=f"because {action}",
            data={"n": action, "ü": [1, 2]},
        )

    write(store, lambda tx: append(tx, "opened", "conv-1", T0))
    write(store, lambda tx: append(tx, "noted", "conv-2", T1))
    last = write(store, lambda tx: append(tx, "closed", "conv-1", T2))

    rows = list(store.iter_audit())
    assert [r.action for r in rows] == ["opened", "noted", "closed"]
    assert rows[0].prev_hash == "" and rows[1].prev_hash == "" and rows[-1] == last
    assert rows[2].prev_hash == rows[0].hash  # linked to the last row of its own conversation
    assert [r.action for r in read(store, lambda tx: tx.list_audit("conv-1"))] == [
        "opened",
        "closed",
    ]  # type: ignore[attr-defined]

    checked = audit.verify(rows, first_id=rows[0].id)
    assert checked.ok and checked.rows == 3 and checked.head == rows[-1].hash
    tampered = [rows[0], dataclasses.replace(rows[1], reason="something else"), rows[2]]
    assert not audit.verify(tampered, first_id=rows[0].id).ok
    assert not audit.verify(
        [rows[1], rows[2]], first_id=rows[0].id, id_gaps=False
    ).ok  # a row taken out


def test_a_checkpoint_seals_the_changed_heads_and_catches_a_chain_cut_short(store: Store) -> None:
    def append(tx: Tx, action: str, cid: str | None) -> object:
        return tx.append_audit(
            at=T0,
            action=action,
            actor="system",
            conversation_id=cid,
            handoff_id=None,
            reason="r",
            data={},
        )

    assert audit.seal(store, T0) is None  # nothing to seal yet
    write(store, lambda tx: append(tx, "a", "conv-1"))
    write(store, lambda tx: append(tx, "b", "conv-2"))
    write(store, lambda tx: append(tx, "c", None))
    first = audit.seal(store, T1)
    assert first is not None and set(first.heads) == {"conv-1", "conv-2", ""}
    write(store, lambda tx: append(tx, "d", "conv-1"))
    second = audit.seal(store, T2)
    assert second is not None and set(second.heads) == {"conv-1"} and second.prev_hash == first.hash
    assert audit.seal(store, T2) is None

    checkpoints = store.audit_checkpoints()
    assert checkpoints == [first, second]
    rows = list(store.iter_audit())
    assert audit.verify_store(store).ok and audit.verify_store(store).checkpoints == 2
    cut = [r for r in rows if r.action != "d"]  # the tail of conv-1's chain, deleted
    found = audit.verify(cut, checkpoints=checkpoints, id_gaps=False)
    assert not found.ok and any("conversation 'conv-1' is missing" in p for p in found.problems)
    edited = [checkpoints[0], dataclasses.replace(second, heads={"conv-1": rows[0].hash})]
    assert not audit.verify(rows, checkpoints=edited, id_gaps=False).ok


# --- reports -------------------------------------------------------------------------------------


def test_report_data_holds_the_periods_handoffs_facts_and_later_messages(store: Store) -> None:
    def setup(tx: Tx) -> None:
        tx.insert_conversation(conversation("conv-1", at=T0))
        tx.insert_conversation(conversation("conv-old", at="2026-11-20T10:00:00.000000+00:00"))
        tx.add_messages([message("m1", "before")])  # the transcript's one turn
        tx.insert_handoff(handoff("h-1", "conv-1", at=T1, turns=1))
        tx.insert_handoff(handoff("h-old", "conv-old", at="2026-11-20T10:00:00.000000+00:00"))
        tx.add_messages([message("m2", "after", role="agent")])
        tx.add_fact("h-1", "first_response", T2, {"seconds": 300})
        tx.add_fact("h-old", "first_response", T2, {"seconds": 1})
        tx.add_draft_event({"handoff_id": "h-1", "action": "shown", "at": T2})

    write(store, setup)
    data = read(store, lambda tx: tx.report_data(DAY_START, DAY_END))
    assert isinstance(data, dict)
    assert (data["since"], data["until"], data["conversations"]) == (DAY_START, DAY_END, 1)
    [row] = data["handoffs"]
    assert (
        row["id"],
        row["team"],
        row["status"],
        row["intent"],
        row["reasons"],
        row["has_draft"],
    ) == ("h-1", "general", "open", "billing", ["human_request"], False)
    assert row["conversation_created_at"] == T0
    assert [(f["handoff_id"], f["kind"], f["data"]) for f in data["facts"]] == [
        ("h-1", "first_response", {"seconds": 300})
    ]
    assert [(m["handoff_id"], m["role"], m["text"]) for m in data["post_messages"]] == [
        ("h-1", "agent", "after")
    ]
    assert data["drafts"]["events"] == [{"handoff_id": "h-1", "action": "shown"}]


# --- transactions --------------------------------------------------------------------------------


def test_atomic_rolls_back_everything_on_an_exception(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.atomic() as tx:
        tx.insert_conversation(conversation())
        tx.put_event("demo", "evt-1", "conv-1", {"ok": True}, T0)
        tx.enqueue("destination", "local", "key-1", {}, 1.0)
        raise Boom
    assert read(store, lambda tx: tx.get_conversation("conv-1")) is None
    assert read(store, lambda tx: tx.get_event("demo", "evt-1")) is None
    assert read(store, lambda tx: tx.list_outbox()) == []
    # and the store still writes afterwards
    write(store, lambda tx: tx.insert_conversation(conversation()))
    assert read(store, lambda tx: tx.get_conversation("conv-1")) is not None


def test_turns_can_be_taken_again_by_the_thread_that_holds_them(store: Store) -> None:
    # an event handled inside another one's turn (a bot answering while the first is decided)
    with store.turns(), store.turns():
        write(store, lambda tx: tx.insert_conversation(conversation()))
    assert read(store, lambda tx: tx.get_conversation("conv-1")) is not None


def test_another_store_on_the_same_url_sees_committed_writes(
    store: Store, open_store: Callable[[], Store]
) -> None:
    other = open_store()
    write(store, lambda tx: tx.insert_conversation(conversation()))
    assert read(other, lambda tx: tx.get_conversation("conv-1")) == conversation()


# --- the waker -----------------------------------------------------------------------------------


def test_a_waker_of_the_store_reaches_a_listening_waker_of_the_same_store(
    store: Store, open_store: Callable[[], Store]
) -> None:
    sender, listener = store.waker(), open_store().waker()
    try:
        listener.listen()
        listener.listen()  # twice is once
        since = listener.generation
        sender.notify()
        listener.wait(since, timeout=10)  # returns the moment the wake-up arrives
        assert listener.generation != since
        before = sender.generation
        sender.wait(before - 1, timeout=10)  # already past: returns at once
        assert sender.generation == before
    finally:
        sender.close()
        listener.close()
