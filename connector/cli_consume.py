"""``handoff consume``: the channels that read a message broker (today Rasa's event broker).

Registered on ``handoff``'s group by the import at the end of ``connector/cli.py``. Its own process,
not a thread of ``serve`` or ``worker``: several workers may run against one store, and consumers
in each would take a queue's messages out of order; run exactly one ``handoff consume``.
"""

from __future__ import annotations

import signal
import threading

import click

from connector.cli import CONFIG_HELP, _fail, _load, main


@main.command()
@click.option("--config", "-c", help=CONFIG_HELP)
def consume(config: str | None) -> None:
    """Consume the event brokers of broker-fed sources (Rasa) until SIGTERM or Ctrl-C."""
    from connector import service
    from connector.config import configure_logging
    from connector.errors import HandoffError
    from connector.runtime import build_runtime

    settings = _load(config)
    configure_logging(settings)
    try:
        runtime = build_runtime(settings)
    except HandoffError as exc:
        _fail(str(exc))
    consumers = {
        source: channel
        for source, channel in runtime.channels.items()
        if hasattr(channel, "consume")
    }
    if not consumers:
        runtime.close()
        _fail("no source reads a broker (sources.<name>.channel: rasa)")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    threads = []
    for source, channel in consumers.items():

        def ingest(events, source=source):  # type: ignore[no-untyped-def]
            return [service.ingest_event(runtime, source, event) for event in events]

        thread = threading.Thread(
            target=channel.consume,
            args=(ingest, stopped),  # type: ignore[attr-defined]
            kwargs={"now": runtime.now},
            name=f"consume-{source}",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    click.echo(f"handoff consume running for {', '.join(sorted(consumers))}", err=True)
    stopped.wait()
    for thread in threads:
        thread.join(timeout=10)
    runtime.close()
