"""The widget in a real browser (system Chromium), against the real server on a socket.

One escalation is walked through the widget as an agent would: framed by a stand-in helpdesk on
another origin, read the summary, Copy and Insert the draft (the host inserts it and the draft
events are recorded), send an edited reply, Take over (the bot's send gate then answers 409) and
Hand back with a note (the bot's callback arrives at a real HTTP receiver). At 320 px nothing
scrolls sideways. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import requests

from tests.helpers import API_KEY, drain, dumps, event, signed_headers

DRAFT = "Hi Ada, I'm sorry order 881 hasn't arrived. I've asked the carrier for an update."

HOST_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Helpdesk stand-in</title>
<style>body{margin:0;display:flex;font:14px sans-serif}#ticket{flex:1;padding:12px}
iframe{width:320px;height:1500px;border:0;border-left:1px solid #ccc}</style></head>
<body><div id="ticket"><h1>Ticket #42</h1><label for="reply">Reply</label><br>
<textarea id="reply" rows="8" cols="40"></textarea><br><button id="send">Send</button></div>
<iframe id="widget" title="Handoff widget" allow="clipboard-write" src="%(src)s"></iframe>
<script>
const WIDGET_ORIGIN = %(widget_origin)s;
const frame = document.getElementById("widget");
window.received = [];
function reply(msg) {
  frame.contentWindow.postMessage(Object.assign({source: "handoff-host", version: 1}, msg), WIDGET_ORIGIN);
}
window.addEventListener("message", (e) => {
  if (e.origin !== WIDGET_ORIGIN || e.source !== frame.contentWindow) return;
  const m = e.data;
  if (!m || m.source !== "handoff-widget") return;
  window.received.push(m.type);
  if (m.type === "ready") reply({type: "context", agent: {name: "agent.mia"}, capabilities: ["insert"]});
  if (m.type === "insert") {
    document.getElementById("reply").value += m.text;
    reply({type: "insert.result", request_id: m.request_id, ok: true});
  }
});
document.getElementById("send").onclick = () =>
  reply({type: "reply.sent", text: document.getElementById("reply").value});
</script></body></html>"""


def escalate(live_server: str) -> tuple[str, str]:
    body = event(
        bot={
            "summary": "Order 881 never arrived; Ada wants a person.",
            "draft_reply": DRAFT,
            "next_action": "Ask the carrier for a trace",
            "citations": [{"title": "Lost parcels", "url": "https://help.example.com/lost"}],
        }
    )
    raw = dumps(body)
    answer = requests.post(
        f"{live_server}/v1/events", data=raw, headers=signed_headers(raw), timeout=10
    )
    assert answer.status_code == 200, answer.text
    handoff = answer.json()["handoff"]
    # the bot's answer carries no widget token: an agent's back-end asks for the link with its key
    view = requests.get(
        f"{live_server}/v1/handoffs/{handoff['id']}",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=10,
    ).json()
    url = urlsplit(view["widget_url"])  # the configured base URL: swap in the live server's
    return handoff["id"], f"{live_server}{url.path}?{url.query}"


