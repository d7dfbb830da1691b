"""``docs/api.md``: its worked signatures are what the connector computes and accepts, and it
names every field of the inbound event."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector import security
from connector.app import create_app
from connector.config import load_config
from connector.runtime import build_runtime
from connector.schemas import BotContext, ConversationRef, Customer, Event, Message
from tests.helpers import Clock

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def _block(info: str, after: str) -> str:
    """The first fenced block with ``info`` after the text ``after``."""
    start = DOC.index(after)
    match = re.compile(rf"^```{info}\n(.*?)^```$", re.M | re.S).search(DOC, start)
    assert match, f"no ```{info} block after {after!r}"
    return match.group(1)


def _documented_header(after: str) -> tuple[int, str]:
    header = re.search(
        r"^X-Handoff-Signature: t=(\d+),v2=([0-9a-f]{64})$", _block("http", after), re.M
    )
    assert header, "no X-Handoff-Signature line"
    return int(header.group(1)), header.group(2)


def _v2(secret: str, body: bytes, t: int, method: str, path: str) -> str:
    signed = security.sign(secret, body, t, method=method, path=path)
    return dict(part.split("=", 1) for part in signed.split(","))["v2"]


SECRET = _block("", "The secret:").strip()
BODY = _block("json", "The body, exactly").rstrip("\n").encode()
POST_T, POST_V2 = _documented_header("The string to sign is")
GET_T, GET_V2 = _documented_header("## A body-less GET")
CONTROL = "/v1/conversations/conv-42/control"


def test_the_example_secret_is_the_documented_local_default() -> None:
    assert SECRET == load_config(None, env={}).sources["demo"].secret


def test_the_documented_post_signature_is_what_the_code_computes() -> None:
    assert f"exactly these {len(BODY)} bytes" in DOC
    assert f"`{POST_T}.POST./v1/events.` followed by those bytes" in DOC
    assert _v2(SECRET, BODY, POST_T, "POST", "/v1/events") == POST_V2
    Event.model_validate_json(BODY)  # and the example is a valid event


def test_the_documented_get_signature_signs_an_empty_body() -> None:
    assert f"{GET_T}.GET.{CONTROL}." in DOC
    assert _v2(SECRET, b"", GET_T, "GET", CONTROL) == GET_V2
    assert GET_T == POST_T


def test_the_shell_and_python_recipes_compute_the_same_mac() -> None:
    import hashlib
    import hmac

    message = f"{POST_T}.POST./v1/events.".encode() + BODY
    assert hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest() == POST_V2
    assert f"openssl dgst -sha256 -hmac {SECRET}" in DOC


def test_the_connector_accepts_the_documented_requests(tmp_path: Path) -> None:
    """The example config, a clock at the example's time: the bytes and headers of the page open a
    handoff, and the body-less GET reads its control."""
    settings = load_config(ROOT / "config.example.yaml", env={"HANDOFF_DB": str(tmp_path / "h.db")})
    runtime = build_runtime(settings, clock=Clock(datetime.fromtimestamp(POST_T, UTC)))
    try:
        client = create_app(runtime=runtime).test_client()
        posted = client.post(
            "/v1/events",
            data=BODY,
            headers={
                "Content-Type": "application/json",
                "X-Handoff-Source": "demo",
                "X-Handoff-Signature": f"t={POST_T},v2={POST_V2}",
            },
        )
        assert posted.status_code == 200, posted.json
        assert posted.json["handoff"]["status"] == "open"
        control = client.get(
            CONTROL,
            headers={"X-Handoff-Source": "demo", "X-Handoff-Signature": f"t={GET_T},v2={GET_V2}"},
        )
        assert control.status_code == 200, control.json
        assert control.json["owner"] == "pending_agent"
        tampered = client.get(
            "/v1/conversations/conv-43/control",
            headers={"X-Handoff-Source": "demo", "X-Handoff-Signature": f"t={GET_T},v2={GET_V2}"},
        )
        assert tampered.status_code == 401  # the path is signed
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "model,heading",
    [
        (Event, "### Top level"),
        (ConversationRef, "### `conversation`"),
        (Customer, "### `customer`"),
        (Message, "### `messages`"),
        (BotContext, "### `bot`"),
    ],
)
def test_every_field_of_the_event_is_written_out(model: type, heading: str) -> None:
    section = DOC[DOC.index(heading) :]
    section = section[: section.index("\n### ", 1)] if "\n### " in section[1:] else section
    rows = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert rows == set(model.model_fields), heading


def test_readme_and_the_landing_page_link_the_guide(client) -> None:  # type: ignore[no-untyped-def]
    assert "(docs/api.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'href="/docs/api.md"' in client.get("/").get_data(as_text=True)
    guide = client.get("/docs/api.md")
    assert guide.status_code == 200 and guide.mimetype == "text/markdown"
    assert guide.get_data(as_text=True) == DOC
