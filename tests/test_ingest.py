"""The ingest walk: read, decide outside the write lock, write with an optimistic check.

And the outbox vocabulary that the write phase speaks: every message reads back as itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from connector import outbox, service
from connector.app import create_app
from connector.runtime import build_runtime
from connector.store import OutboxRow
from tests.helpers import dumps, event, make_settings, post_event, signed_headers


class Between:
    """Runs ``action`` once, the next time an event is decided: after the ingest walk has read
    what its decision needs and before it writes (``service.decide_event`` is that moment)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.action: Callable[[], None] | None = None
        original = service.decide_event

        def deciding(*args, **kwargs):  # type: ignore[no-untyped-def]
            action, self.action = self.action, None
            if action is not None:
                action()
            return original(*args, **kwargs)

        monkeypatch.setattr(service, "decide_event", deciding)

    def arm(self, action: Callable[[], None]) -> None:
        self.action = action


@pytest.fixture
def armed(runtime, client, monkeypatch):  # type: ignore[no-untyped-def]
    return runtime, Between(monkeypatch), client


def reply(client, conversation_id: str, text: str) -> None:  # type: ignore[no-untyped-def]
    raw = dumps({"text": text})
    answer = client.post(
        f"/v1/conversations/{conversation_id}/bot-replies", data=raw, headers=signed_headers(raw)
    )
    assert answer.status_code == 200


def test_a_message_written_between_read_and_write_makes_the_event_decide_again(armed):  # type: ignore[no-untyped-def]
    runtime, clock, client = armed
    assert (
        post_event(
            client,
            event(
                "conv-race",
                "e1",
                messages=[{"id": "m1", "role": "customer", "text": "Where is my parcel?"}],
            ),
        ).status_code
        == 200
    )
    clock.arm(lambda: reply(client, "conv-race", "It is on its way."))
    answer = post_event(
        client,
        event(
            "conv-race",
            "e2",
            messages=[{"id": "m2", "role": "customer", "text": "I want to talk to a real person."}],
        ),
    )
    assert answer.status_code == 200 and answer.json["decision"]["escalate"] is True
    assert runtime.extras["metrics"].ingest_races._value.get() == 1  # type: ignore[attr-defined]
    with runtime.store.reading() as tx:
        turns = [(m.role, m.text) for m in tx.list_messages("conv-race")]
        handoff = tx.get_handoff(answer.json["handoff"]["id"])
    assert turns == [
        ("customer", "Where is my parcel?"),
        ("bot", "It is on its way."),
        ("customer", "I want to talk to a real person."),
    ]
    assert handoff is not None  # decided again, on the transcript that includes the bot's reply
    assert [t["text"] for t in handoff.payload["transcript"]["turns"]] == [t for _, t in turns]


def _take_turns_from_another_thread(runtime) -> bool:  # type: ignore[no-untyped-def]
    """Whether another thread of this process could take the store's turns right now."""
    turns = runtime.store.turns()
    got: list[bool] = []

    def attempt() -> None:
        got.append(turns.acquire(blocking=False))
        if got[0]:
            turns.release()

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    return got[0]


@pytest.mark.stores("sqlite")
@pytest.mark.parametrize("model", [False, True], ids=["rules-only", "learned-model-on"])
def test_on_sqlite_the_events_of_a_process_take_turns_unless_the_model_runs(  # type: ignore[no-untyped-def]
    tmp_path, monkeypatch, model: bool
):
    settings = make_settings(tmp_path, policy={"model": {"enabled": model}})
    runtime = build_runtime(settings)
    try:
        between = Between(monkeypatch)
        seen: list[bool] = []
        between.arm(lambda: seen.append(_take_turns_from_another_thread(runtime)))
        client = create_app(runtime=runtime).test_client()
        assert post_event(client, event("conv-turns", "e1")).status_code == 200
        # rules only: while the event decided, another thread would have waited; with the model
        # on, events run side by side (its inference does not hold Python's lock)
        assert seen == [model]
        assert _take_turns_from_another_thread(runtime) is True  # and the answer gave them back
    finally:
        runtime.close()


