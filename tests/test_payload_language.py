"""What the agent reads when the bot sends only its messages, and what the customer is told, in the
customer's language: the extractive summary, the draft, the next action, the priority, the mood.

Conversations are written here in the way customers write (not copied from ../shared/data); each
case runs the real policy, routing and payload build.
"""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime

import pytest

from connector.config import load_config
from connector.payload import build_payload
from connector.payload_text import DRAFT_LANGUAGES, LINES, line
from connector.planning import History, Snapshot, decide_event, plan_handoff, with_language
from connector.policy import DecisionInput, decide
from connector.routing import route
from connector.routing_config import RoutingSettings
from connector.routing_messages import DEFAULT_MESSAGES
from connector.schemas import BotContext, ConversationRef, Customer, Event, HandoffPayload, Message
from connector.signals.facts import key_facts
from connector.signals.language import detect_language
from connector.signals.sentiment import classify_message, conversation_sentiment
from connector.timers import customer_update_text

SETTINGS = load_config(None, env={})
NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)  # a Wednesday: every team is open


def given(
    *turns: tuple[str, str], language: str | None = None, name: str = "Sam Rivera", **bot_extra
) -> DecisionInput:  # type: ignore[no-untyped-def]
    messages = [
        Message(id=f"m{i}", role=role, text=text, **(bot_extra if role == "bot" else {}))  # type: ignore[arg-type]
        for i, (role, text) in enumerate(turns)
    ]
    return DecisionInput(
        event_type="conversation.updated",
        conversation=ConversationRef(id="c1", language=language),
        customer=Customer(name=name),
        bot=BotContext(),
        messages=messages,
        new_messages=messages,
    )


def build(inputs: DecisionInput) -> HandoffPayload:
    decision = decide(inputs, SETTINGS.policy)
    inputs, source = with_language(inputs)
    routing, _ = route(
        decision,
        inputs.customer,
        inputs.conversation.language,
        SETTINGS.routing,
        NOW,
        messages=inputs.messages,
    )
    return build_payload(
        handoff_id="ho_1",
        inputs=inputs,
        decision=decision,
        routing=routing,
        prior_handoffs=0,
        now=NOW,
        transcript_url=None,
        policy=SETTINGS.policy,
        settings=SETTINGS.payload,
        language_source=source,
    )


BROKEN = given(
    ("customer", "My order 5512 arrived broken, the screen is cracked."),
    ("bot", "I'm sorry to hear that. Our returns page explains what to do next."),
    ("customer", "I want a replacement or my money back."),
    ("bot", "Sorry, I didn't quite get that. Could you rephrase?"),
    ("customer", "Useless.. I still want my money back!!"),
)
SPANISH = given(
    ("customer", "Hola, mi pedido 7781 llegó roto el 3 de marzo y pagué 120 €."),
    ("bot", "Lo siento mucho. ¿Me puede dar más detalles?"),
    ("customer", "Quiero hablar con una persona, por favor. Necesito que me devuelvan el dinero."),
)
DOUBLE_CHARGE = given(
    ("customer", "Hi, I was charged twice for my March invoice (INV-2291)."),
    ("bot", "Duplicate charges usually drop off within 3-5 business days."),
    ("customer", "It's not pending, both charges settled a week ago. 2 x $480."),
    ("bot", "I'm not sure I understood. Could you rephrase?"),
    ("customer", "Can I talk to a real person please? I need this refunded."),
)
RULE_IDS = {r.id for r in SETTINGS.policy.rules if "_" in r.id}


@pytest.mark.parametrize(
    "inputs,facts,words",
    [
        (BROKEN, ["order 5512"], ["refund request", "customer is frustrated"]),
        (SPANISH, ["pedido 7781", "3 de marzo", "120 €"], ["asked for a person"]),
        (DOUBLE_CHARGE, ["INV-2291", "2 x $480"], ["asked for a person"]),
    ],
    ids=["broken-order", "spanish", "double-charge"],
)
def test_summary_reads_like_a_colleagues_note(inputs, facts, words):  # type: ignore[no-untyped-def]
    summary = build(inputs).summary
    assert len(summary.split()) <= 80
    assert summary.startswith("Customer: ")
    for fact in facts:  # key facts verbatim
        assert fact in summary, summary
    for word in words:  # the reason in an agent's words
        assert word in summary, summary
    assert not RULE_IDS & set(re.findall(r"[a-z_]+", summary)), summary  # no rule ids
    assert not re.search(r"\d\.\d\d|score|threshold|trigger", summary), summary  # no scores
    assert not re.search(r"[.!?]{2,}", summary), summary  # no doubled punctuation
    assert "Useless" not in summary  # abuse stays in the transcript


