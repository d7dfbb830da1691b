"""Every HTML page is never sniffed, framed only where meant to be, and not cached when it carries keys."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from connector.report import build_report, render_html
from tests.helpers import API_KEY, event, post_event


def _directives(csp: str) -> dict[str, str]:
    return dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())  # type: ignore[misc]


@pytest.fixture
def pages(client, runtime):  # type: ignore[no-untyped-def]
    runtime.settings.widget.frame_ancestors = ["https://*.zendesk.com"]
    handoff = post_event(client, event()).json["handoff"]
    widget = urlsplit(
        client.get(
            f"/v1/handoffs/{handoff['id']}", headers={"Authorization": f"Bearer {API_KEY}"}
        ).json["widget_url"]
    )
    return {
        "inbox": (f"/inbox?key={API_KEY}", "'self'"),
        "inbox-item": (f"/inbox/{handoff['id']}?key={API_KEY}", "'self'"),
        "widget": (f"{widget.path}?{widget.query}", "'self' https://*.zendesk.com"),
        "dashboard": (f"/dashboard?key={API_KEY}", "'none'"),
    }


@pytest.mark.parametrize("name", ["inbox", "inbox-item", "widget", "dashboard"])
def test_every_html_page_sends_the_security_headers(client, pages, name) -> None:  # type: ignore[no-untyped-def]
    url, ancestors = pages[name]
    page = client.get(url)
    assert page.status_code == 200 and page.mimetype == "text/html"
    directives = _directives(page.headers["Content-Security-Policy"])
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == ancestors
    assert "script-src" not in directives or "unsafe" not in directives["script-src"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"  # each of these URLs carries a key or token


def test_json_answers_are_nosniff_too(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").headers["X-Content-Type-Options"] == "nosniff"
    assert (
        client.get("/v1/handoffs").headers["X-Content-Type-Options"] == "nosniff"
    )  # a 401 problem


def test_the_report_file_carries_its_own_policy(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    now = runtime.now()
    html = render_html(
        build_report(runtime.store, now.replace(year=now.year - 1), now), generated_at=now
    )
    head = html.split("</head>")[0]
    assert '<meta http-equiv="Content-Security-Policy"' in head and "default-src 'none'" in head
    assert "<script" not in html
