"""Where an event's CPU goes: ``POST /v1/events`` in process, per workload, with an optional profile.

The same three workloads as ``bench_ingest_cpu.py`` (conversation events, new conversations, all
escalating), sent through the Flask test client to a connector on a fresh SQLite file (rules only,
the learned signal off). Prints the thread CPU time per event of batches of 50 (the quickest batch
and the median: on a shared machine the quickest is the steadiest figure) and, with ``--profile``,
the cProfile table of the measured events. No HTTP server, no client processes: the figures are the
connector's own work, request parsing included, which is what a profile should show first.

Prints figures; asserts nothing. Usage:
python bench/bench_ingest_profile.py [--events 1500] [--workloads conv,new,all]
[--profile [--sort tottime] [--rows 40]]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_ingest  # noqa: E402
import bench_ingest_cpu  # noqa: E402
from bench_ingest import SECRET  # noqa: E402

from connector import security  # noqa: E402
from connector.app import create_app  # noqa: E402
from connector.config import load_config  # noqa: E402

WORKLOADS: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "conv": (
        "conversation events (1 in 6 escalates)",
        lambda i: bench_ingest.make_conversation_body(0, i, 6),
    ),
    "new": (
        "new conversations (2 in 5 escalate)",
        lambda i: bench_ingest_cpu.make_new_conversation_body(0, i),
    ),
    "all": ("all-escalating", lambda i: bench_ingest.make_body(0, i)),
}
BATCH = 50


def run(name: str, events: int, warm: int, profile: cProfile.Profile | None) -> dict[str, float]:
    label, make = WORKLOADS[name]
    tmp = Path(tempfile.mkdtemp(prefix="handoff-profile-"))
    config = tmp / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "store": {"path": str(tmp / "profile.db")},
                "sources": {"bench": {"secret": SECRET}},
                "logging": {"level": "WARNING"},
                "policy": {"model": {"enabled": False}},
            }
        )
    )
    client = create_app(load_config(config, env={})).test_client()
    bodies = [make(i) for i in range(warm + events)]

    def post(body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Handoff-Source": "bench",
            "X-Handoff-Signature": security.sign(SECRET, body),
        }
        answer = client.post("/v1/events", data=body, headers=headers)
        assert answer.status_code == 200, answer.data

    for body in bodies[:warm]:  # past the first compilations and the first pages of the file
        post(body)
    per_event: list[float] = []
    if profile is not None:
        profile.enable()
    for start in range(warm, warm + events, BATCH):
        batch = bodies[start : start + BATCH]
        cpu = time.thread_time()
        for body in batch:
            post(body)
        per_event.append((time.thread_time() - cpu) / len(batch))
    if profile is not None:
        profile.disable()
    return {
        "label": label,  # type: ignore[dict-item]
        "min_ms": 1000 * min(per_event),
        "median_ms": 1000 * statistics.median(per_event),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--workloads", default="conv,new,all")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--rows", type=int, default=40)
    args = parser.parse_args()
    for name in args.workloads.split(","):
        profile = cProfile.Profile() if args.profile else None
        result = run(name, args.events, args.warm, profile)
        if profile is not None:
            pstats.Stats(profile).sort_stats(args.sort).print_stats(args.rows)
        print(
            f"{result['label']}: thread CPU per event {result['min_ms']:.3f} ms (quickest batch "
            f"of {BATCH}), {result['median_ms']:.3f} ms (median batch)"
        )


if __name__ == "__main__":
    main()
