"""The live view in a real browser: two agents on one handoff, a conversation in the same thread.

Two browser contexts (two agents) open the widget of one handoff. Mia takes over: Sam's page says
so, and disables Take over, without a reload and within 2 s. Mia inserts the draft into the reply
box and sends it, then writes once more; the bot's callback receiver gets both ``agent.message``s,
once each and in order. The customer answers through the bot: Mia's page shows the turn live.
Mia hands back: the outcome comes first and the draft is read-only.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.helpers import API_KEY, drain, dumps, event, signed_headers

KEY = {"X-API-Key": API_KEY}
DRAFT = "Hi Ada, I'm Mia from support: I can see order 881, so you won't need to repeat anything."


def post(live_server: str, body: dict[str, Any]) -> dict[str, Any]:
    raw = dumps(body)
    answer = requests.post(
        f"{live_server}/v1/events", data=raw, headers=signed_headers(raw), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def widget_for(live_server: str, handoff_id: str, agent: str) -> str:
    session = requests.post(
        f"{live_server}/v1/widget/sessions",
        json={"handoff_id": handoff_id, "agent": agent},
        headers=KEY,
        timeout=10,
    )
    assert session.status_code == 200, session.text
    url = urlsplit(session.json()["widget_url"])
    return f"{live_server}{url.path}?{url.query}"


def test_two_agents_see_the_claim_live_and_the_owner_talks_to_the_customer(  # type: ignore[no-untyped-def]
    browser, live_server, runtime, worker, receiver, shot
):
    handoff_id = post(
        live_server, event(bot={"summary": "Order 881 never arrived.", "draft_reply": DRAFT})
    )["handoff"]["id"]
    pages = {}
    for agent in ("mia", "sam"):
        context = browser.new_context(viewport={"width": 360, "height": 900})
        page = context.new_page()
        page.goto(widget_for(live_server, handoff_id, agent))
        page.locator("#hw-claim button[type=submit]").wait_for()
        pages[agent] = page
    mia, sam = pages["mia"], pages["sam"]
    # the action bar comes before the summary; nothing to hand back before someone owns it
    assert mia.evaluate(
        "() => document.getElementById('hw-actions').compareDocumentPosition("
        "document.getElementById('hw-summary')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert mia.locator("#hw-handback").count() == 0
    for page in pages.values():  # both pages are live (their stream answered) before the claim
        page.locator("[data-hw][data-live=on]").wait_for()

    mia.locator("#hw-claim button[type=submit]").click()
    claimed = time.monotonic()
    sam.locator("#hw-owner", has_text="With mia").wait_for(timeout=2000)
    sam.locator("#hw-action-status", has_text="mia took this conversation over").wait_for(
        timeout=2000
    )
    assert time.monotonic() - claimed < 2.0
    assert sam.locator("#hw-claim button[type=submit]").is_disabled()
    assert sam.locator("#hw-reply").count() == 0  # the reply box is the owner's only
    shot(sam, "live-second-agent-sees-the-claim", full_page=True)

    # Mia's page reloaded as the owner: Insert puts the draft into the reply box; Reply sends it
    mia.locator("#hw-reply").wait_for()
    mia.locator("#hw-insert").click()
    assert mia.locator("#hw-reply-text").input_value() == DRAFT
    mia.locator("#hw-reply button[type=submit]").click()
    mia.locator("#hw-action-status", has_text="Sent to the customer").wait_for()
    mia.locator("#hw-reply-text").fill("The carrier confirms it arrives tomorrow.")
    mia.locator("#hw-reply button[type=submit]").click()
    mia.locator("#hw-turns li", has_text="arrives tomorrow").wait_for(timeout=2000)

    drain(worker)
    relayed = [r["json"] for r in receiver.accepted() if r["json"]["type"] == "agent.message"]
    assert [m["text"] for m in relayed] == [DRAFT, "The carrier confirms it arrives tomorrow."]
    assert {m["author"]["name"] for m in relayed} == {"mia"}
    with runtime.store.reading() as tx:
        used = [e["action"] for e in tx.list_draft_events(handoff_id)]
    assert used == ["inserted", "sent_unedited"]

    # the customer answers through the bot: Mia sees it without a reload
    post(
        live_server,
        event(
            event_id="e2", messages=[{"id": "e2-1", "role": "customer", "text": "Perfect, thanks!"}]
        ),
    )
    mia.locator("#hw-turns li", has_text="Perfect, thanks!").wait_for(timeout=2000)

    # hand back: the outcome is first, the draft read-only, and relaying ends
    mia.locator("#hw-note").fill("Delivery confirmed for tomorrow.")
    mia.locator("#hw-handback button[type=submit]").click()
    mia.locator("#hw-owner", has_text="Handed back to the bot").wait_for()
    # the page reloads after the handback (the live update may show it first): read it once the
    # reloaded page is in place, with locators that wait, not a one-shot evaluate
    from playwright.sync_api import expect  # installed with the browser tests' extra

    mia.wait_for_load_state()
    expect(mia.locator(".hw-card").first).to_have_id("hw-outcome")
    expect(mia.locator("#hw-draft")).to_have_attribute("readonly", re.compile(".*"))
    late = requests.post(
        f"{live_server}/v1/handoffs/{handoff_id}/messages",
        json={"text": "x", "actor": "mia"},
        headers=KEY,
        timeout=10,
    )
    assert late.status_code == 409
    for page in pages.values():
        page.context.close()
