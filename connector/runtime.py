"""What a running connector holds: settings, store, destinations, clock, and the worker's waker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from channels.base import BotChannel, channel_class
from connector.clock import utcnow
from connector.config import Settings
from connector.store import Store, Waker, open_store
from integrations.base import Destination, destination_class

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    destinations: dict[str, Destination]
    waker: Waker
    clock: Callable[[], datetime] = utcnow
    extras: dict[str, object] = field(default_factory=dict)
    channels: dict[str, BotChannel] = field(default_factory=dict)  # by source name

    # -- what destinations may use (``integrations.base.DestinationContext``) --
    def now(self) -> datetime:
        return self.clock()

    def can_update(self, destination: str) -> bool:
        """Can this destination change a ticket's fields (priority, team)? Not every one can."""
        found = self.destinations.get(destination)
        return found is not None and type(found).update is not Destination.update

    @property
    def base_url(self) -> str:
        return self.settings.server.base_url()

    @property
    def replay_window_seconds(self) -> int:
        return self.settings.security.replay_window_seconds

    @property
    def team_names(self) -> Collection[str]:
        return self.settings.routing.teams.keys()

    def handoff_team(self, handoff_id: str) -> str | None:
        with self.store.reading() as tx:
            handoff = tx.get_handoff(handoff_id)
        return handoff.team if handoff else None

    def take_budget(
        self, key: str, cost: float, per_second: float, capacity: float, now: float, max_wait: float
    ) -> float:
        with self.store.atomic() as tx:
            return tx.take_budget(key, cost, per_second, capacity, now, max_wait)

    def close(self) -> None:
        for channel in self.channels.values():
            try:
                channel.close()
            except Exception:  # closing must never stop the rest from closing
                logger.exception("closing channel of source %s", channel.source)
        for destination in self.destinations.values():
            close = getattr(destination, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # closing must never stop the rest from closing
                    logger.exception("closing destination %s", destination.name)
        self.waker.close()
        self.store.close()


def build_runtime(
    settings: Settings, *, store: Store | None = None, clock: Callable[[], datetime] = utcnow
) -> Runtime:
    store = store or open_store(settings)
    # the store knows how its writers reach workers in other processes (see ``Waker``)
    runtime = Runtime(settings, store, {}, store.waker(), clock)
    try:
        for name, dest_settings in settings.destinations.items():
            cls = destination_class(name)
            runtime.destinations[name] = cls.from_config(dest_settings, runtime)
        window = settings.security.replay_window_seconds
        for source, source_settings in settings.sources.items():
            channel = channel_class(source_settings.channel, key_path=f"sources.{source}.channel")
            runtime.channels[source] = channel.from_config(
                source,
                source_settings.channel_settings,
                replay_window_seconds=window,
                bounds=settings.limits,
            )
    except BaseException:
        runtime.close()  # release the store, the waker and any destination already built
        raise
    return runtime
