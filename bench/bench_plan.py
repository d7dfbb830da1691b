"""Thread CPU of ``plan_handoff`` per escalation: the routing and payload half of an escalating event.

Each event of a workload (``bench_ingest_profile.py``'s all-escalating and new-conversation bodies,
whose texts differ per event, so no cache sees a turn twice) is decided first, untimed, as
``service.ingest_event`` does (so what the decision caches is warm, as in the service), then
planned under ``time.thread_time()``. Shipped settings, the learned signal off unless
``--model``. Prints the quickest and the median round (on a shared machine the quickest is the
steadiest figure); asserts nothing. No store, no HTTP: the figure is the plan alone.

Usage: python bench/bench_plan.py [--events 400] [--rounds 5] [--workloads all,new] [--model]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_ingest  # noqa: E402
import bench_ingest_cpu  # noqa: E402

from connector.config import Settings, load_config  # noqa: E402
from connector.planning import History, Snapshot, decide_event, plan_handoff  # noqa: E402
from connector.schemas import Event  # noqa: E402

MAKERS = {
    "all": ("all-escalating", lambda i: bench_ingest.make_body(0, i)),
    "new": ("new conversations", lambda i: bench_ingest_cpu.make_new_conversation_body(0, i)),
}
WARM = 50  # events planned before measuring (first compilations)
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # a Monday morning: every shipped team is open


def settings(model: bool) -> Settings:
    path = Path(tempfile.mkdtemp(prefix="handoff-plan-")) / "config.json"
    config: dict = {"logging": {"level": "WARNING"}}
    if not model:
        config["policy"] = {"model": {"enabled": False}}
    path.write_text(json.dumps(config))
    return load_config(path, env={})


def one_round(events: list[Event], loaded: Settings, tag: int) -> float:
    """Thread CPU per escalation of ``plan_handoff`` over ``events`` (ms)."""
    spent, planned = 0.0, 0
    for i, event in enumerate(events):
        decided = decide_event("bench", event, Snapshot(None, []), loaded, NOW)
        if not decided.decision.escalate:
            continue
        history = History(first_responses={}, prior_handoffs=i % 4)
        start = time.thread_time()
        plan_handoff(
            "bench",
            decided,
            history,
            loaded,
            handoff_id=f"ho_bench_{tag}_{i}",
            base_url="http://localhost:8080",
            now=NOW,
        )
        if i >= WARM:
            spent += time.thread_time() - start
            planned += 1
    return 1000 * spent / max(1, planned)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workloads", default="all,new")
    parser.add_argument("--model", action="store_true", help="keep the learned signal on")
    args = parser.parse_args()
    loaded = settings(args.model)
    for name in args.workloads.split(","):
        label, make = MAKERS[name]
        count = WARM + args.events
        rounds = [
            # new texts every round: a round must not find the previous round's turns cached
            one_round(
                [Event.model_validate_json(make(r * count + i)) for i in range(count)], loaded, r
            )
            for r in range(args.rounds)
        ]
        print(
            f"{label}: plan_handoff thread CPU per escalation {min(rounds):.3f} ms (quickest "
            f"round), {statistics.median(rounds):.3f} ms (median of {args.rounds})"
        )


if __name__ == "__main__":
    main()