def no_sideways_scroll(frame) -> bool:  # type: ignore[no-untyped-def]
    return frame.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_agent_walks_a_handoff_through_the_widget(
    browser,
    live_server,
    host_page,
    runtime,
    worker,  # type: ignore[no-untyped-def]
    receiver,
    shot,
):
    started = time.monotonic()
    handoff_id, widget_url = escalate(live_server)
    runtime.settings.widget.frame_ancestors = [host_page.origin]
    host_page.html = HOST_HTML % {
        "src": f"{widget_url}&host_origin={host_page.origin}",
        "widget_origin": json.dumps(live_server),
    }
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(host_page.origin)
    widget = page.frame_locator("#widget")

    # the summary comes first and is readable
    assert (
        widget.locator("#hw-summary").inner_text() == "Order 881 never arrived; Ada wants a person."
    )
    assert widget.locator("#hw-owner").inner_text() == "Waiting for an agent"
    assert (
        widget.locator(".hw-citations a").first.get_attribute("href")
        == "https://help.example.com/lost"
    )
    # the host's context enabled Insert and filled in the agent's name
    insert = widget.locator("#hw-insert")
    insert.wait_for(state="visible")
    page.wait_for_function("() => window.received.includes('ready')")
    widget.locator("#hw-insert:not([disabled])").wait_for()
    assert widget.locator("#hw-claim-actor").input_value() == "agent.mia"

    frame = page.frame(url=lambda u: "/widget/handoffs/" in u)
    assert frame is not None and no_sideways_scroll(frame)
    shot(page, "widget-in-host-320px", full_page=True)

    widget.locator("#hw-copy").click()
    widget.locator("#hw-draft-status", has_text="Copied").wait_for()
    insert.click()
    widget.locator("#hw-draft-status", has_text="Inserted into the reply").wait_for()
    assert page.locator("#reply").input_value() == DRAFT
    page.locator("#reply").fill(DRAFT + " Thanks!")
    page.locator("#send").click()

    def draft_events() -> list[dict]:
        with runtime.store.reading() as tx:
            return tx.list_draft_events(handoff_id)

    deadline = time.monotonic() + 5
    while len(draft_events()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    events = draft_events()
    assert [(e["action"], e["edit_distance"], e["via"]) for e in events] == [
        ("copied", 0, "widget"),
        ("inserted", 0, "widget"),
        ("sent_edited", len(" Thanks!"), "widget"),
    ]
    assert events[0]["actor"] == "agent.mia"

    # Take over: control moves to the agent, and the bot's send gate now refuses
    widget.locator("#hw-claim button[type=submit]").click()
    widget.locator("#hw-owner", has_text="With agent.mia").wait_for()
    control = requests.get(
        f"{live_server}/v1/conversations/conv-1/control", headers={"X-API-Key": API_KEY}, timeout=10
    ).json()
    assert control["owner"] == "agent"
    raw = dumps({"text": "Anything else?"})
    gate = requests.post(
        f"{live_server}/v1/conversations/conv-1/bot-replies",
        data=raw,
        headers=signed_headers(raw),
        timeout=10,
    )
    assert gate.status_code == 409 and gate.json()["type"].endswith("/agent-owns-conversation")
    shot(page, "widget-after-take-over", full_page=True)

    # Hand back: the note is required
    widget.locator("#hw-handback button[type=submit]").click()
    assert widget.locator("#hw-note").evaluate("el => el.matches(':invalid')")
    widget.locator("#hw-note").fill("Carrier trace opened; refund if not found by Friday.")
    widget.locator("#hw-resolution").select_option("partially_resolved")
    widget.locator("#hw-resume").fill("confirm_resolution")
    widget.locator("#hw-handback button[type=submit]").click()
    widget.locator("#hw-owner", has_text="Handed back to the bot").wait_for()
    shot(page, "widget-handed-back", full_page=True)

    drain(worker)
    handed = [
        r["json"] for r in receiver.accepted() if r["json"]["type"] == "conversation.handed_back"
    ]
    assert handed and handed[0]["note"] == "Carrier trace opened; refund if not found by Friday."
    assert (
        handed[0]["resolution"] == "partially_resolved"
        and handed[0]["resume_hint"] == "confirm_resolution"
    )
    assert handed[0]["actor"] == "agent.mia"
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()
    assert time.monotonic() - started < 60


def test_widget_alone_at_320px_is_keyboard_usable(browser, live_server, shot):  # type: ignore[no-untyped-def]
    handoff_id, widget_url = escalate(live_server)
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    response = page.goto(widget_url)
    assert response is not None and response.status == 200
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert page.locator("#hw-summary").is_visible()
    assert no_sideways_scroll(page)
    # without a host there is nothing to insert into: Insert says so and stays disabled
    assert page.locator("#hw-insert").is_disabled()
    # keyboard: from the draft, Tab reaches Copy; Enter copies
    page.locator("#hw-draft").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "hw-copy"
    # every form control has a label
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.id)""")
    assert unlabelled == []
    page.locator("details.hw-transcript summary").click()
    assert no_sideways_scroll(page)
    shot(page, "widget-320px", full_page=True)
    context.close()


def test_an_unlisted_helpdesk_cannot_frame_the_widget(browser, live_server, host_page, runtime):  # type: ignore[no-untyped-def]
    handoff_id, widget_url = escalate(live_server)
    runtime.settings.widget.frame_ancestors = ["https://*.zendesk.com"]
    host_page.html = HOST_HTML % {"src": widget_url, "widget_origin": json.dumps(live_server)}
    context = browser.new_context()
    page = context.new_page()
    page.goto(host_page.origin)
    page.wait_for_timeout(300)
    framed = page.frame(url=lambda u: "/widget/handoffs/" in u)
    if framed is not None:  # Chromium keeps the URL but shows nothing from it
        assert framed.locator("#hw-summary").count() == 0
    context.close()


def test_console_lists_handoffs_beside_the_widget(browser, live_server, shot):  # type: ignore[no-untyped-def]
    handoff_id, _ = escalate(live_server)
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server}/inbox?key={API_KEY}")
    assert page.locator(".hc-item").count() == 1
    assert page.locator("aside #hw-summary").inner_text().startswith("Order 881")
    page.locator("aside #hw-claim-actor").fill("agent.kim")
    page.locator("aside #hw-claim button[type=submit]").click()
    page.locator("aside #hw-owner", has_text="With agent.kim").wait_for()
    page.get_by_role("link", name="With agent").click()
    assert page.locator(".hc-item").count() == 1
    page.get_by_role("link", name="Open", exact=True).click()
    assert page.locator(".hc-empty").first.inner_text() == "No handoffs here."
    page.get_by_role("link", name="With agent").click()
    shot(page, "console", full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    assert no_sideways_scroll(page)
    context.close()
