"""Guessing API keys: throttled per client address (429 + Retry-After), logged without the key, counted."""

from __future__ import annotations

import logging
import subprocess
import threading

import pytest
import requests

from connector import serving
from connector.app import create_app
from connector.config import load_config
from connector.runtime import build_runtime
from connector.throttle import AuthThrottle
from tests.helpers import API_KEY, Clock, event, make_settings, post_event, stop_waitress
from tests.test_cli_e2e import HANDOFF, free_port
from tests.test_config import EXAMPLE

WRONG = "wrong-key-0123456789-abcdefghij"

# (seconds, action) -> expected: "fail" returns whether it throttled; "wait" returns retry_after
STEPS = {
    "below-the-limit": ([(0, "fail"), (1, "fail"), (2, "wait")], [False, False, None]),
    "third-failure-throttles": (
        [(0, "fail"), (1, "fail"), (2, "fail"), (2, "wait")],
        [False, False, True, 58],
    ),
    "one-second-left": (
        [(0, "fail"), (1, "fail"), (2, "fail"), (59, "wait")],
        [False, False, True, 1],
    ),
    "free-when-retry-after-said": (
        [(0, "fail"), (1, "fail"), (2, "fail"), (60, "wait")],
        [False, False, True, None],
    ),
    "old-failures-forgotten": (
        [(0, "fail"), (1, "fail"), (70, "fail"), (70, "wait")],
        [False, False, False, None],
    ),
}


@pytest.mark.parametrize(("steps", "expected"), STEPS.values(), ids=STEPS.keys())
def test_throttle_window(steps, expected) -> None:  # type: ignore[no-untyped-def]
    throttle = AuthThrottle(max_failures=3, window_seconds=60)
    got = [
        throttle.failed("10.0.0.1", t) if action == "fail" else throttle.retry_after("10.0.0.1", t)
        for t, action in steps
    ]
    assert got == expected
    assert throttle.retry_after("10.0.0.2", steps[-1][0]) is None  # per address


def test_wrong_keys_are_throttled_logged_and_counted(client, runtime, clock: Clock, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger="connector.throttle")
    limit = runtime.settings.security.auth_max_failures
    for _ in range(limit):
        assert client.get("/v1/handoffs", headers={"X-API-Key": WRONG}).status_code == 401
    held = client.get(
        "/v1/handoffs", headers={"X-API-Key": API_KEY}
    )  # even the right key waits now
    assert held.status_code == 429 and held.mimetype == "application/problem+json"
    assert (
        held.json["type"].endswith("/too-many-auth-failures")
        and held.headers["Retry-After"] == "60"
    )
    assert client.get(f"/inbox?key={WRONG}").status_code == 429  # a key in the query counts too
    other = client.get(
        "/v1/handoffs", headers={"X-API-Key": API_KEY}, environ_base={"REMOTE_ADDR": "10.9.9.9"}
    )
    assert other.status_code == 200  # another address is not held back
    assert post_event(client, event()).status_code == 200  # bots sign; they present no API key
    assert client.get("/healthz").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "connector.throttle"]
    assert len(lines) == limit + 1 and all("127.0.0.1" in line for line in lines)
    assert "throttling 127.0.0.1" in lines[-1]
    assert not any(WRONG in line or API_KEY in line for line in lines)  # never the key
    scrape = client.get("/metrics").get_data(as_text=True)
    assert f'handoff_auth_failures_total{{reason="bad-api-key"}} {float(limit)}' in scrape
    assert 'handoff_auth_failures_total{reason="throttled"} 2.0' in scrape
    clock.advance(59)
    assert client.get("/v1/handoffs", headers={"X-API-Key": API_KEY}).status_code == 429
    clock.advance(2)
    assert client.get("/v1/handoffs", headers={"X-API-Key": API_KEY}).status_code == 200


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(tmp_path, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    runtime = build_runtime(make_settings(tmp_path, security={"auth_max_failures": 2}), clock=clock)
    server = serving.create_server(
        create_app(runtime=runtime),
        host="127.0.0.1",
        port=0,
        threads=2,
        max_body_bytes=1024,
        trusted_proxy="127.0.0.1",
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    try:

        def get(client_address: str, key: str) -> int:
            return requests.get(
                f"{base}/v1/handoffs",
                timeout=5,
                headers={"X-API-Key": key, "X-Forwarded-For": f"203.0.113.50, {client_address}"},
            ).status_code

        assert [get("198.51.100.7", WRONG) for _ in range(3)] == [401, 401, 429]
        assert get("198.51.100.8", API_KEY) == 200  # the proxy's other clients carry on
    finally:
        stop_waitress(server, thread)
        runtime.close()


@pytest.mark.parametrize(
    ("host", "keys", "problems"),
    [
        pytest.param("127.0.0.1", ["short-key"], [], id="loopback-keeps-short-keys"),
        pytest.param("localhost", ["short-key"], [], id="localhost-too"),
        pytest.param("0.0.0.0", ["x" * 32, "y" * 31], ["security.api_keys[1]"], id="one-short-key"),
        pytest.param("10.1.2.3", ["x" * 32], [], id="long-enough"),
    ],
)
def test_serving_problems(tmp_path, host: str, keys: list[str], problems: list[str]) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, server={"host": host}, security={"api_keys": keys})
    assert [path for path, _ in settings.serving_problems()] == problems


@pytest.mark.slow
def test_serve_off_loopback_refuses_a_short_key_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {
        "HANDOFF_HOST": "0.0.0.0",
        "HANDOFF_PORT": str(free_port()),
        "HANDOFF_DB": str(tmp_path / "h.db"),
        "HANDOFF_API_KEY": "agent-key-123",
        "HANDOFF_DEMO_SECRET": "s3cret-value-0123456789",
        "HANDOFF_WIDGET_SECRET": "widget-secret-0123456789",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [HANDOFF, "serve", "--config", str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: security.api_keys[0]: is 13 characters; an API key must have at least 32"
        )
    )
    assert "listening on" not in out.stderr
    checked = subprocess.run(
        [HANDOFF, "check-config", str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=60
    )
    assert (
        checked.returncode == 0
        and "warning: security.api_keys[0]: is 13 characters" in checked.stderr
    )
    assert load_config(EXAMPLE, env=env).serving_problems()  # the file itself still loads
