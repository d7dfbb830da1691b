"""Signatures bind the request line (v2), v1 is still accepted unless refused, and a bot source
reads only its own conversations (issue 13, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector import security
from connector.app import create_app
from connector.errors import Unauthorized
from connector.runtime import build_runtime
from tests.helpers import API_KEY, SECRET, drain, event, make_settings, post_event, signed_headers

NOW = 1_800_000_000
GET_CONTROL = ("GET", "/v1/conversations/conv-1/control")


def header(
    *,
    v1: bool = True,
    v2: tuple[str, str] | None = GET_CONTROL,
    body: bytes = b"",
    secret: str = SECRET,
    t: int = NOW,
) -> str:
    """A signature header with the chosen values: ``v2`` signed for (method, path)."""
    full = (
        security.sign(secret, body, t, method=v2[0], path=v2[1])
        if v2
        else security.sign(secret, body, t)
    )
    parts = [p for p in full.split(",") if v1 or not p.startswith("v1=")]
    return ",".join(parts)


CASES = [
    # (id, header, verify(method, path), accept_v1, expected scheme or error slug)
    ("v2 for this request", header(), GET_CONTROL, True, "v2"),
    ("v2 alone", header(v1=False), GET_CONTROL, False, "v2"),
    (
        "v2 for another path",
        header(v2=("GET", "/v1/conversations/conv-2/control")),
        GET_CONTROL,
        True,
        "bad-signature",
    ),
    (
        "v2 for another method",
        header(v2=("POST", GET_CONTROL[1])),
        GET_CONTROL,
        True,
        "bad-signature",
    ),
    ("v2 over another body", header(body=b"{}"), GET_CONTROL, True, "bad-signature"),
    ("v2 with another secret", header(secret="another-secret"), GET_CONTROL, True, "bad-signature"),
    ("v1 alone, accepted", header(v2=None), GET_CONTROL, True, "v1"),
    ("v1 alone, refused", header(v2=None), GET_CONTROL, False, "v1-signature-refused"),
    (
        "v1 from another secret",
        header(v2=None, secret="another-secret"),
        GET_CONTROL,
        True,
        "bad-signature",
    ),
    ("stale", header(t=NOW - 301), GET_CONTROL, True, "stale-signature"),
    ("no value at all", f"t={NOW}", GET_CONTROL, True, "bad-signature"),
    ("only unknown schemes", f"t={NOW},v9=00", GET_CONTROL, True, "bad-signature"),
]


@pytest.mark.parametrize(
    ("signature", "request_line", "accept_v1", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_verify_judges_v2_by_the_request_line_and_v1_by_the_switch(
    signature: str, request_line: tuple[str, str], accept_v1: bool, expected: str
) -> None:
    method, path = request_line
    try:
        outcome = security.verify(
            SECRET,
            signature,
            b"",
            now=NOW,
            window=300,
            method=method,
            path=path,
            accept_v1=accept_v1,
        )
    except Unauthorized as exc:
        outcome = exc.slug
    assert outcome == expected


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://bot.example.com/hooks/handoff?x=1", "/hooks/handoff"),
        ("https://bot.example.com", "/"),
        ("http://127.0.0.1:9000/a%20b/c", "/a b/c"),
    ],
)
def test_url_path_is_what_the_receiving_server_routes(url: str, path: str) -> None:
    assert security.url_path(url) == path


def test_a_signed_control_read_cannot_be_replayed_on_another_conversation(client) -> None:  # type: ignore[no-untyped-def]
    for conversation in ("conv-1", "conv-2"):
        assert post_event(client, event(conversation, f"evt-{conversation}")).status_code == 200
    path = "/v1/conversations/conv-1/control"
    headers = signed_headers(b"", method="GET", path=path)
    assert client.get(path, headers=headers).json["owner"] == "pending_agent"
    stolen = client.get("/v1/conversations/conv-2/control", headers=headers)
    assert stolen.status_code == 401 and stolen.json["type"].endswith("/bad-signature")
    # the same signature does not open the send gate either (another method and path)
    reply = client.post("/v1/conversations/conv-1/bot-replies", headers=headers)
    assert reply.status_code == 401


def test_a_source_reads_only_its_own_conversations(tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, sources={"other": {"secret": "other-secret-456"}})
    runtime = build_runtime(settings, clock=clock)
    try:
        client = create_app(runtime=runtime).test_client()
        assert post_event(client, event()).status_code == 200
        path = "/v1/conversations/conv-1/control"
        mine = client.get(path, headers=signed_headers(b"", method="GET", path=path))
        assert mine.status_code == 200 and mine.json["owner"] == "pending_agent"
        theirs = client.get(
            path,
            headers=signed_headers(
                b"", source="other", secret="other-secret-456", method="GET", path=path
            ),
        )
        assert theirs.status_code == 404 and theirs.json["type"].endswith("/unknown-conversation")
        missing = client.get(
            "/v1/conversations/nope/control",
            headers=signed_headers(
                b"",
                source="other",
                secret="other-secret-456",
                method="GET",
                path="/v1/conversations/nope/control",
            ),
        )
        assert missing.json["detail"] == theirs.json["detail"].replace(
            "conv-1", "nope"
        )  # no oracle
        # agents and tools (API key) still read every conversation
        assert client.get(path, headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
    finally:
        runtime.close()


def test_a_source_can_refuse_v1(tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path, sources={"demo": {"secret": SECRET, "accept_v1_signatures": False}}
    )
    runtime = build_runtime(settings, clock=clock)
    try:
        client = create_app(runtime=runtime).test_client()
        refused = client.post("/v1/events", data=b"{}", headers=signed_headers(b"{}"))
        assert refused.status_code == 401 and refused.json["type"].endswith("/v1-signature-refused")
        assert "v2" in refused.json["detail"]
        assert post_event(client, event()).status_code == 200  # v2 (post_event signs the path)
    finally:
        runtime.close()


def test_callbacks_carry_v2_over_the_callback_path_beside_v1(
    client, worker, receiver, runtime
) -> None:  # type: ignore[no-untyped-def]
    assert post_event(client, event()).status_code == 200
    drain(worker)
    [callback] = receiver.accepted()
    signature, raw = callback["headers"][security.SIGNATURE_HEADER], callback["raw"]
    now = runtime.now().timestamp()
    assert callback["path"] == "/callbacks"  # the receiver's URL: what v2 binds
    assert (
        security.verify(
            SECRET,
            signature,
            raw,
            now=now,
            window=300,
            method="POST",
            path="/callbacks",
            accept_v1=False,
        )
        == "v2"
    )
    assert security.verify(SECRET, signature, raw, now=now, window=300) == "v1"  # v1-only receivers
    with pytest.raises(Unauthorized):
        security.verify(SECRET, signature, raw, now=now, window=300, method="POST", path="/other")
