"""After-the-handoff latency with N live conversations (default 50), on real sockets.

One process holds: the connector (waitress, SQLite, the delivery worker in-process), the Zendesk
stand-in (HTTPS, the real zenpy talks to it) and the bot's callback receiver. N conversations
escalate to Zendesk and are taken over; then, for D seconds, each conversation exchanges one
agent message (``POST /v1/handoffs/{id}/messages``) and one customer turn (``POST /v1/events``)
every P seconds, staggered. Measured, from the moment the request is sent:

- agent message → the bot's ``agent.message`` callback received (first copy);
- customer turn → the public comment created on the ticket in the stand-in.

Zendesk's own limit (2,500 requests a minute at most, ``requests_per_minute``) is the ceiling for
customer turns: each is three calls (ticket, comments, update). Prints figures; asserts nothing.
Usage: python bench/bench_live.py [--conversations 50] [--seconds 20] [--period 5] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import waitress

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.app import create_app  # noqa: E402
from connector.delivery import Worker  # noqa: E402
from connector.runtime import build_runtime  # noqa: E402
from tests.helpers import API_KEY, dumps, event, make_settings, signed_headers  # noqa: E402
from tests.integrations.test_zendesk import TICKET_FIELDS, zd_config  # noqa: E402
from tests.standins.zendesk import ZendeskStandin  # noqa: E402

AGENT = {"Authorization": f"Bearer {API_KEY}"}


class TimedZendesk(ZendeskStandin):
    """The stand-in, noting when each comment was created (by its text)."""

    created: dict[str, float]

    def _comment(self, ticket_id: int, audit_id: int, data: dict[str, Any]) -> dict[str, Any]:
        comment = super()._comment(ticket_id, audit_id, data)
        self.created.setdefault(str(data.get("body") or ""), time.perf_counter())
        return comment


class Receiver:
    """The bot: notes when each agent.message id first arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(
                    self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}"
                )
                if body.get("type") == "agent.message":
                    receiver.arrived.setdefault(body["text"], time.perf_counter())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


def percentiles(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
    return f"n={len(ms)} p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"


def wait(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--period", type=float, default=5, help="seconds between one conversation's exchanges"
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="delivery threads (worker.concurrency)"
    )
    args = parser.parse_args()

    zendesk = TimedZendesk(ticket_fields=TICKET_FIELDS)
    zendesk.created = {}
    receiver = Receiver()
    with zendesk, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(zendesk.client_env())
        os.environ.pop("ZENPY_FORCE_SCHEME", None)
        settings = make_settings(
            Path(tmp),
            receiver.url,
            destinations={
                "zendesk": zd_config(zendesk, requests_per_minute=2500, timeout_seconds=5)
            },
        )
        settings.worker.concurrency = args.concurrency
        runtime = build_runtime(settings)
        server = waitress.create_server(
            create_app(runtime=runtime), host="127.0.0.1", port=0, threads=16
        )
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{server.effective_port}"
        worker = Worker(runtime)
        worker.start()
        http = requests.Session()
        handoffs = []
        for i in range(args.conversations):
            raw = dumps(event(f"live-{i}", f"live-{i}-e0"))
            handoffs.append(
                http.post(f"{base}/v1/events", data=raw, headers=signed_headers(raw)).json()[
                    "handoff"
                ]["id"]
            )
        if not wait(lambda: len(zendesk.tickets) >= args.conversations, 60):
            sys.exit(f"only {len(zendesk.tickets)} tickets were created")
        for h in handoffs:
            http.post(
                f"{base}/v1/handoffs/{h}/claim", json={"actor": "mia"}, headers=AGENT
            ).raise_for_status()

        agent_sent: dict[str, float] = {}
        turn_sent: dict[str, float] = {}
        lock = threading.Lock()
        ends = time.monotonic() + args.seconds

        def converse(i: int, handoff_id: str) -> None:
            session = requests.Session()
            time.sleep(args.period * i / args.conversations)  # staggered, as real conversations are
            n = 0
            while time.monotonic() < ends:
                n += 1
                text = f"agent {i}.{n}"
                with lock:
                    agent_sent[text] = time.perf_counter()
                session.post(
                    f"{base}/v1/handoffs/{handoff_id}/messages",
                    json={"text": text, "actor": "mia"},
                    headers=AGENT,
                ).raise_for_status()
                time.sleep(args.period / 2)
                said = f"customer {i}.{n}"
                raw = dumps(
                    event(
                        f"live-{i}",
                        f"live-{i}-e{n}",
                        messages=[{"id": f"live-{i}-m{n}", "role": "customer", "text": said}],
                    )
                )
                with lock:
                    turn_sent[said] = time.perf_counter()
                session.post(
                    f"{base}/v1/events", data=raw, headers=signed_headers(raw)
                ).raise_for_status()
                time.sleep(args.period / 2)

        threads = [threading.Thread(target=converse, args=(i, h)) for i, h in enumerate(handoffs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait(
            lambda: (
                set(agent_sent) <= set(receiver.arrived) and set(turn_sent) <= set(zendesk.created)
            ),
            60,
        )
        worker.stop()
        server.close()
        runtime.close()

    agent = [receiver.arrived[t] - s for t, s in agent_sent.items() if t in receiver.arrived]
    turns = [zendesk.created[t] - s for t, s in turn_sent.items() if t in zendesk.created]
    print(
        f"{args.conversations} live conversations, {args.seconds:.0f} s, one exchange per "
        f"{args.period:.0f} s each (worker concurrency {settings.worker.concurrency})"
    )
    print(
        f"agent message → bot callback received:    {percentiles(agent)}"
        f"  (lost: {len(agent_sent) - len(agent)})"
    )
    print(
        f"customer turn → Zendesk comment created:  {percentiles(turns)}"
        f"  (lost: {len(turn_sent) - len(turns)})"
    )


if __name__ == "__main__":
    main()
