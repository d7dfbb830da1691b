"""One conversation, any order of things: events, bot replies, claims and handbacks never give a 5xx.

The regression that made this file: after one reply through the send gate, every later event of the
conversation answered 500 because the stored reply did not load back as a ``Message``.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.store import MessageRow
from tests.helpers import API_KEY, drain, dumps, event, post_event, signed_headers

AGENT = {"X-API-Key": API_KEY}
ASK_FOR_PERSON = [{"id": "ask", "role": "customer", "text": "Can I talk to a real person please?"}]


def bot_reply(client, conversation_id: str, body: dict):  # type: ignore[no-untyped-def]
    raw = dumps(body)
    return client.post(
        f"/v1/conversations/{conversation_id}/bot-replies", data=raw, headers=signed_headers(raw)
    )


def test_a_reply_through_the_send_gate_does_not_break_later_events(client):  # type: ignore[no-untyped-def]
    first = post_event(
        client,
        event(
            "conv-gate",
            "e1",
            messages=[{"id": "m1", "role": "customer", "text": "Where is my parcel?"}],
        ),
    )
    assert first.status_code == 200 and not first.json["decision"]["escalate"]
    assert (
        bot_reply(client, "conv-gate", {"text": "It left the depot this morning."}).status_code
        == 200
    )

    later = post_event(
        client,
        event(
            "conv-gate",
            "e2",
            messages=[{"id": "m2", "role": "customer", "text": "I want to talk to a real person."}],
        ),
    )
    assert later.status_code == 200, later.json
    assert later.json["decision"]["escalate"] is True
    assert post_event(
        client, event("conv-gate", "e2", messages=[])
    )  # a retry gets the first answer
    view = client.get(f"/v1/handoffs/{later.json['handoff']['id']}", headers=AGENT).json
    turns = view["payload"]["transcript"]["turns"]
    assert [(t["role"], t["text"]) for t in turns] == [
        ("customer", "Where is my parcel?"),
        ("bot", "It left the depot this morning."),
        ("customer", "I want to talk to a real person."),
    ]


def test_stored_rows_with_keys_a_message_does_not_know_still_load(client, runtime):  # type: ignore[no-untyped-def]
    """Rows written by an earlier version (the send gate stored ``{"via": "send-gate"}``)."""
    assert post_event(client, event("conv-old", "e1", messages=[])).status_code == 200
    with runtime.store.atomic() as tx:
        tx.add_messages(
            [
                MessageRow(
                    conversation_id="conv-old",
                    id="old-1",
                    role="bot",
                    text="Hello",
                    at="2026-01-01T00:00:00+00:00",
                    data={"via": "send-gate"},
                )
            ]
        )
    answer = post_event(client, event("conv-old", "e2", messages=ASK_FOR_PERSON))
    assert answer.status_code == 200 and answer.json["decision"]["escalate"] is True


# --- the property: any sequence on one conversation, never a 5xx ----------------------------------

TEXTS = [
    "Where is my order 5512?",
    "I want to talk to a real person.",
    "This is useless!!",
    "I need a refund for the double charge",
    "thanks",
    "",
]
EVENT_TYPES = ["conversation.updated", "handoff.requested", "conversation.ended"]
AGENTS = ["agent.mia", "agent.lee"]

steps = st.one_of(
    st.tuples(
        st.just("event"), st.sampled_from(EVENT_TYPES), st.sampled_from(TEXTS), st.booleans()
    ),
    st.tuples(st.just("repeat-event")),
    st.tuples(st.just("bot-reply"), st.sampled_from([None, "r1", "r2"]), st.booleans()),
    st.tuples(st.just("claim"), st.sampled_from(AGENTS)),
    st.tuples(st.just("handback"), st.sampled_from(AGENTS)),
    st.tuples(st.just("control")),
    st.tuples(st.just("deliver")),
)
conversation_ids = (f"prop-{n}" for n in itertools.count())


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(steps, min_size=1, max_size=14))
def test_any_sequence_on_one_conversation_never_answers_5xx(client, worker, sequence):  # type: ignore[no-untyped-def]
    conversation_id = next(conversation_ids)
    sent: list[dict] = []
    statuses: list[tuple[str, int]] = []

    def handoff_id() -> str | None:
        control = client.get(f"/v1/conversations/{conversation_id}/control", headers=AGENT)
        return control.json.get("handoff_id") if control.status_code == 200 else None

    for number, step in enumerate(sequence):
        kind = step[0]
        if kind == "event":
            _, type_, text, with_fallback = step
            messages = [{"id": f"c{number}", "role": "customer", "text": text}] if text else []
            if with_fallback:
                messages.append(
                    {
                        "id": f"b{number}",
                        "role": "bot",
                        "text": "Sorry, I did not get that.",
                        "fallback": True,
                    }
                )
            body = event(
                conversation_id, f"{conversation_id}-e{number}", type=type_, messages=messages
            )
            sent.append(body)
            response = post_event(client, body)
        elif kind == "repeat-event":
            if not sent:
                continue
            response = post_event(client, sent[-1])
        elif kind == "bot-reply":
            _, reply_id, with_time = step
            body = {"text": "Let me look into that for you."}
            if reply_id:
                body["id"] = f"{conversation_id}-{reply_id}"
            if with_time:
                body["at"] = "2026-12-05T10:00:00+00:00"
            response = bot_reply(client, conversation_id, body)
        elif kind in ("claim", "handback"):
            current = handoff_id()
            if current is None:
                continue
            body = {"actor": step[1]}
            if kind == "handback":
                body.update(note="Sorted it out.", resolution="resolved")
            response = client.post(f"/v1/handoffs/{current}/{kind}", json=body, headers=AGENT)
        elif kind == "control":
            response = client.get(f"/v1/conversations/{conversation_id}/control", headers=AGENT)
        else:
            drain(worker)
            continue
        statuses.append((kind, response.status_code))
        assert response.status_code < 500, (kind, response.status_code, json.dumps(response.json))
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json"
