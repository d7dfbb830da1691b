"""Thread CPU of the pure decision per event: ``planning.decide_event`` and each policy trigger.

Runs the workloads of ``bench_ingest_profile.py`` (conversation events, new conversations, all
escalating) through ``POST /v1/events`` in process, and times ``decide_event`` and every trigger
of the policy with ``time.thread_time()`` around each call, after the warm-up events. Prints the
thread CPU per event of each; asserts nothing. Usage:
python bench/bench_decide_cpu.py [--events 1000] [--workloads conv,new,all]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_ingest_profile  # noqa: E402

from connector import policy, service  # noqa: E402

WARM = 200
spent: dict[str, float] = defaultdict(float)
decided = {"events": 0}


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            if decided["events"] > WARM:
                spent[name] += time.thread_time() - start
            if name == "decide_event":
                decided["events"] += 1

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--workloads", default="conv,new,all")
    args = parser.parse_args()
    service.decide_event = timed("decide_event", service.decide_event)  # type: ignore[assignment]
    for trigger, fn in list(policy.TRIGGERS.items()):
        policy.TRIGGERS[trigger] = timed(trigger, fn)
    for name in args.workloads.split(","):
        spent.clear()
        decided["events"] = 0
        result = bench_ingest_profile.run(name, args.events, WARM, None)
        events = max(1, decided["events"] - WARM - 1)
        parts = sorted(spent.items(), key=lambda kv: -kv[1])
        print(f"{result['label']}: POST {result['min_ms']:.3f} ms (quickest batch)")
        for part, seconds in parts:
            print(f"  {part:<20} {1000 * seconds / events:.3f} ms per event")


if __name__ == "__main__":
    main()
