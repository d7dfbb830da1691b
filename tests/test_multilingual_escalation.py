"""A Spanish and a French conversation escalate through the service on words of their own
language, and the handoff payload names the reason: the term and the language it was read in."""

from __future__ import annotations

import pytest

from tests.helpers import API_KEY, drain, event, post_event

AGENT = {"Authorization": f"Bearer {API_KEY}"}

CASES = [
    (
        "es",
        [
            ("customer", "Hola, el pedido 7730 llegó con la pantalla rota."),
            ("bot", "Siento oír eso. ¿Quieres que te envíe la guía de garantía?"),
            ("customer", "No, quiero que me devuelvan el dinero. Me cobraron dos veces además."),
        ],
        ["refund", "billing"],
    ),
    (
        "fr",
        [
            ("customer", "Bonjour, ma commande 5512 n'est jamais arrivée."),
            ("bot", "Je vérifie votre commande."),
            ("customer", "C'est inadmissible, je veux être remboursé."),
        ],
        ["refund", "complaint"],
    ),
]


@pytest.mark.parametrize(("lang", "turns", "topics"), CASES)
def test_a_conversation_in_spanish_or_french_escalates_and_names_why(  # type: ignore[no-untyped-def]
    client, worker, lang, turns, topics
):
    messages = [
        {"id": f"{lang}-m{i}", "role": role, "text": text} for i, (role, text) in enumerate(turns)
    ]
    body = event(f"conv-{lang}", f"evt-{lang}", messages=messages)
    body["conversation"].pop("language")  # the bot does not say: the service must read it
    answer = post_event(client, body)
    assert answer.status_code == 200, answer.json
    decision = answer.json["decision"]
    assert decision["escalate"] is True
    reason = next(r for r in decision["reasons"] if r["trigger"] == "policy_topic")
    for topic in topics:
        assert f"{topic}: " in reason["detail"], reason
    assert f"({lang})" in reason["detail"] and "(en)" not in reason["detail"], reason

    drain(worker)
    view = client.get(f"/v1/handoffs/{answer.json['handoff']['id']}", headers=AGENT).json
    escalation = view["payload"]["escalation"]
    detail = next(r["detail"] for r in escalation["reasons"] if r["trigger"] == "policy_topic")
    assert detail == reason["detail"]
    assert f"({lang})" in detail
    # the team keywords that routed it are named with their language too
    intent = view["payload"]["intent"]
    assert intent["source"] == "connector", intent
    assert any(e.startswith("keywords: ") and e.endswith(f"({lang})") for e in intent["evidence"])