def test_a_conversation_changed_between_read_and_write_is_decided_again(armed):  # type: ignore[no-untyped-def]
    runtime, clock, client = armed
    clock.arm(
        lambda: post_event(
            client,
            event(
                "conv-new", "other", messages=[{"id": "x1", "role": "customer", "text": "hello"}]
            ),
        )
    )
    answer = post_event(
        client,
        event("conv-new", "e1", messages=[{"id": "m1", "role": "customer", "text": "hi again"}]),
    )
    assert answer.status_code == 200
    with runtime.store.reading() as tx:
        assert [m.id for m in tx.list_messages("conv-new")] == ["x1", "m1"]
        assert {
            tx.get_event("demo", "other") is not None,
            tx.get_event("demo", "e1") is not None,
        } == {True}


def test_the_same_event_posted_twice_at_once_is_decided_once(armed):  # type: ignore[no-untyped-def]
    runtime, clock, client = armed
    body = event("conv-twice", "e1")
    seen: dict[str, dict] = {}
    clock.arm(lambda: seen.setdefault("inner", post_event(client, body).json))
    outer = post_event(client, body).json
    assert seen["inner"]["duplicate"] is False and outer["duplicate"] is True
    assert outer["handoff"]["id"] == seen["inner"]["handoff"]["id"]
    with runtime.store.reading() as tx:
        assert len(tx.list_handoffs()) == 1


def test_concurrent_events_lose_nothing_and_audit_rows_are_in_time_order(settings):  # type: ignore[no-untyped-def]
    runtime = build_runtime(settings)  # the real clock: the order of rows is the point
    client = create_app(runtime=runtime).test_client()
    barrier = threading.Barrier(8)

    def post(n: int) -> int:
        barrier.wait(timeout=10) if n < 8 else None
        body = event(
            f"conv-{n % 3}",
            f"e{n}",
            messages=[{"id": f"m{n}", "role": "customer", "text": f"question {n}"}],
        )
        return post_event(client, body).status_code

    try:
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(post, range(40))) == {200}
        with runtime.store.reading() as tx:
            stored = [m.id for c in range(3) for m in tx.list_messages(f"conv-{c}")]
            audit = tx.list_audit()
        assert sorted(stored) == sorted(f"m{n}" for n in range(40))
        stamps = [row.at for row in audit]
        assert stamps == sorted(stamps)
    finally:
        runtime.close()


def test_the_decision_runs_outside_the_write_lock(armed):  # type: ignore[no-untyped-def]
    """While one event is being decided, another request can write (the lock is not held)."""
    runtime, between, client = armed

    def write_meanwhile() -> None:  # would wait out the busy timeout if the lock were held
        with runtime.store.atomic() as tx:
            tx.put_event("demo", "written-meanwhile", "x", {}, "2026-01-01T00:00:00+00:00")

    between.arm(write_meanwhile)
    assert post_event(client, event("conv-lock", "e1")).status_code == 200
    with runtime.store.reading() as tx:
        assert tx.get_event("demo", "written-meanwhile") is not None


# --- the outbox vocabulary ------------------------------------------------------------------------

IDS = {"handoff_id": "ho_1", "conversation_id": "c1"}
MESSAGES = [
    pytest.param(
        outbox.Deliver(destination="zendesk", **IDS), "deliver:ho_1:zendesk", id="deliver"
    ),
    pytest.param(
        outbox.Note(destination="local", occasion="handback:ho_1", text="Back.", **IDS),
        "handback:ho_1:local:note",
        id="note",
    ),
    pytest.param(
        outbox.Update(
            destination="zendesk", occasion="reminder:ho_1:7", fields={"priority": "high"}, **IDS
        ),
        "reminder:ho_1:7:zendesk:update",
        id="update",
    ),
    pytest.param(
        outbox.Callback(
            source="demo",
            type="control.changed",
            id="c1:control:2",
            occurred_at="2026-12-05T10:00:00.000000+00:00",
            fields={"owner": "agent", "version": 2},
            **IDS,
        ),
        "callback:c1:control:2:control.changed",
        id="callback",
    ),
    pytest.param(
        outbox.Alert(
            channel="ops",
            event="reminder",
            occasion="ho_1:7",
            alert={"event": "reminder", "title": "Reminder"},
            **IDS,
        ),
        "alert:reminder:ho_1:7:ops",
        id="alert",
    ),
]