def test_summary_says_what_the_bot_tried_and_the_mood_when_it_matters():
    summary = build(BROKEN).summary
    assert "Bot answered twice" in summary
    assert "Mood: frustrated" in summary
    assert "Mood" not in build(DOUBLE_CHARGE).summary  # a calm customer: nothing to say


def test_a_frustrated_refund_is_high_and_says_which_rule_raised_it():
    payload = build(BROKEN)
    assert payload.escalation.rules[:2] == ["policy_keywords", "frustrated"]
    assert payload.escalation.priority == "high"
    assert payload.escalation.priority_rule == "frustrated"
    assert payload.routing.priority == "high"


def test_a_lone_refund_keeps_the_deciding_rules_priority():
    payload = build(given(("customer", "How do I get a refund for order 4411?")))
    assert payload.escalation.rules == ["policy_keywords"]
    assert (payload.escalation.priority, payload.escalation.priority_rule) == (
        "normal",
        "policy_keywords",
    )


def test_draft_names_what_the_bot_learned_and_never_quotes_the_customer():
    draft = build(BROKEN).draft_reply or ""
    assert draft.startswith("Hi Sam, I'm sorry about the trouble with order 5512.")
    assert "our chat couldn't sort it out" in draft
    for insult in ("Useless", "junk", "“"):
        assert insult not in draft


@pytest.mark.parametrize(
    "text",
    ["Useless.", "fuck this", "This is a joke, you are hopeless", "NO!!!", "Rubbish"],
)
def test_draft_never_quotes_abuse_or_a_one_word_complaint(text):  # type: ignore[no-untyped-def]
    payload = build(
        given(("customer", "Where is my parcel?"), ("bot", "It is on its way."), ("customer", text))
    )
    abuse = {"useless", "fuck", "joke", "hopeless", "rubbish", "no!"}
    for surface in ((payload.draft_reply or "").casefold(), payload.summary.casefold()):
        assert text.casefold() not in surface
        assert not [w for w in abuse if w in surface]


WRITTEN = {
    "en": "Hello, I was charged twice for my order 5512 and I want to talk to a person please.",
    "es": "Hola, me han cobrado dos veces el pedido 5512 y quiero hablar con una persona.",
    "fr": "Bonjour, j'ai été débité deux fois pour ma commande 5512, je voudrais parler à un conseiller.",
    "de": "Hallo, mir wurde die Bestellung 5512 zweimal berechnet, ich möchte mit einem Mitarbeiter sprechen.",
    "pt": "Olá, fui cobrado duas vezes pelo pedido 5512 e quero falar com uma pessoa.",
    "it": "Buongiorno, mi avete addebitato due volte l'ordine 5512, vorrei parlare con una persona.",
    "nl": "Hallo, mijn bestelling 5512 is twee keer afgeschreven en ik wil graag iemand spreken.",
}


@pytest.mark.parametrize("lang", sorted(WRITTEN))
def test_language_is_detected_from_what_the_customer_wrote(lang):  # type: ignore[no-untyped-def]
    assert detect_language(WRITTEN[lang]).language == lang


@pytest.mark.parametrize("text", ["ok", "5512", "", "Thanks!", "agent"])
def test_too_little_text_names_no_language(text):  # type: ignore[no-untyped-def]
    assert detect_language(text).language is None


@pytest.mark.parametrize("lang", DRAFT_LANGUAGES)
@pytest.mark.parametrize("given_by", ["bot", "detected"])
def test_draft_is_in_the_conversations_language(lang, given_by):  # type: ignore[no-untyped-def]
    inputs = given(
        ("customer", WRITTEN[lang]),
        ("bot", "…"),
        ("customer", WRITTEN[lang]),
        language=lang if given_by == "bot" else None,
    )
    payload = build(inputs)
    assert payload.language is not None
    assert (payload.language.conversation, payload.language.source) == (lang, given_by)
    assert payload.language.draft == lang and payload.language.note is None
    draft = payload.draft_reply or ""
    assert line(lang, "no_repeat", "friendly") in draft
    assert "5512" in draft


