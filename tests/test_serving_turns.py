"""`handoff serve` holds a bot event's turns around its whole request, and nothing around others."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext

import requests
from flask import Flask

from connector import serving
from connector.api.events import request_turns
from connector.runtime import Runtime
from tests.helpers import stop_waitress


def test_requests_that_take_turns_are_served_one_at_a_time_and_others_beside_them() -> None:
    app = Flask("turns")
    lock, counting = threading.Lock(), threading.Lock()
    inside, most, asked = [0], [0], []
    fast_done = threading.Event()

    @app.post("/in-turn")
    def in_turn():  # type: ignore[no-untyped-def]
        with counting:  # the in-turn requests running the app at once
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        fast_done.wait(5)  # held until a request that takes no turns got through
        with counting:
            inside[0] -= 1
        return {"ok": True}

    @app.get("/free")
    def free():  # type: ignore[no-untyped-def]
        return {"ok": True}

    def turns(method: str, path: str) -> AbstractContextManager[object]:
        asked.append((method, path))
        return lock if path == "/in-turn" else nullcontext()

    server = serving.create_server(
        app, host="127.0.0.1", port=0, threads=6, max_body_bytes=1024, turns=turns
    )
    url = f"http://127.0.0.1:{server.effective_port}"
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            slow = [pool.submit(requests.post, f"{url}/in-turn", timeout=10) for _ in range(3)]
            # the first in-turn request holds the lock and waits: a request that takes no
            # turns is answered meanwhile
            assert requests.get(f"{url}/free?x=1", timeout=5).status_code == 200
            fast_done.set()
            assert [f.result().status_code for f in slow] == [200, 200, 200]
    finally:
        stop_waitress(server, loop)
    assert most[0] == 1  # never two in-turn requests in the app at once
    assert ("GET", "/free") in asked and asked.count(("POST", "/in-turn")) == 3


def test_bot_event_routes_take_the_stores_turns_unless_the_model_is_on(runtime: Runtime) -> None:
    turns = request_turns(runtime)
    runtime.settings.policy.model.enabled = False
    held = runtime.store.turns()
    assert turns("POST", "/v1/events") is held
    assert turns("POST", "/v1/channels/rasa") is held
    assert turns("POST", "/v1/channels/botframework/api/messages") is held
    for method, path in [
        ("GET", "/v1/events"),
        ("GET", "/v1/conversations/c1/control"),
        ("POST", "/v1/conversations/c1/replies"),
        ("GET", "/healthz"),
    ]:
        assert isinstance(turns(method, path), nullcontext)
    runtime.settings.policy.model.enabled = True  # its inference runs outside Python's lock
    assert isinstance(turns("POST", "/v1/events"), nullcontext)
