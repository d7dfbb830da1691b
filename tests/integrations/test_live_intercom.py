"""After the handoff with Intercom: the real python-intercom against the stand-in. An admin's reply
reaches the bot as ``agent.message``; the customer's turns become replies as the contact; with
``relay: auto`` a conversation the bot runs in Intercom's Messenger is left alone.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("intercom")

from tests.helpers import drain, event, make_settings, post_event  # noqa: E402
from tests.integrations.test_intercom import (  # noqa: E402
    AGENT,
    conversation_item,
    delivered,  # noqa: F401 - fixture
    destination,  # noqa: F401 - fixture
    escalate,
    intercom_config,
    notification,
    part,
    post_webhook,
    runtime,  # noqa: F401 - fixture
    standin,  # noqa: F401 - fixture
)


def relayed(receiver: Any) -> list[str]:
    seen: dict[str, str] = {}
    for r in receiver.accepted():
        if r["json"]["type"] == "agent.message":
            seen.setdefault(r["json"]["id"], r["json"]["text"])
    return list(seen.values())


def say(
    client: Any, conversation: str, event_id: str, text: str, channel: str = "intercom"
) -> None:
    body = event(
        conversation, event_id, messages=[{"id": f"{event_id}-1", "role": "customer", "text": text}]
    )
    body["conversation"]["channel"] = channel
    assert post_event(client, body).status_code == 200


@pytest.mark.parametrize("relay", ["auto", "on"])
def test_admin_replies_and_customer_turns_on_an_intercom_conversation(  # type: ignore[no-untyped-def]
    relay,
    tmp_path,
    receiver,
    standin,  # noqa: F811
    clock,
):
    from connector.app import create_app
    from connector.delivery import Worker
    from connector.runtime import build_runtime

    settings = make_settings(
        tmp_path, receiver.url, destinations={"intercom": intercom_config(standin, relay=relay)}
    )
    rt = build_runtime(settings, clock=clock)
    try:
        client, worker = (
            create_app(runtime=rt).test_client(),
            Worker(rt, concurrency=1, worker_id="w"),
        )
        conversation = standin.add_conversation()
        handoff_id = escalate(client, conversation)
        drain(worker)
        assigned = conversation_item(
            standin,
            conversation,
            part("assignment", assigned_to={"type": "admin", "id": AGENT}),
            admin_assignee_id=int(AGENT),
        )
        post_webhook(client, notification("conversation.admin.assigned", assigned, "n1"))
        replied = conversation_item(
            standin, conversation, part("comment", body="<p>Hi Ada, <b>Mia</b> here.</p>")
        )
        post_webhook(client, notification("conversation.admin.replied", replied, "n2"))
        say(client, conversation, "e2", "Thanks Mia!")
        drain(worker)
        replies = [
            r.json
            for r in standin.requests_to("POST", rf"^/conversations/{conversation}/reply$")
            if r.json.get("type") == "user"
        ]
        if relay == "auto":  # the customer and the admin already share Intercom's own thread
            assert relayed(receiver) == [] and replies == []
        else:
            assert relayed(receiver) == ["Hi Ada, Mia here."]
            assert [(r["message_type"], r["intercom_user_id"], r["body"]) for r in replies] == [
                ("comment", "6762f1261bb69f9f2193bba7", "Thanks Mia!")
            ]
        assert standin.validation_errors == []
        assert (
            client.get(f"/v1/handoffs/{handoff_id}", headers={"X-API-Key": "test-agent-key"}).json[
                "control"
            ]["owner"]
            == "agent"
        )
    finally:
        rt.destinations["intercom"].close()
        rt.close()


def customer_replies(intercom: Any, ticket_id: str) -> list[dict[str, Any]]:
    parts = (intercom.tickets[ticket_id].get("ticket_parts") or {}).get("ticket_parts", [])
    return [p for p in parts if p["part_type"] == "comment" and p["author"]["type"] == "user"]


def test_customer_turns_on_a_ticket_are_replies_as_its_contact_once(  # type: ignore[no-untyped-def]
    tmp_path,
    receiver,
    standin,  # noqa: F811
    clock,
):
    """A handoff from another channel is a ticket; the customer writing again is a reply as the
    ticket's contact, and a reply whose answer was lost is not posted twice, though an agent
    wrote after it."""
    from connector.app import create_app
    from connector.delivery import Worker
    from connector.runtime import build_runtime

    settings = make_settings(
        tmp_path, receiver.url, destinations={"intercom": intercom_config(standin)}
    )
    rt = build_runtime(settings, clock=clock)
    try:
        client, worker = (
            create_app(runtime=rt).test_client(),
            Worker(rt, concurrency=1, worker_id="w"),
        )
        escalate(client, "web-conv-turns", channel="web")
        drain(worker)
        [ticket_id] = standin.tickets
        [contact] = standin.tickets[ticket_id]["contacts"]["contacts"]
        say(client, "web-conv-turns", "e2", "My order number is 42", channel="web")
        drain(worker)
        standin.drop_next(apply=True, route=r"^POST /tickets/\d+/reply$")  # lands; answer lost
        say(client, "web-conv-turns", "e3", "Still <waiting>", channel="web")
        drain(worker)
        agent = {"type": "admin", "admin_id": AGENT}  # an agent answers before the retry
        standin.tickets[ticket_id]["ticket_parts"]["ticket_parts"].append(
            {"id": "9001", "part_type": "comment", "body": "On it", "author": standin.author(agent)}
        )
        clock.advance(600)
        drain(worker)
        replies = customer_replies(standin, ticket_id)
        assert [(r["author"]["id"], r["body"]) for r in replies] == [
            (contact["id"], "My order number is 42"),
            (contact["id"], "Still &lt;waiting&gt;"),
        ]
        sent = [
            (r.json["type"], r.json.get("intercom_user_id"), r.json.get("created_at"))
            for r in standin.requests_to("POST", r"^/tickets/\d+/reply$")
            if r.json["message_type"] == "comment"
        ]
        # each copy dated when the customer said it; the retry found its reply there: no third
        assert sent == [("user", contact["id"], r["created_at"]) for r in replies]
        assert all(isinstance(r["created_at"], int) for r in replies)
        assert standin.validation_errors == []
    finally:
        rt.destinations["intercom"].close()
        rt.close()
