"""Requests for a human: direct, indirect, negated, multilingual."""

import pytest

from connector.schemas import Message
from connector.signals import detect_human_request, human_request_in

REQUESTS = [
    ("can I talk to someone", "en"),
    ("get me a real person", "en"),
    ("agent please", "en"),
    ("speak to a representative", "en"),
    ("how to speak with a fucking human agent", "en"),
    ("Let me talk to a person", "en"),
    ("Is there a real person I can talk to?", "en"),
    ("pass me to a human please", "en"),
    ("Please connect me to the front desk", "en"),
    ("Can somebody else take a look at my claim?", "en"),
    ("HUMAN!!!", "en"),
    ("i don't want to talk to you!", "en"),
    ("why am I wasting time with a machine", "en"),
    ("Quiero hablar con un agente", "es"),
    ("¿Puedo hablar con una persona real?", "es"),
    ("Necesito hablar con alguien", "es"),
    ("Je voudrais parler à un conseiller", "fr"),
    ("Mettez-moi en relation avec un conseiller", "fr"),
    ("Ich möchte mit einem Menschen sprechen", "de"),
    ("Verbinden Sie mich bitte mit einem Mitarbeiter", "de"),
    ("Quero falar com um atendente", "pt"),
    ("Posso falar com uma pessoa?", "pt"),
]


@pytest.mark.parametrize(("text", "language"), REQUESTS, ids=[t for t, _ in REQUESTS])
def test_request_detected_with_language(text, language):
    result = detect_human_request(text)
    assert result.requested
    assert result.language == language
    assert result.phrase


NOT_REQUESTS = [
    ("negated-en", "I don't need an agent"),
    ("negated-no-need", "no need for a human, thanks"),
    ("negated-do-not-want", "I do not want to speak to a human, just answer"),
    ("negated-rather-not", "I'd rather not talk to a human"),
    ("negated-es", "No necesito hablar con un agente"),
    ("negated-fr", "Je n'ai pas besoin de parler à un conseiller"),
    ("negated-de", "Ich möchte nicht mit einem Mitarbeiter sprechen"),
    ("negated-pt", "Não preciso falar com um atendente"),
    ("indirect-ask-an-agent-how", "ask an agent how to open an online account"),
    ("indirect-ask-an-agent-if", "can u ask an agent if you have a newsletter"),
    ("money-to-someone-else", "How do I transfer money to someone else?"),
    ("agent-as-subject", "the agent said my card is fine"),
    ("plain-question", "what time does check in start?"),
    ("connect-account", "Can you connect my account to the app?"),
]


@pytest.mark.parametrize("text", [t for _, t in NOT_REQUESTS], ids=[i for i, _ in NOT_REQUESTS])
def test_not_a_request(text):
    assert not detect_human_request(text).requested


@pytest.mark.parametrize(
    "text", ["I don't need an agent", "No necesito hablar con un agente"], ids=["en", "es"]
)
def test_negated_request_is_reported(text):
    assert detect_human_request(text).negated


def test_indirect_speech_can_be_counted_when_configured():
    assert detect_human_request("ask an agent how to reset it", exclusions=()).requested


def test_custom_patterns_replace_defaults():
    result = detect_human_request("humano ya", patterns={"es": (r"\bhumano\b",)}, bot_rejections={})
    assert (result.requested, result.language, result.phrase) == (True, "es", "humano")


def test_over_messages_reads_customer_turns_only():
    msgs = [
        Message(id="1", role="customer", text="my card is broken"),
        Message(id="2", role="bot", text="Do you want to talk to an agent?"),
        Message(id="3", role="customer", text="yes, please"),
    ]
    assert not human_request_in(msgs).requested
    assert human_request_in(
        msgs + [Message(id="4", role="customer", text="agent please")]
    ).requested
