"""After the handoff with Zendesk: the real zenpy against the stand-in, the real app, worker and
callback receiver. The agent answers in Zendesk (public comment) and in the API; the customer
answers through the bot; each side gets every message once and in order; handback ends it.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("zenpy")

from tests.helpers import drain, event, make_settings, post_event  # noqa: E402
from tests.integrations.test_zendesk import (  # noqa: E402
    AGENT,
    AGENT_EMAIL,
    hook,
    trigger,
    zd_config,
    zendesk,  # noqa: F401 - the stand-in fixture
)


@pytest.fixture
def settings(tmp_path, receiver, zendesk):  # type: ignore[no-untyped-def]  # noqa: F811
    return make_settings(tmp_path, receiver.url, destinations={"zendesk": zd_config(zendesk)})


def customer_says(client: Any, event_id: str, text: str, channel: str = "web") -> None:
    body = event(
        event_id=event_id, messages=[{"id": f"{event_id}-1", "role": "customer", "text": text}]
    )
    body["conversation"]["channel"] = channel
    answer = post_event(client, body)
    assert answer.status_code == 200, answer.json


def agent_messages(receiver: Any) -> list[str]:
    seen: dict[str, str] = {}
    for r in receiver.accepted():
        if r["json"]["type"] == "agent.message":
            seen.setdefault(r["json"]["id"], r["json"]["text"])
    return list(seen.values())


def test_agent_and_customer_talk_through_the_ticket_and_the_bot(client, worker, zendesk, receiver):  # type: ignore[no-untyped-def]  # noqa: F811
    answer = post_event(client, event())
    handoff_id = answer.json["handoff"]["id"]
    customer_says(client, "e2", "Hello? Anyone there?")  # before the ticket exists: it waits for it
    drain(worker)
    [ticket_id] = zendesk.tickets
    requester = zendesk.tickets[ticket_id]["requester_id"]

    assigned = {"ticket.assignee.id": "501", "ticket.assignee.email": AGENT_EMAIL}
    reply = trigger(
        handoff_id,
        ticket_id,
        **assigned,
        **{
            "comment.id": "9002",
            "comment.is_public": "true",
            "comment.value": "Hi Ada, I'm Mia. Checking now.",
        },
    )
    hook(client, reply)
    hook(client, reply)  # Zendesk sends it again: relayed once
    private = trigger(
        handoff_id, ticket_id, **assigned, **{"comment.id": "9003", "comment.value": "internal"}
    )
    hook(client, private)
    sent = client.post(
        f"/v1/handoffs/{handoff_id}/messages",
        json={"text": "Found it: it ships today.", "actor": AGENT_EMAIL},
        headers=AGENT,
    )
    assert sent.status_code == 201, sent.json
    customer_says(client, "e3", "Great, thank you!")
    drain(worker)

    assert agent_messages(receiver) == [
        "Hi Ada, I'm Mia. Checking now.",
        "Found it: it ships today.",
    ]
    public = [(c["author_id"], c["body"]) for c in zendesk.comments[ticket_id] if c["public"]]
    assert public == [(requester, "Hello? Anyone there?"), (requester, "Great, thank you!")]
    turns = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json["turns"]
    assert [(t["role"], t["text"], t["via"]) for t in turns] == [
        ("customer", "Hello? Anyone there?", None),
        ("agent", "Hi Ada, I'm Mia. Checking now.", "zendesk"),
        ("agent", "Found it: it ships today.", "api"),
        ("customer", "Great, thank you!", None),
    ]

    # handback: the outcome note, and the customer's next turn is the bot's again
    back = client.post(
        f"/v1/handoffs/{handoff_id}/handback",
        json={"actor": AGENT_EMAIL, "note": "Shipped."},
        headers=AGENT,
    )
    assert back.status_code == 200
    customer_says(client, "e4", "One more question")
    drain(worker)
    bodies = [c["body"] for c in zendesk.comments[ticket_id]]
    assert "One more question" not in bodies
    assert any("Shipped." in (c.get("html_body") or c["body"]) for c in zendesk.comments[ticket_id])
    types = [r["json"]["type"] for r in receiver.accepted()]
    assert types.index("conversation.handed_back") > max(
        i for i, t in enumerate(types) if t == "agent.message"
    )


def test_zendesk_messaging_conversations_are_not_relayed_twice(client, worker, zendesk, receiver):  # type: ignore[no-untyped-def]  # noqa: F811
    body = event()
    body["conversation"]["channel"] = "zendesk_messaging"
    handoff_id = post_event(client, body).json["handoff"]["id"]
    drain(worker)
    [ticket_id] = zendesk.tickets
    reply = trigger(
        handoff_id,
        ticket_id,
        **{
            "ticket.assignee.id": "501",
            "ticket.assignee.email": AGENT_EMAIL,
            "comment.id": "9002",
            "comment.is_public": "true",
        },
    )
    assert hook(client, reply).json["results"][-1] == "agent replied"
    customer_says(client, "e2", "Still there?", channel="zendesk_messaging")
    drain(worker)
    assert agent_messages(receiver) == []
    assert [c["body"] for c in zendesk.comments[ticket_id] if c["public"]] == []
