"""The walk of one escalation, end to end through HTTP: event → decision → handoff → inbox →
claim → send gate → handback → bot called back (signed, through the outbox)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from connector import security
from tests.helpers import API_KEY, SECRET, drain, dumps, event, post_event, signed_headers

AGENT = {"Authorization": f"Bearer {API_KEY}"}


def test_escalation_walk(client, worker, receiver, runtime):  # type: ignore[no-untyped-def]
    answer = post_event(
        client,
        event(
            bot={
                "summary": "Order 881 never arrived; customer wants a person.",
                "draft_reply": "Hi Ada, I'm checking order 881 now.",
                "citations": [{"title": "Returns", "url": "https://h.example/r"}],
            }
        ),
    )
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["duplicate"] is False
    assert body["decision"]["escalate"] is True
    assert [r["trigger"] for r in body["decision"]["reasons"]] == ["human_request"]
    assert body["decision"]["policy_version"].startswith("p-")
    assert body["control"] == {**body["control"], "owner": "pending_agent", "version": 2}
    handoff_id = body["handoff"]["id"]
    assert body["handoff"]["status"] == "open"
    assert body["customer_message"]["wait_minutes"] == 5
    assert "connecting you now" not in body["customer_message"]["text"].lower()

    # the control change is queued to the bot, and the handoff to the local inbox
    assert drain(worker) == 2
    inbox = client.get(f"/inbox/{handoff_id}?key={API_KEY}")
    assert inbox.status_code == 200
    page = inbox.get_data(as_text=True)
    assert "Order 881 never arrived" in page and "inbox #1" in page

    view = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json
    payload = view["payload"]
    assert payload["schema"] == "handoff/v1"
    assert payload["summary"] == "Order 881 never arrived; customer wants a person."
    assert payload["draft_reply"] == "Hi Ada, I'm checking order 881 now."
    assert [c["title"] for c in payload["citations"]] == ["Returns", "Shipping times"]
    assert [t["role"] for t in payload["transcript"]["turns"]] == ["customer", "bot", "customer"]
    assert payload["customer"]["name"] == "Ada Lovelace" and payload["customer"]["tags"] == ["vip"]
    assert view["deliveries"][0]["destination"] == "local"

    listed = client.get("/v1/handoffs?status=open", headers=AGENT).json["items"]
    assert [h["id"] for h in listed] == [handoff_id]

    # the bot may still talk while nobody has taken over...
    reply = dumps({"text": "A person will be with you shortly."})
    gate = client.post(
        "/v1/conversations/conv-1/bot-replies", data=reply, headers=signed_headers(reply)
    )
    assert gate.status_code == 200
    # ...but not once an agent owns the conversation
    claimed = client.post(
        f"/v1/handoffs/{handoff_id}/claim", json={"actor": "agent.mia"}, headers=AGENT
    )
    assert claimed.json["owner"] == "agent"
    gate = client.post(
        "/v1/conversations/conv-1/bot-replies", data=reply, headers=signed_headers(reply)
    )
    assert gate.status_code == 409
    assert gate.json["type"].endswith("/agent-owns-conversation")

    back = client.post(
        f"/v1/handoffs/{handoff_id}/handback",
        headers=AGENT,
        json={
            "actor": "agent.mia",
            "note": "Refund issued for order 881.",
            "resolution": "refunded",
            "resume_hint": "offer_discount",
        },
    )
    assert back.status_code == 200 and back.json["owner"] == "bot"
    assert drain(worker) == 4  # control.changed ×2, handed_back, inbox note

    callbacks = receiver.accepted()
    types = [c["json"]["type"] for c in callbacks]
    assert types == [
        "control.changed",
        "control.changed",
        "control.changed",
        "conversation.handed_back",
    ]
    assert [c["json"].get("owner") for c in callbacks[:3]] == ["pending_agent", "agent", "bot"]
    handed = callbacks[-1]["json"]
    assert (
        handed["note"] == "Refund issued for order 881."
        and handed["resume_hint"] == "offer_discount"
    )
    for c in callbacks:  # every callback is signed with the source's secret, over the exact body
        security.verify(
            SECRET,
            c["headers"]["X-Handoff-Signature"],
            c["raw"],
            now=runtime.now().timestamp(),
            window=300,
        )
        assert c["headers"]["X-Handoff-Delivery"]
    assert client.get("/v1/conversations/conv-1/control", headers=AGENT).json["owner"] == "bot"
    assert (
        client.post(
            "/v1/conversations/conv-1/bot-replies", data=reply, headers=signed_headers(reply)
        ).status_code
        == 200
    )

    with runtime.store.reading() as tx:
        actions = [a.action for a in tx.list_audit("conv-1")]
        notes = tx.get_inbox_item(handoff_id)["notes"]
    assert actions.count("control.changed") == 3 and "handback" in actions
    assert notes[0]["text"].startswith("Handed back to the bot by agent.mia")


def test_repeated_event_returns_first_answer_and_changes_nothing(client, runtime, clock):  # type: ignore[no-untyped-def]
    first = post_event(client, event()).json
    again = post_event(client, event())
    assert again.status_code == 200
    repeat = again.json
    assert repeat == {**first, "duplicate": True}
    # the handoff link carries no credential (the bot gets no agent capability): it is the same on
    # every repeat, and opening it needs an agent's key
    clock.advance(runtime.settings.widget.token_ttl_seconds + 60)
    late = post_event(client, event(), timestamp=int(clock.now.timestamp())).json["handoff"]["url"]
    assert late == first["handoff"]["url"] and "token" not in json.dumps(first)
    assert client.get(urlsplit(late).path).status_code == 401
    assert client.get(urlsplit(late).path, headers=AGENT).status_code == 200
    with runtime.store.reading() as tx:
        assert "token=" not in json.dumps(tx.get_event("demo", "evt-1"))
        assert len(tx.list_handoffs()) == 1
        assert len(tx.list_outbox()) == 2
        assert len(tx.list_messages("conv-1")) == 3


def test_bot_recommendation_escalates_and_plain_turns_do_not(client):  # type: ignore[no-untyped-def]
    calm = event(
        messages=[{"id": "a1", "role": "customer", "text": "What are your opening hours?"}]
    )
    answer = post_event(client, calm).json
    assert answer["decision"] == {**answer["decision"], "escalate": False, "reasons": []}
    assert answer["control"]["owner"] == "bot" and answer.get("handoff") is None
    asked = event(
        event_id="evt-2",
        type="handoff.requested",
        messages=[],
        bot={"recommend_handoff": {"reason": "policy question outside my scope"}},
    )
    answer = post_event(client, asked).json
    assert answer["decision"]["escalate"] is True
    assert answer["decision"]["reasons"][0] == {
        "trigger": "bot_recommended",
        "rule": "escalate_on_bot_recommendation",
        "detail": "policy question outside my scope",
    }


def test_second_escalation_while_pending_keeps_one_handoff(client, runtime):  # type: ignore[no-untyped-def]
    first = post_event(client, event()).json
    second = post_event(
        client,
        event(
            event_id="evt-2",
            messages=[{"id": "x1", "role": "customer", "text": "Hello?? Can I speak to an agent?"}],
        ),
    ).json
    assert second["decision"]["escalate"] is False
    assert second["handoff"]["id"] == first["handoff"]["id"]
    with runtime.store.reading() as tx:
        assert len(tx.list_handoffs()) == 1


def test_escalating_again_after_handback_opens_a_new_handoff(client):  # type: ignore[no-untyped-def]
    first = post_event(client, event()).json["handoff"]["id"]
    client.post(
        f"/v1/handoffs/{first}/handback", headers=AGENT, json={"actor": "a", "note": "done"}
    )
    second = post_event(
        client,
        event(
            event_id="evt-2",
            messages=[
                {"id": "y1", "role": "customer", "text": "Sorry, I need to talk to a human again"}
            ],
        ),
    ).json
    assert second["decision"]["escalate"] is True and second["handoff"]["id"] != first
    view = client.get(f"/v1/handoffs/{second['handoff']['id']}", headers=AGENT).json
    assert view["payload"]["customer"]["prior_handoffs"] == 1


def test_claim_and_handback_conflicts(client):  # type: ignore[no-untyped-def]
    handoff_id = post_event(client, event()).json["handoff"]["id"]
    ok = client.post(f"/v1/handoffs/{handoff_id}/claim", json={"actor": "a1"}, headers=AGENT)
    same = client.post(f"/v1/handoffs/{handoff_id}/claim", json={"actor": "a1"}, headers=AGENT)
    other = client.post(f"/v1/handoffs/{handoff_id}/claim", json={"actor": "a2"}, headers=AGENT)
    assert (ok.status_code, same.status_code, other.status_code) == (200, 200, 409)
    assert other.json["type"].endswith("/already-claimed")
    client.post(
        f"/v1/handoffs/{handoff_id}/handback", json={"actor": "a1", "note": "n"}, headers=AGENT
    )
    again = client.post(
        f"/v1/handoffs/{handoff_id}/handback", json={"actor": "a1", "note": "n"}, headers=AGENT
    )
    assert again.status_code == 409 and again.json["type"].endswith("/handoff-not-open")
    note_missing = client.post(
        f"/v1/handoffs/{handoff_id}/handback", json={"actor": "a1"}, headers=AGENT
    )
    assert note_missing.status_code == 400 and note_missing.json["errors"][0]["path"] == "note"


def test_agent_endpoints_need_an_api_key(client):  # type: ignore[no-untyped-def]
    assert client.get("/v1/handoffs").status_code == 401
    wrong = client.get("/v1/handoffs", headers={"X-API-Key": "nope-nope-nope"})
    assert wrong.status_code == 401 and wrong.json["type"].endswith("/bad-api-key")
    assert client.get("/v1/handoffs", headers={"X-API-Key": API_KEY}).status_code == 200
    assert client.get("/inbox").status_code == 401


def test_inbox_forms_take_over_and_hand_back(client, worker, receiver):  # type: ignore[no-untyped-def]
    handoff_id = post_event(client, event()).json["handoff"]["id"]
    drain(worker)
    page = client.get(f"/inbox?key={API_KEY}").get_data(as_text=True)
    assert handoff_id in page and "Take over" in page
    taken = client.post(f"/inbox/{handoff_id}/claim", data={"key": API_KEY, "actor": "mia"})
    assert taken.status_code == 303
    cross = client.post(
        f"/inbox/{handoff_id}/handback",
        data={"key": API_KEY, "actor": "mia", "note": "x"},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    empty = client.post(
        f"/inbox/{handoff_id}/handback", data={"key": API_KEY, "actor": "mia", "note": " "}
    )
    assert empty.status_code == 400
    done = client.post(
        f"/inbox/{handoff_id}/handback",
        data={"key": API_KEY, "actor": "mia", "note": "Sorted <b>it</b>"},
    )
    assert done.status_code == 303
    drain(worker)
    assert receiver.accepted()[-1]["json"]["type"] == "conversation.handed_back"
    page = client.get(f"/inbox/{handoff_id}?key={API_KEY}").get_data(as_text=True)
    assert "Sorted &lt;b&gt;it&lt;/b&gt;" in page


def test_customer_text_is_escaped_in_the_inbox(client, worker):  # type: ignore[no-untyped-def]
    evil = event(
        messages=[
            {"id": "e1", "role": "customer", "text": "<script>alert(1)</script> talk to a human"}
        ]
    )
    handoff_id = post_event(client, evil).json["handoff"]["id"]
    drain(worker)
    page = client.get(f"/inbox/{handoff_id}?key={API_KEY}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_openapi_is_generated_from_the_models(client):  # type: ignore[no-untyped-def]
    doc = client.get("/openapi.json").json
    assert doc["openapi"].startswith("3.")
    for path in (
        "/v1/events",
        "/v1/conversations/{conversation_id}/control",
        "/v1/conversations/{conversation_id}/bot-replies",
        "/v1/handoffs",
        "/v1/handoffs/{handoff_id}",
        "/v1/handoffs/{handoff_id}/claim",
        "/v1/handoffs/{handoff_id}/handback",
        "/healthz",
        "/readyz",
    ):
        assert path in doc["paths"], path
    event_schema = doc["components"]["schemas"]["Event"]
    assert set(event_schema["required"]) >= {"id", "type", "occurred_at", "conversation"}
    assert event_schema["additionalProperties"] is False
    # every $ref resolves
    text = json.dumps(doc)
    for name in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in doc["components"]["schemas"], name


def test_health_and_readiness(client):  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz").json
    assert ready["status"] == "ready" and ready["destinations"] == ["local"]