def test_a_language_we_cannot_write_falls_back_to_english_and_says_so():
    payload = build(given(("customer", "Hej, jag vill prata med en människa nu"), language="sv"))
    assert payload.language is not None and payload.language.draft == "en"
    assert payload.language.note == "the draft is in English: we have no draft lines in 'sv'"
    assert (payload.draft_reply or "").startswith("Hi Sam,")


def test_every_written_line_keeps_the_guardrails_and_its_placeholders():
    from connector.payload import broken_guardrails

    guardrails = SETTINGS.policy.guardrails
    for lang in DRAFT_LANGUAGES:
        assert set(LINES[lang]) == set(LINES["en"]), lang
        for key in LINES[lang]:
            for tone in ("friendly", "formal"):
                text = line(lang, key, tone)
                assert not broken_guardrails(text, guardrails), (lang, key)
    for lang, lines in DEFAULT_MESSAGES.items():
        assert set(lines) == set(DEFAULT_MESSAGES["en"]), lang
        for key, text in lines.items():
            used = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            assert used == {
                f for _, f, _, _ in string.Formatter().parse(DEFAULT_MESSAGES["en"][key]) if f
            }, (lang, key)


def test_next_action_is_specific_and_names_the_facts_it_used():
    action = build(BROKEN).next_action
    assert action is not None
    assert action.action.startswith("Refund request for order 5512: ")
    assert "money back" in action.action  # what they asked for, in their words
    assert "apologise once" in action.action
    assert "order 5512" in action.reasoning and "refund" in action.reasoning
    assert "raised to high by rule frustrated" in action.reasoning


def test_the_customer_is_told_in_their_language_when_the_bot_does_not_say():
    body = {
        "id": "e1",
        "type": "conversation.updated",
        "occurred_at": NOW.isoformat(),
        "conversation": {"id": "c-es"},
        "customer": {"id": "cu", "name": "Lucía"},
        "messages": [
            {"id": "m1", "role": "customer", "text": "Hola, mi pedido 7781 llegó roto."},
            {"id": "m2", "role": "bot", "text": "Lo siento, ¿puede darme más detalles?"},
            {"id": "m3", "role": "customer", "text": "Quiero hablar con una persona, por favor."},
        ],
    }
    decided = decide_event("bot", Event.model_validate(body), Snapshot(None, []), SETTINGS, NOW)
    plan = plan_handoff(
        "bot",
        decided,
        History({}, 0),
        SETTINGS,
        handoff_id="ho_es",
        base_url="http://x",
        now=NOW,
    )
    assert plan.customer_message is not None and plan.customer_message.language == "es"
    assert plan.customer_message.text.startswith("Estoy pasando esta conversación")
    assert plan.handoff.payload["customer"]["language"] == "es"
    assert plan.handoff.payload["draft_reply"].startswith("Hola, Lucía: Lamento los problemas")


@pytest.mark.parametrize("lang", DRAFT_LANGUAGES)
def test_reminders_are_in_the_conversations_language(lang):  # type: ignore[no-untyped-def]
    routing = RoutingSettings()
    text, offered = customer_update_text(
        step=1, max_reminders=2, window_minutes=5, offer_callback=True, team="billing",
        routing=routing, language=lang,
    )  # fmt: skip
    assert not offered and text == DEFAULT_MESSAGES[lang]["reminder"].format(team="billing", wait=5)
    text, offered = customer_update_text(
        step=2, max_reminders=2, window_minutes=5, offer_callback=True, team="billing",
        routing=routing, language=lang,
    )  # fmt: skip
    assert offered and "billing" in text and "5" in text
    assert text == DEFAULT_MESSAGES[lang]["callback_offer"].format(team="billing", wait=5)
    text, offered = customer_update_text(
        step=2, max_reminders=2, window_minutes=5, offer_callback=True, team="billing",
        routing=routing, language=lang, later="Wed 2026-12-09 08:00 CET",
    )  # fmt: skip
    assert offered and "Wed 2026-12-09 08:00 CET" in text and "billing" in text
    assert text == DEFAULT_MESSAGES[lang]["callback_offer_later"].format(
        team="billing", callback_time="Wed 2026-12-09 08:00 CET"
    )


