"""``/metrics``: Prometheus counters of what this process did, and gauges read from the store.

Each runtime gets its own ``CollectorRegistry`` (never the global one), so two apps in one process,
as in the tests, never share or collide. Counters count what happened in this process (events,
decisions, deliveries, reminders, handbacks); the outbox depth, the age of its oldest row and the
pending timers are read from the store at scrape time, so they are right whichever process wrote
them. Label values come from configuration (team, destination, trigger), never from customers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FIRST_RESPONSE_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 86_400)
_lock = threading.Lock()


class StoreCollector(Collector):
    """Outbox depth, oldest undelivered row and pending timers, queried when Prometheus scrapes."""

    def __init__(self, runtime: Any):
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("handoff_store_up", "1 when the store answered the metrics query")
        try:
            with self.runtime.store.reading() as tx:
                stats = tx.outbox_stats()
        except Exception:  # a scrape must never raise; say the store is down instead
            logger.exception("metrics: cannot read outbox stats")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        rows = GaugeMetricFamily(
            "handoff_outbox_rows",
            "Outbox rows by kind, target and status",
            labels=["kind", "target", "status"],
        )
        depth = 0
        for row in stats["rows"]:
            rows.add_metric([row["kind"], row["target"], row["status"]], row["n"])
            if row["status"] in ("pending", "delivering"):
                depth += row["n"]
        yield rows
        d = GaugeMetricFamily(
            "handoff_outbox_depth", "Outbox rows not yet delivered (pending or delivering)"
        )
        d.add_metric([], depth)
        yield d
        oldest = stats["oldest_undelivered_at"]
        now = self.runtime.now().timestamp()
        age = GaugeMetricFamily(
            "handoff_outbox_oldest_age_seconds",
            "Age of the oldest undelivered outbox row (0 when empty)",
        )
        age.add_metric([], max(0.0, now - oldest) if oldest is not None else 0.0)
        yield age
        timers = GaugeMetricFamily(
            "handoff_timers_pending", "Response-window timers waiting to fire"
        )
        timers.add_metric([], stats["pending_timers"])
        yield timers


class Metrics:
    def __init__(self, runtime: Any):
        r = self.registry = CollectorRegistry()
        self.events = Counter(
            "handoff_events", "Bot events received", ["source", "type", "duplicate"], registry=r
        )
        self.ingest_races = Counter(
            "handoff_ingest_races",
            "Events decided again because what their decision read changed before the write",
            registry=r,
        )
        self.decisions = Counter(
            "handoff_decisions",
            "Policy decisions by trigger that fired",
            ["trigger", "escalate"],
            registry=r,
        )
        self.handoffs = Counter(
            "handoff_handoffs",
            "Handoffs opened, by team and first reason",
            ["team", "reason"],
            registry=r,
        )
        self.deliveries = Counter(
            "handoff_deliveries",
            "Outbox delivery attempts by outcome",
            ["kind", "destination", "outcome"],
            registry=r,
        )
        self.retries = Counter(
            "handoff_delivery_retries",
            "Failed attempts scheduled for a retry",
            ["kind", "destination"],
            registry=r,
        )
        self.dead_letters = Counter(
            "handoff_dead_letters", "Outbox rows dead-lettered", ["kind", "destination"], registry=r
        )
        self.first_response = Histogram(
            "handoff_first_agent_response_seconds",
            "From handoff opened to the first agent reply or take-over",
            ["team"],
            buckets=FIRST_RESPONSE_BUCKETS,
            registry=r,
        )
        self.reminders = Counter(
            "handoff_reminders",
            "Response-window expiries: reminders and fallbacks",
            ["team", "kind"],
            registry=r,
        )
        self.handbacks = Counter(
            "handoff_handbacks", "Conversations handed back to the bot", ["by"], registry=r
        )
        self.auth_failures = Counter(
            "handoff_auth_failures",
            "Failed API-key authentications (reason bad-api-key) and requests refused while throttled",
            ["reason"],
            registry=r,
        )
        self.generations = Counter(
            "handoff_generations",
            "Calls to the optional model (payload.generator) by outcome: generated, invalid, "
            "timeout, rate_limited, server_error, refused, unreachable, skipped",
            ["outcome"],
            registry=r,
        )
        r.register(StoreCollector(runtime))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def of(runtime: Any) -> Metrics:
    """The runtime's metrics, created on first use."""
    metrics = runtime.extras.get("metrics")
    if metrics is None:
        with _lock:
            metrics = runtime.extras.get("metrics")
            if metrics is None:
                metrics = runtime.extras["metrics"] = Metrics(runtime)
    return metrics  # type: ignore[no-any-return]


def serve(runtime: Any, host: str, port: int) -> WSGIServer:
    """Serve this process's ``/metrics`` on a port of its own, on a daemon thread.

    For ``handoff worker``, which has no API: its delivery counters live in its memory. Stop it
    with ``shutdown()``.
    """
    server, _ = start_http_server(port, addr=host, registry=of(runtime).registry)
    return server


def safely(runtime: Any, fn: Any) -> None:
    """Count something; a metrics bug never fails the operation it measures."""
    try:
        fn(of(runtime))
    except Exception:
        logger.exception("metrics: cannot record")
