"""After the handoff, agent and customer talk in the same thread (zero-setup default: local inbox).

Real HTTP into the app, the real outbox and worker, a real callback receiver on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from connector.agent_config import AgentSettings
from tests.helpers import API_KEY, SECRET, drain, event, make_settings, post_event

AGENT = {"Authorization": f"Bearer {API_KEY}"}
MIA_KEY, SAM_KEY = "mia-personal-key-0123456789", "sam-personal-key-9876543210"


@pytest.fixture
def settings(tmp_path, receiver):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, callback_url=receiver.url)
    settings.agents = [
        AgentSettings(
            name="Mia Chen",
            email="mia@example.com",
            teams=["general"],
            key_sha256=hashlib.sha256(MIA_KEY.encode()).hexdigest(),
        ),
        AgentSettings(name="Sam Ortiz", key_sha256=hashlib.sha256(SAM_KEY.encode()).hexdigest()),
    ]
    return settings


def escalate(client: Any, conversation: str = "conv-1") -> str:
    answer = post_event(client, event(conversation, f"{conversation}-e1"))
    assert answer.status_code == 200, answer.text
    return str(answer.json["handoff"]["id"])


def customer_says(client: Any, conversation: str, event_id: str, *texts: str) -> None:
    messages = [
        {"id": f"{event_id}-{i}", "role": "customer", "text": t} for i, t in enumerate(texts)
    ]
    answer = post_event(client, event(conversation, event_id, messages=messages))
    assert answer.status_code == 200, answer.text
    assert answer.json["decision"]["escalate"] is False or answer.json["handoff"]


def agent_messages(receiver: Any) -> list[dict[str, Any]]:
    """What the bot kept: the first copy of each agent.message, in arrival order."""
    seen: dict[str, dict[str, Any]] = {}
    for r in receiver.accepted():
        body = r["json"]
        if body["type"] == "agent.message" and body["id"] not in seen:
            seen[body["id"]] = body
    return list(seen.values())


def test_the_owning_agent_writes_and_the_bot_gets_each_message_once_in_order(
    client, worker, receiver
):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)
    early = client.post(
        f"/v1/handoffs/{handoff_id}/messages", json={"text": "hi", "actor": "mia"}, headers=AGENT
    )
    assert early.status_code == 409 and early.json["type"].endswith("/not-claimed")
    assert (
        client.post(
            f"/v1/handoffs/{handoff_id}/claim", json={"actor": "mia"}, headers=AGENT
        ).status_code
        == 200
    )

    other = client.post(
        f"/v1/handoffs/{handoff_id}/messages",
        json={"text": "me too", "actor": "sam"},
        headers=AGENT,
    )
    assert other.status_code == 409 and other.json["type"].endswith("/not-your-conversation")
    nobody = client.post(
        f"/v1/handoffs/{handoff_id}/messages", json={"text": "who?"}, headers=AGENT
    )
    assert nobody.status_code == 400 and nobody.json["errors"][0]["path"] == "actor"

    first = client.post(
        f"/v1/handoffs/{handoff_id}/messages",
        headers={**AGENT, "Idempotency-Key": "k1"},
        json={
            "text": "Hi Ada, I'm Mia. I can see the order.",
            "actor": "mia",
            "attachments": [
                {
                    "name": "label.pdf",
                    "url": "https://files.example.com/l.pdf",
                    "content_type": "application/pdf",
                }
            ],
        },
    )
    assert first.status_code == 201, first.text
    again = client.post(
        f"/v1/handoffs/{handoff_id}/messages",
        headers={**AGENT, "Idempotency-Key": "k1"},
        json={"text": "Hi Ada, I'm Mia. I can see the order.", "actor": "mia"},
    )
    assert (
        again.status_code == 200
        and again.json["duplicate"] is True
        and again.json["id"] == first.json["id"]
    )
    second = client.post(
        f"/v1/handoffs/{handoff_id}/messages",
        json={"text": "It ships today.", "actor": "mia"},
        headers=AGENT,
    )
    assert second.status_code == 201

    drain(worker)
    got = agent_messages(receiver)
    assert [m["text"] for m in got] == ["Hi Ada, I'm Mia. I can see the order.", "It ships today."]
    assert got[0]["author"] == {"name": "mia", "id": "mia"}
    assert got[0]["attachments"] == [
        {
            "name": "label.pdf",
            "url": "https://files.example.com/l.pdf",
            "content_type": "application/pdf",
        }
    ]
    assert {m["conversation_id"] for m in got} == {"conv-1"} and {m["handoff_id"] for m in got} == {
        handoff_id
    }
    assert SECRET not in str(receiver.received)

    # the customer answers through the bot: the turn is listed with both sides, in order
    customer_says(client, "conv-1", "e2", "Great, thanks!")
    view = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json
    assert [(t["role"], t["text"]) for t in view["turns"]] == [
        ("agent", "Hi Ada, I'm Mia. I can see the order."),
        ("agent", "It ships today."),
        ("customer", "Great, thanks!"),
    ]
    assert view["turns"][0]["via"] == "api" and view["control"]["owner"] == "agent"
    assert client.get("/v1/handoffs", headers=AGENT).json["items"][0]["turns"] is None


@pytest.fixture
def advance(clock):  # type: ignore[no-untyped-def]
    return clock.advance


def test_handback_comes_after_every_earlier_agent_message_and_ends_relaying(
    client, worker, receiver, advance
):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)
    client.post(f"/v1/handoffs/{handoff_id}/claim", json={"actor": "mia"}, headers=AGENT)
    drain(worker)
    before = len(receiver.accepted())
    receiver.responses = [(503, {})]
    for text in ("one", "two"):
        client.post(
            f"/v1/handoffs/{handoff_id}/messages",
            json={"text": text, "actor": "mia"},
            headers=AGENT,
        )
    client.post(
        f"/v1/handoffs/{handoff_id}/handback", json={"actor": "mia", "note": "done"}, headers=AGENT
    )
    late = client.post(
        f"/v1/handoffs/{handoff_id}/messages", json={"text": "three", "actor": "mia"}, headers=AGENT
    )
    assert late.status_code == 409 and late.json["type"].endswith("/handoff-not-open")
    drain(worker)
    assert (
        len(receiver.accepted()) == before
    )  # "one" waits for its retry, "two" and the handback behind it
    advance(120)
    drain(worker)
    types = [(r["json"]["type"], r["json"].get("text")) for r in receiver.accepted()[before:]]
    assert types[:2] == [("agent.message", "one"), ("agent.message", "two")]
    assert ("conversation.handed_back", None) in types[2:]
    assert types.index(("conversation.handed_back", None)) > 1

    # after the handback the customer's turns are the bot's again: nothing goes to the agent
    customer_says(client, "conv-1", "e3", "one more thing")
    view = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json
    assert view["status"] == "handed_back" and view["control"]["owner"] == "bot"


def test_an_agents_own_key_makes_them_the_actor_whatever_the_body_types(
    client, worker, receiver, runtime
):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)
    mia, sam = {"Authorization": f"Bearer {MIA_KEY}"}, {"X-API-Key": SAM_KEY}
    claimed = client.post(
        f"/v1/handoffs/{handoff_id}/claim", json={"actor": "someone else"}, headers=mia
    )
    assert claimed.status_code == 200
    view = client.get(f"/v1/handoffs/{handoff_id}", headers=sam).json
    assert view["control"]["owner"] == "agent"
    # Sam cannot write in Mia's conversation, even by typing her name
    refused = client.post(
        f"/v1/handoffs/{handoff_id}/messages", json={"text": "hi", "actor": "Mia Chen"}, headers=sam
    )
    assert refused.status_code == 409 and refused.json["type"].endswith("/not-your-conversation")
    sent = client.post(
        f"/v1/handoffs/{handoff_id}/messages", json={"text": "Hello, Mia here."}, headers=mia
    )
    assert sent.status_code == 201 and sent.json["author"]["name"] == "Mia Chen"
    back = client.post(
        f"/v1/handoffs/{handoff_id}/handback", json={"actor": "x", "note": "done"}, headers=mia
    )
    assert back.status_code == 200
    with runtime.store.reading() as tx:
        actors = {a.action: a.actor for a in tx.list_audit("conv-1")}
        assert tx.get_handoff(handoff_id).claimed_by == "Mia Chen"
    assert actors["agent.message"] == actors["handback"] == "Mia Chen"
    wrong = client.post(
        f"/v1/handoffs/{handoff_id}/claim",
        json={"actor": "x"},
        headers={"X-API-Key": "not-a-key-at-all"},
    )
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("agents", "expected"),
    [
        ("- {name: Mia, key_sha256: abc}", "agents[0].key_sha256"),
        ("- {name: Mia}", "agents[0].key_sha256: required key is missing"),
        (
            f"- {{name: Mia, key_sha256: {'a' * 64}}}\n- {{name: Mia, key_sha256: {'b' * 64}}}",
            "agents[1].name",
        ),
        (
            f"- {{name: Mia, key_sha256: {'a' * 64}}}\n- {{name: Sam, key_sha256: {'a' * 64}}}",
            "agents[1].key_sha256",
        ),
        ("- {name: Mia, key: plain, key_sha256: x}", "agents[0].key: unknown key"),
    ],
    ids=["short-digest", "no-digest", "same-name", "same-key", "plain-key"],
)
def test_bad_agents_config_names_the_key_path(tmp_path, agents, expected):  # type: ignore[no-untyped-def]
    from connector.config import load_config
    from connector.errors import ConfigError

    path = tmp_path / "config.yaml"
    path.write_text("agents:\n" + "\n".join("  " + line for line in agents.splitlines()) + "\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={})
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    ("texts", "language", "intent", "expected"),
    [
        ({}, "en", {"name": "billing", "sub_intent": "double_charge"}, None),
        (
            {"en": "Hi, {agent} ({team}) on {topic}"},
            "en-GB",
            {"name": "billing", "sub_intent": "double_charge"},
            "Hi, Mia (billing) on double charge",
        ),
        (
            {"en": "x {topic}", "fr": "Bonjour, {agent} : {topic}"},
            "fr",
            {"name": "unknown"},
            "Bonjour, Mia : votre demande",
        ),
        ({"*": "Hello {agent}"}, "ja", {}, "Hello Mia"),
        ({"de": "nur Deutsch"}, "ja", {}, None),
        ({"en": "{agent} says {unknown}"}, None, {}, "Mia says {unknown}"),
    ],
    ids=[
        "nothing",
        "base-language",
        "french-fallback-topic",
        "star",
        "no-match",
        "unknown-placeholder",
    ],
)
def test_bridge_text_picks_the_language_and_fills_in(texts, language, intent, expected):  # type: ignore[no-untyped-def]
    from connector.live import bridge_text

    assert (
        bridge_text(texts, language, agent="Mia", team="billing", payload={"intent": intent})
        == expected
    )


def test_bridge_messages_join_before_the_agent_and_hand_back_before_the_bot(
    client, worker, receiver, runtime
):  # type: ignore[no-untyped-def]
    from connector.live import JOIN

    body = event()
    body["conversation"]["language"] = "fr"
    handoff_id = post_event(client, body).json["handoff"]["id"]
    team = client.get(f"/v1/handoffs/{handoff_id}", headers=AGENT).json["team"]
    runtime.settings.routing.teams[team].bridge_join = {}  # the built-in lines
    runtime.settings.routing.teams[team].bridge_handback = {
        "en": "Thanks! {agent} is handing you back to our assistant."
    }
    client.post(
        f"/v1/handoffs/{handoff_id}/claim", json={"actor": "x"}, headers={"X-API-Key": MIA_KEY}
    )
    client.post(
        f"/v1/handoffs/{handoff_id}/messages",
        json={"text": "Bonjour !"},
        headers={"X-API-Key": MIA_KEY},
    )
    client.post(
        f"/v1/handoffs/{handoff_id}/handback",
        json={"actor": "x", "note": "ok"},
        headers={"X-API-Key": MIA_KEY},
    )
    drain(worker)
    seen = [
        (r["json"]["type"], r["json"].get("bridge"), r["json"].get("text"))
        for r in receiver.accepted()
    ]
    after_claim = seen[[s[0] for s in seen].index("control.changed", 1) :]
    assert [s[:2] for s in after_claim] == [
        ("control.changed", None),
        ("customer.update", "join"),
        ("agent.message", None),
        ("customer.update", "handback"),
        ("control.changed", None),
        ("conversation.handed_back", None),
    ]
    join = after_claim[1][2]
    assert (
        join.startswith("Bonjour, je suis Mia de l'équipe")
        and JOIN["fr"].split("{topic}")[1] in join
    )
    assert after_claim[3][2] == "Thanks! Mia is handing you back to our assistant."


def test_the_console_reply_form_works_without_javascript(client, worker, receiver):  # type: ignore[no-untyped-def]
    handoff_id = escalate(client)
    page = client.get(f"/inbox/{handoff_id}?key={API_KEY}").get_data(as_text=True)
    assert 'id="hw-reply"' not in page and 'id="hw-handback"' not in page  # nobody owns it yet
    client.post(f"/inbox/{handoff_id}/claim", data={"key": API_KEY, "actor": "mia"})
    page = client.get(f"/inbox/{handoff_id}?key={API_KEY}").get_data(as_text=True)
    assert 'id="hw-reply"' in page and page.index('id="hw-actions"') < page.index('id="hw-summary"')
    for text in ("Hi, Mia here.", "It ships <today>."):
        sent = client.post(
            f"/inbox/{handoff_id}/reply", data={"key": API_KEY, "actor": "mia", "text": text}
        )
        assert sent.status_code == 303
    empty = client.post(
        f"/inbox/{handoff_id}/reply", data={"key": API_KEY, "actor": "mia", "text": " "}
    )
    assert empty.status_code == 400 and empty.json["errors"][0]["path"] == "text"
    page = client.get(f"/inbox/{handoff_id}?key={API_KEY}").get_data(as_text=True)
    assert "It ships &lt;today&gt;." in page  # the conversation since the handoff, escaped
    drain(worker)
    assert [m["text"] for m in agent_messages(receiver)] == ["Hi, Mia here.", "It ships <today>."]
