"""Agent alerts over real sockets: Slack and a signed webhook to an HTTP receiver, e-mail to aiosmtpd."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from connector import security
from connector.alerts import alert_body
from connector.app import create_app
from connector.delivery import Worker
from connector.runtime import Runtime, build_runtime
from integrations.alerts import SlackNotifier
from tests.helpers import SECRET, Receiver, drain, event, make_settings, post_event

ALERT_SECRET = "alert-secret-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps what it receives and can refuse recipients."""

    def __init__(self) -> None:
        self.messages: list = []
        self.rcpt_reply: str | None = None  # e.g. "550 5.1.1 no such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]  # noqa: N802
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.messages.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def hook() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def alert_runtime(tmp_path: Path, callback_url: str, clock, channels: dict) -> Runtime:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, callback_url=callback_url, alerts={"channels": channels})
    return build_runtime(settings, clock=clock)


def escalate(runtime: Runtime) -> str:
    client = create_app(runtime=runtime).test_client()
    answer = post_event(client, event()).json
    return str(answer["handoff"]["id"])


def alert_rows(runtime: Runtime) -> list:
    with runtime.store.reading() as tx:
        return [r for r in tx.list_outbox() if r.kind == "alert"]


def test_slack_blocks_carry_summary_reason_team_and_link(tmp_path, receiver, hook, clock):  # type: ignore[no-untyped-def]
    runtime = alert_runtime(
        tmp_path,
        receiver.url,
        clock,
        {
            "slack": {
                "type": "slack",
                "webhook_url": hook.url,
                "events": ["handoff.opened", "reminder"],
            }
        },
    )
    try:
        handoff_id = escalate(runtime)
        drain(Worker(runtime, concurrency=1, worker_id="w"))
        [request] = hook.accepted()
        body = request["json"]
        assert request["headers"]["Content-Type"] == "application/json"
        header, summary, facts, actions = body["blocks"]
        assert (
            header["type"] == "header"
            and header["text"]["text"] == "New handoff waiting for an agent"
        )
        assert summary["text"]["type"] == "mrkdwn" and summary["text"]["text"]
        fields = " ".join(f["text"] for b in body["blocks"] if "fields" in b for f in b["fields"])
        assert "*Reason*" in fields and "human_request" in fields and "*Team*" in fields
        assert facts["type"] == "section" and actions["type"] == "actions"
        assert actions["elements"][0]["url"] == f"{runtime.base_url}/inbox/{handoff_id}"
        assert SECRET not in request["raw"].decode()
    finally:
        runtime.close()


def test_slack_text_is_escaped():
    alert = {
        "title": "t",
        "summary": "<script> & <@here>",
        "reason": "a<b",
        "team": "x",
        "priority": "high",
        "link": None,
    }
    built = SlackNotifier.build(alert)
    text = built["blocks"][1]["text"]["text"]
    assert text == "&lt;script&gt; &amp; &lt;@here&gt;"
    assert "a&lt;b" in built["blocks"][2]["fields"][0]["text"]


def test_signed_webhook_alert_on_reminder(tmp_path, receiver, hook, clock):  # type: ignore[no-untyped-def]
    runtime = alert_runtime(
        tmp_path,
        receiver.url,
        clock,
        {"ops": {"type": "webhook", "url": hook.url, "secret": ALERT_SECRET}},
    )
    try:
        worker = Worker(runtime, concurrency=1, worker_id="w")
        handoff_id = escalate(runtime)
        drain(worker)
        assert hook.accepted() == []  # handoff.opened is not in the default events
        clock.advance(601)
        drain(worker)
        [request] = hook.accepted()
        headers = request["headers"]
        security.verify(
            ALERT_SECRET,
            headers["X-Handoff-Signature"],
            request["raw"],
            now=int(__import__("time").time()),
            window=300,
        )
        assert headers["X-Handoff-Event"] == "alert.reminder"
        body = request["json"]
        assert body["type"] == "alert.reminder" and body["handoff_id"] == handoff_id
        assert body["waited_minutes"] == 10 and body["reminder"] == 1
        assert body["id"] == headers["X-Handoff-Delivery"]
    finally:
        runtime.close()


def test_email_alert_has_text_and_html(tmp_path, receiver, mailbox, clock):  # type: ignore[no-untyped-def]
    box, port = mailbox
    runtime = alert_runtime(
        tmp_path,
        receiver.url,
        clock,
        {
            "mail": {
                "type": "email",
                "host": "127.0.0.1",
                "port": port,
                "from_address": "handoff@example.com",
                "to": ["leads@example.com", "oncall@example.com"],
                "events": ["handoff.opened"],
            }
        },
    )
    try:
        handoff_id = escalate(runtime)
        drain(Worker(runtime, concurrency=1, worker_id="w"))
        [envelope] = box.messages
        assert envelope.mail_from == "handoff@example.com"
        assert envelope.rcpt_tos == ["leads@example.com", "oncall@example.com"]
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert message["Subject"].startswith("[handoff] New handoff waiting for an agent")
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert f"/inbox/{handoff_id}" in text and f"/inbox/{handoff_id}" in html
        assert "Reason:" in text and "<table>" in html
        [row] = alert_rows(runtime)
        assert row.status == "done" and row.result == {"accepted": 2, "refused": []}
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "reply,status",
    [("550 5.1.1 no such user", "dead"), ("451 4.3.0 try later", "pending")],
    ids=["smtp-550-permanent", "smtp-451-transient"],
)
def test_smtp_refusals(tmp_path, receiver, mailbox, clock, reply, status):  # type: ignore[no-untyped-def]
    box, port = mailbox
    box.rcpt_reply = reply
    runtime = alert_runtime(
        tmp_path,
        receiver.url,
        clock,
        {
            "mail": {
                "type": "email",
                "host": "127.0.0.1",
                "port": port,
                "from_address": "h@example.com",
                "to": ["x@example.com"],
                "events": ["handoff.opened"],
            }
        },
    )
    try:
        escalate(runtime)
        drain(Worker(runtime, concurrency=1, worker_id="w"))
        [row] = alert_rows(runtime)
        assert row.status == status and reply.split()[0] in row.last_error
    finally:
        runtime.close()


