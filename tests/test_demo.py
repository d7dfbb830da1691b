"""``handoff demo`` against a live connector: the escalation it prints, and its one-line errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from click.testing import CliRunner

from connector.cli import main
from tests.helpers import SECRET


def demo_config(tmp_path: Path, secret: str = SECRET) -> str:
    path = tmp_path / "demo.yaml"
    path.write_text(
        json.dumps(
            {"store": {"path": str(tmp_path / "demo.db")}, "sources": {"demo": {"secret": secret}}}
        )
    )
    return str(path)


def test_demo_escalates_on_a_live_connector(tmp_path, live_server):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        main, ["demo", "--config", demo_config(tmp_path), "--url", live_server]
    )
    assert result.exit_code == 0, result.output
    assert "escalate=True" in result.output and "reason: human_request" in result.output
    assert f"inbox: {live_server}/inbox/ho_" in result.output


def test_demo_errors_are_one_line(tmp_path, live_server):  # type: ignore[no-untyped-def]
    wrong = CliRunner().invoke(
        main, ["demo", "--config", demo_config(tmp_path, "not-the-secret"), "--url", live_server]
    )
    assert wrong.exit_code == 1
    assert wrong.output.strip().startswith("error: the connector answered 401: ")
    assert len(wrong.output.strip().splitlines()) == 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once the socket closes
    down = CliRunner().invoke(main, ["demo", "--config", demo_config(tmp_path), "--url", closed])
    assert down.exit_code == 1
    assert down.output.strip() == (
        f"error: cannot reach the connector at {closed}: ConnectionError "
        "(is `handoff serve` running?)"
    )
    unknown = CliRunner().invoke(
        main, ["demo", "--config", demo_config(tmp_path), "--source", "nope"]
    )
    assert unknown.exit_code == 1 and "no bot source 'nope'" in unknown.output