@pytest.mark.parametrize(("message", "key"), MESSAGES)
def test_every_message_has_one_key_and_reads_back_as_itself(message, key, runtime):  # type: ignore[no-untyped-def]
    now = runtime.now()
    with runtime.store.atomic() as tx:
        row_id = outbox.write(tx, message, now)
        assert outbox.write(tx, message, now) is None  # the same key twice adds nothing
        row = tx.get_outbox(row_id)
    assert isinstance(row, OutboxRow) and row.idempotency_key == key
    back = outbox.read(row)
    if isinstance(message, outbox.Alert):  # the occasion lives in the key only
        assert (back.channel, back.event, back.alert) == (
            message.channel,
            message.event,
            message.alert,
        )
    else:
        assert back == message


def test_a_row_no_message_describes_is_refused():  # type: ignore[no-untyped-def]
    row = OutboxRow(
        id=1,
        kind="pigeon",
        target="x",
        idempotency_key="k",
        body={},
        status="pending",
        attempts=1,
        next_attempt_at=0,
        created_at=0,
        updated_at=0,
    )
    with pytest.raises(ValueError, match="unknown outbox row kind 'pigeon'"):
        outbox.read(row)


def test_the_stored_answer_is_the_answer_and_its_text_is_one_json_document(runtime, client):  # type: ignore[no-untyped-def]
    """The decision is dumped once and its text spliced into the stored answer: what is kept for
    repeats reads back as exactly the answer the bot got, for an event that stays with the bot
    (answer made before the lock) and for one that opens a handoff (made under it)."""
    import json
    import sqlite3

    from connector import audit

    plain = {"id": "cus-2", "name": "Bo Ng"}
    stay = event(
        "conv-kept",
        "evt-stay",
        customer=plain,
        messages=[{"id": "s1", "role": "customer", "text": "Where is my parcel? Ünïcode too"}],
    )
    opens = event("conv-kept", "evt-open", customer=plain)
    for body in (stay, opens):
        first = post_event(client, body)
        assert first.status_code == 200
        with runtime.store.reading() as tx:
            stored = tx.get_event("demo", body["id"])
        assert stored == first.get_json()
        repeat = post_event(client, body).get_json()
        assert repeat == {**first.get_json(), "duplicate": True}
    assert first.get_json()["handoff"] is not None  # the second one opened a handoff
    if runtime.store.name == "sqlite":  # the text as stored: one well-formed compact document
        with sqlite3.connect(runtime.settings.store.path) as db:
            texts = db.execute("SELECT response FROM events WHERE conversation_id='conv-kept'")
            for (raw,) in texts:
                assert raw == json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
    assert audit.verify_store(runtime.store).problems == []  # audit rows hashed as encoded


def test_the_warm_up_decides_before_the_first_event_and_writes_nothing(runtime):  # type: ignore[no-untyped-def]
    from connector.signals.text import _compile

    _compile.cache_clear()
    create_app(runtime=runtime)
    assert _compile.cache_info().currsize > 0  # the policy's patterns are compiled already
    with runtime.store.reading() as tx:
        assert tx.get_conversation("warm-up") is None
        assert tx.list_audit() == []


def test_a_failing_warm_up_leaves_the_first_event_to_do_it(runtime, monkeypatch, caplog):  # type: ignore[no-untyped-def]
    from connector import planning

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(planning, "warm_up", broken)
    client = create_app(runtime=runtime).test_client()
    assert "warming up the decision failed" in caplog.text
    assert post_event(client, event("conv-cold", "evt-cold")).status_code == 200