def test_a_configured_language_missing_a_line_uses_the_built_in_one():
    routing = RoutingSettings.model_validate(
        {"messages": {"en": DEFAULT_MESSAGES["en"], "es": {"wait": "{wait}", "on_call": "{wait}",
                                                           "unavailable": "{callback_time}"}}}
    )  # fmt: skip
    assert routing.message("es", "wait") == ("es", "{wait}")
    assert routing.message("es-MX", "reminder") == ("es", DEFAULT_MESSAGES["es"]["reminder"])
    assert routing.message("sv", "reminder") == ("en", DEFAULT_MESSAGES["en"]["reminder"])


@pytest.mark.parametrize(
    "text,facts",
    [
        ("My order 5512 arrived broken.", ["order 5512"]),
        ("I was charged twice for invoice INV-2291: 2 x $480 on March 3rd.", ["invoice INV-2291", "2 x $480", "March 3rd"]),
        ("Mi pedido 7781 llegó el 3 de marzo, pagué 120 €.", ["pedido 7781", "120 €", "3 de marzo"]),
        ("Meine Bestellung Nr. 99812 vom 2025-03-01 kam nie an.", ["Bestellung Nr. 99812", "2025-03-01"]),
        ("My Galaxy S21 stopped charging, ticket #44123.", ["ticket #44123", "Galaxy S21"]),
        ("Can you book it for 4:30 pm or 7pm tomorrow?", ["4:30 pm", "7pm"]),
        ("Hi, I need help please.", []),
    ],
)  # fmt: skip
def test_key_facts_are_kept_verbatim(text, facts):  # type: ignore[no-untyped-def]
    assert sorted(key_facts(text).all()) == sorted(facts)


def test_courtesy_is_not_a_better_mood():
    polite = classify_message("Can I talk to a real person please? I need this refunded.")
    plain = classify_message("Can I talk to a real person? I need this refunded.")
    assert polite.compound == plain.compound
    assert (
        classify_message("Por favor, necesito ayuda").compound
        == classify_message("Necesito ayuda").compound
    )


def test_a_complaint_followed_by_plain_facts_is_not_improving():
    messages = [
        Message(id="1", role="customer", text="I was overcharged and it's really annoying."),
        Message(id="2", role="customer", text="The invoice number is INV-2291."),
        Message(id="3", role="customer", text="Can I talk to a person please?"),
    ]
    assert conversation_sentiment(messages).trend == "steady"
    assert build(DOUBLE_CHARGE).sentiment.trend == "steady"  # type: ignore[union-attr]


def test_configured_drafts_per_language():
    from connector.policy_config import PayloadSettings

    settings = PayloadSettings(
        drafts={
            "general": "Looking now.",
            "es:general": "Lo miro ahora mismo.",
            "billing": "Bills!",
        }
    )
    spanish = given(("customer", WRITTEN["es"]), language="es")
    decision = decide(spanish, SETTINGS.policy)
    routing, _ = route(decision, spanish.customer, "es", SETTINGS.routing, NOW)
    from connector.payload import draft_from_template
    from connector.schemas import IntentInfo

    text = draft_from_template(
        spanish, routing.model_copy(update={"team": "general"}), IntentInfo(), [], settings
    )
    assert "Lo miro ahora mismo." in text
    # Spanish billing has no configured line: the built-in Spanish one, not the English "Bills!"
    text = draft_from_template(
        spanish, routing.model_copy(update={"team": "billing"}), IntentInfo(), [], settings
    )
    assert LINES["es"]["billing"] in text and "Bills!" not in text


def test_a_draft_key_in_a_language_we_do_not_write_fails_the_config_check():
    from pydantic import ValidationError

    from connector.policy_config import PayloadSettings

    with pytest.raises(ValidationError, match="'sv:general': drafts are written in en, es"):
        PayloadSettings(drafts={"general": "x", "sv:general": "y"})
