"""The widget's first screen for a bot that sends only its messages (no summary, no draft, no
language), in English and in Spanish, in a real browser against the real server.

It should read like a colleague's note: the customer's request with its order number, what the bot
tried, why a person is needed in plain words, a draft in the customer's language that does not
quote them, a next action naming the order. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests

from tests.helpers import API_KEY, dumps, event, signed_headers

CONVERSATIONS = {
    "en": [
        ("customer", "Hi, my order 5512 arrived broken and the screen is cracked."),
        ("bot", "I'm sorry to hear that! You can read about returns in our help centre."),
        ("customer", "I don't want to read anything. I want a replacement or my money back."),
        ("bot", "Sorry, I didn't understand. Could you rephrase?"),
        ("customer", "Useless.. let me talk to a person."),
    ],
    "es": [
        ("customer", "Hola, mi pedido 7781 llegó roto el 3 de marzo."),
        ("bot", "Lo siento mucho. ¿Puede contarme qué ha pasado?"),
        ("customer", "La pantalla está rota y pagué 120 €. Quiero que me devuelvan el dinero."),
        ("bot", "Perdone, no le he entendido. ¿Puede repetirlo de otra forma?"),
        ("customer", "Quiero hablar con una persona, por favor."),
    ],
}
EXPECTED = {
    "en": {
        "facts": ["order 5512"],
        "why": "asked for a person",
        "draft": "Hi Sam, I'm sorry about the trouble with order 5512.",
        "next": "order 5512",
    },
    "es": {
        "facts": ["pedido 7781", "3 de marzo", "120 €"],
        "why": "asked for a person",
        "draft": "Hola, Lucía: Lamento los problemas con pedido 7781.",
        "next": "pedido 7781",
    },
}
NAMES = {"en": "Sam Carter", "es": "Lucía Pérez"}


def escalate(live_server: str, lang: str) -> str:
    messages = [
        {"id": f"{lang}-m{i}", "role": role, "text": text}
        for i, (role, text) in enumerate(CONVERSATIONS[lang])
    ]
    body = event(f"conv-{lang}", f"evt-{lang}", messages=messages)
    body["conversation"] = {"id": f"conv-{lang}", "channel": "web"}  # the bot names no language
    body["customer"] = {"id": f"cus-{lang}", "name": NAMES[lang]}
    raw = dumps(body)
    answer = requests.post(
        f"{live_server}/v1/events", data=raw, headers=signed_headers(raw), timeout=10
    )
    assert answer.status_code == 200, answer.text
    handoff = answer.json()["handoff"]
    view = requests.get(
        f"{live_server}/v1/handoffs/{handoff['id']}",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=10,
    ).json()
    url = urlsplit(view["widget_url"])
    return f"{live_server}{url.path}?{url.query}"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_first_screen_reads_like_a_colleagues_note(browser, live_server, shot, lang):  # type: ignore[no-untyped-def]
    widget_url = escalate(live_server, lang)
    context = browser.new_context(viewport={"width": 400, "height": 900})
    page = context.new_page()
    response = page.goto(widget_url)
    assert response is not None and response.status == 200
    expected = EXPECTED[lang]

    summary = page.locator("#hw-summary").inner_text()
    assert summary.startswith("Customer: ")
    assert len(summary.split()) <= 80
    for fact in expected["facts"]:
        assert fact in summary, summary
    assert expected["why"] in summary and "Bot answered twice" in summary
    assert not re.search(r"[a-z]+_[a-z_]+|score|[.!?]{2,}", summary), summary
    assert "Useless" not in summary

    draft = page.locator("#hw-draft").input_value()
    assert draft.startswith(expected["draft"]), draft
    assert "Useless" not in draft and "“" not in draft
    assert expected["next"] in page.locator("#hw-next").inner_text()
    # the first screen: the summary and the draft are visible without scrolling
    for element in ("#hw-summary", "#hw-draft"):
        box = page.locator(element).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, element
    shot(page, f"widget-first-screen-{lang}")
    page.locator("#hw-next").scroll_into_view_if_needed()
    shot(page, f"widget-next-action-{lang}")
    context.close()
