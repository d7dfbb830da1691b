"""Delivery benchmark: how fast a burst drains to each helpdesk at its documented default limit.

For Zendesk, Salesforce and Intercom: N handoffs (default 200) arrive within one second through
`POST /v1/events`; two replicas (two runtimes, two workers, one SQLite store, so one shared
rate-limit budget) deliver them through the real SDKs to the spec-validating stand-ins of
`tests/standins/`. The limiter and the worker read a simulated clock that jumps to the next due
row when nothing is due, so the figures are the connector's schedule, not this machine's speed
(the wall time is printed beside them).

The baseline, in the same run, is the limit's theoretical minimum: the requests the vendor saw,
less the bucket's size, at the documented rate. Prints per vendor: requests, theoretical minimum,
simulated drain time, its ratio to the minimum, handoffs per minute, dead letters, the largest
attempt count of any row, wall seconds. Prints figures; asserts nothing.

Needs the vendor specs (`../shared/specs`, or HANDOFF_VENDOR_SPECS) and the test dependencies.
Usage: python bench/bench_deliveries.py [--count 200] [--vendors zendesk,salesforce,intercom]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import Clock, Receiver  # noqa: E402
from tests.integrations.test_bursts import Drained, run_burst  # noqa: E402


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """The SDKs find the stand-in through the environment (as the test fixtures set it)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def zendesk(count: int, folder: Path, receiver: Receiver) -> Drained:
    from tests.integrations.test_zendesk import TICKET_FIELDS, zd_config
    from tests.standins.zendesk import ZendeskStandin

    with ZendeskStandin(ticket_fields=TICKET_FIELDS) as standin, environment(standin.client_env()):
        config = zd_config(standin)
        del config["requests_per_minute"]  # the documented default
        return run_burst(
            folder,
            receiver,
            Clock(),
            "zendesk",
            config,
            [f"conv-{i}" for i in range(count)],
            "web",
            lambda: len(standin.requests),
        )


def salesforce(count: int, folder: Path, receiver: Receiver) -> Drained:
    from tests.integrations.test_salesforce import sf_config
    from tests.standins.salesforce import SalesforceStandin

    with SalesforceStandin() as standin, environment(standin.client_env()):
        config = sf_config(standin)
        del config["requests_per_minute"]
        return run_burst(
            folder,
            receiver,
            Clock(),
            "salesforce",
            config,
            [f"conv-{i}" for i in range(count)],
            "web",
            lambda: len(standin.requests),
        )


def intercom(count: int, folder: Path, receiver: Receiver) -> Drained:
    from tests.integrations.test_intercom import HandoffIntercomStandin, intercom_config

    with HandoffIntercomStandin() as standin:
        conversations = [standin.add_conversation() for _ in range(count)]
        before = len(standin.requests)
        return run_burst(
            folder,
            receiver,
            Clock(),
            "intercom",
            intercom_config(standin),
            conversations,
            "intercom",
            lambda: len(standin.requests) - before,
        )


VENDORS: dict[str, Callable[[int, Path, Receiver], Drained]] = {
    "zendesk": zendesk,
    "salesforce": salesforce,
    "intercom": intercom,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--vendors", default=",".join(VENDORS))
    args = parser.parse_args()
    print(
        f"{'vendor':<11} {'requests':>8} {'minimum s':>10} {'drained s':>10} {'ratio':>6} "
        f"{'handoffs/min':>12} {'dead':>5} {'max attempts':>12} {'wall s':>7}"
    )
    receiver = Receiver()
    try:
        for name in args.vendors.split(","):
            with tempfile.TemporaryDirectory() as folder:
                started = time.monotonic()
                drained = VENDORS[name](args.count, Path(folder), receiver)
                wall = time.monotonic() - started
            per_minute = args.count / drained.seconds * 60 if drained.seconds else float("inf")
            ratio = drained.seconds / drained.minimum if drained.minimum else float("nan")
            print(
                f"{name:<11} {drained.requests:>8} {drained.minimum:>10.1f} {drained.seconds:>10.1f} "
                f"{ratio:>6.3f} {per_minute:>12.1f} {drained.dead:>5} {drained.deferred_attempts:>12} "
                f"{wall:>7.1f}"
            )
    finally:
        receiver.close()


if __name__ == "__main__":
    main()
