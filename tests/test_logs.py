"""Log lines carry their ids (text and JSON lines), one access line per request, never a key."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from connector import logs, service
from connector.schemas import Claim, Handback
from tests.helpers import API_KEY, event, post_event


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged at INFO and up, as the json format writes it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def parsed(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_handoff_lines_carry_their_ids_as_json(client, runtime, json_lines) -> None:  # type: ignore[no-untyped-def]
    handoff_id = post_event(client, event("conv-l1", "evt-l1")).json["handoff"]["id"]
    service.claim(runtime, handoff_id, Claim(actor="ann"))
    service.handback(runtime, handoff_id, Handback(actor="ann", note="sorted"))
    lines = {line["message"]: line for line in parsed(json_lines)}
    for message in ("handoff opened", "handoff claimed", "handoff handed back"):
        line = lines[message]
        assert (line["conversation"], line["handoff"], line["source"]) == (
            "conv-l1",
            handoff_id,
            "demo",
        )
        assert line["level"] == "INFO" and line["at"].endswith("+00:00")
    assert lines["handoff claimed"]["agent"] == "ann"


def test_access_log_line_per_request_without_the_query(client, json_lines) -> None:  # type: ignore[no-untyped-def]
    client.get(f"/dashboard?key={API_KEY}&since=7d")
    post_event(client, event("conv-l2", "evt-l2"))
    access = [line for line in parsed(json_lines) if line["logger"] == logs.ACCESS_LOGGER]
    assert [(a["method"], a["path"], a["status"]) for a in access] == [
        ("GET", "/dashboard", 200),
        ("POST", "/v1/events", 200),
    ]
    assert access[1]["source"] == "demo" and access[0]["duration_ms"] >= 0
    assert API_KEY not in json_lines.getvalue() and "since=" not in json_lines.getvalue()


@pytest.mark.parametrize(
    "extra,expected",
    [
        ({}, "m"),
        ({"handoff": "ho_1", "conversation": "c 1"}, 'm conversation="c 1" handoff=ho_1'),
        ({"destination": "zendesk", "unrelated": "x"}, "m destination=zendesk"),
    ],
    ids=["no-fields", "quoted", "known-fields-only"],
)
def test_text_format_appends_the_fields(extra: dict, expected: str) -> None:
    record = logging.LogRecord("connector.x", logging.INFO, __file__, 1, "m", None, None)
    record.__dict__.update(extra)
    assert logs.TextFormatter().format(record).split(" connector.x ", 1)[1] == expected


def test_configure_json_replaces_its_own_handler(capsys) -> None:  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    level = root.level
    try:
        logs.configure("INFO", "text")
        logs.configure("INFO", "json")
        assert sum(getattr(h, "_handoff", False) for h in root.handlers) == 1
        logging.getLogger("connector.t").info("hello", extra={"handoff": "ho_9"})
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert (line["message"], line["handoff"]) == ("hello", "ho_9")
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_handoff", False)]:
            root.removeHandler(handler)
        root.setLevel(level)