def test_smtp_connection_refused_is_retried(tmp_path, receiver, clock):  # type: ignore[no-untyped-def]
    runtime = alert_runtime(
        tmp_path,
        receiver.url,
        clock,
        {
            "mail": {
                "type": "email",
                "host": "127.0.0.1",
                "port": free_port(),
                "from_address": "h@example.com",
                "to": ["x@example.com"],
                "events": ["handoff.opened"],
            }
        },
    )
    try:
        escalate(runtime)
        drain(Worker(runtime, concurrency=1, worker_id="w"))
        [row] = alert_rows(runtime)
        assert row.status == "pending" and "SMTP failed" in row.last_error
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "status,headers,expected",
    [
        (500, {}, "pending"),
        (429, {"Retry-After": "30"}, "pending"),
        (404, {}, "dead"),
        (403, {}, "dead"),
    ],
    ids=["500", "429-retry-after", "404", "403"],
)
def test_slack_failures_take_the_shared_retry_path(
    tmp_path, receiver, hook, clock, status, headers, expected
):  # type: ignore[no-untyped-def]
    hook.responses = [(status, headers)]
    runtime = alert_runtime(
        tmp_path,
        receiver.url,
        clock,
        {"slack": {"type": "slack", "webhook_url": hook.url, "events": ["handoff.opened"]}},
    )
    try:
        worker = Worker(runtime, concurrency=1, worker_id="w")
        escalate(runtime)
        drain(worker)
        [row] = alert_rows(runtime)
        assert row.status == expected and f"HTTP {status}" in row.last_error
        if status == 429:
            assert row.next_attempt_at == pytest.approx(clock.now.timestamp() + 30)
            clock.advance(31)
            drain(worker)
            assert alert_rows(runtime)[0].status == "done"
        if expected == "dead":
            with runtime.store.reading() as tx:
                assert "alert.dead_letter" in [a.action for a in tx.list_audit()]
    finally:
        runtime.close()


def test_dead_letters_raise_an_alert_and_teams_filter_channels(tmp_path, receiver, hook, clock):  # type: ignore[no-untyped-def]
    receiver.responses = [(401, {})]  # the bot callback is refused for good
    runtime = alert_runtime(
        tmp_path,
        receiver.url,
        clock,
        {
            "ops": {
                "type": "webhook",
                "url": hook.url,
                "secret": ALERT_SECRET,
                "events": ["dead_letter"],
            },
            "other-team": {
                "type": "slack",
                "webhook_url": hook.url,
                "events": ["dead_letter", "handoff.opened"],
                "teams": ["partners"],
            },
        },
    )
    try:
        escalate(runtime)
        drain(Worker(runtime, concurrency=1, worker_id="w"))
        [request] = hook.accepted()
        assert request["json"]["type"] == "alert.dead_letter"
        assert (
            "callback to demo" in request["json"]["reason"]
            and "HTTP 401" in request["json"]["reason"]
        )
    finally:
        runtime.close()


def test_alert_body_without_a_handoff(clock):  # type: ignore[no-untyped-def]
    body = alert_body(
        "dead_letter", None, base_url="http://x", reason="r", now=clock.now, conversation_id="c"
    )
    assert body["link"] is None and body["conversation_id"] == "c" and body["summary"] == ""


@pytest.mark.parametrize(
    "channel,expected",
    [
        ({"type": "pager"}, "alerts.channels.x: Input tag 'pager'"),
        ({"type": "slack"}, "alerts.channels.x.webhook_url: required key is missing"),
        ({"type": "slack", "webhook_url": "ftp://x"}, "must be an http:// or https:// URL"),
        (
            {"type": "email", "host": "h", "from_address": "a@b", "to": []},
            "alerts.channels.x.to",
        ),
        (
            {"type": "webhook", "url": "http://x", "secret": "short"},
            "alerts.channels.x.secret",
        ),
        (
            {"type": "slack", "webhook_url": "http://x", "events": ["lunch"]},
            "alerts.channels.x.events[0]",
        ),
        (
            {"type": "slack", "webhook_url": "http://x", "teams": ["ghosts"]},
            "alerts.channels.x.teams[0]: unknown team",
        ),
    ],
    ids=[
        "unknown-type",
        "missing-url",
        "bad-url",
        "no-recipients",
        "short-secret",
        "bad-event",
        "unknown-team",
    ],
)
def test_bad_alert_config_names_the_key(tmp_path, channel, expected):  # type: ignore[no-untyped-def]
    from connector.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        make_settings(tmp_path, alerts={"channels": {"x": channel}})
    assert any(expected in line for line in info.value.lines()), info.value.lines()
