"""The one interface every bot platform implements, and the registry of channel names.

A channel is both sides of one bot platform's wire format, like Rasa's input and output channels:

- **in**: ``verify`` the request is really from the source (before any parsing), ``parse`` it into
  our ``Event``s, and ``answer`` the platform the way it expects once the events are decided;
- **out**: ``send`` a callback from the outbox (``outbox.Callback``: ``control.changed``,
  ``conversation.handed_back``, ``customer.update``) in the platform's format and auth.

A source names its channel in the config (``sources.<name>.channel``, default ``native``); its
channel-specific keys sit beside the shared ones and are checked by ``validate_settings``. Errors:
``Unauthorized``/``BadRequest`` on the way in (they become problem responses), ``Transient-`` or
``PermanentDeliveryError`` on the way out (the outbox retries or dead-letters).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from connector import keys, limits
from connector.errors import ConfigError, validation_message
from connector.limits import LimitsSettings
from connector.outbox import Callback
from connector.schemas import Event, EventResponse


@dataclass(frozen=True)
class InboundRequest:
    """What a channel sees of an HTTP request: no framework objects cross the seam."""

    method: str
    path: str  # the sub-path after /v1/channels/<source>, "" for the root
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    # the whole URL path as routed (percent-decoded, no query): what v2 signatures bind
    url_path: str = ""


@dataclass(frozen=True)
class ChannelAnswer:
    """What the channel answers the platform with, after its events were decided."""

    status: int
    body: bytes
    content_type: str = "application/json"


class BotChannel:
    """Base class of every bot channel. Subclasses set ``name`` and ``settings_model``."""

    name: ClassVar[str] = ""
    settings_model: ClassVar[type[BaseModel]]

    def __init__(
        self,
        source: str,
        settings: BaseModel,
        replay_window_seconds: int,
        bounds: LimitsSettings = limits.DEFAULTS,
    ):
        self.source = source
        self.settings = settings
        self.replay_window_seconds = replay_window_seconds
        self.bounds = bounds  # what a request may carry (``limits:``): parse within these

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        """Problems with the source's keys, as (key path below the source, message)."""
        try:
            cls.settings_model.model_validate(settings)
        except ValidationError as exc:
            return [
                (
                    ".".join(str(p) for p in err["loc"]),
                    keys.unknown_key(cls.settings_model, err["loc"])
                    if err["type"] == "extra_forbidden"
                    else validation_message(err),
                )
                for err in exc.errors()
            ]
        return []

    @classmethod
    def from_config(
        cls,
        source: str,
        settings: dict[str, Any],
        *,
        replay_window_seconds: int = 300,
        bounds: LimitsSettings = limits.DEFAULTS,
    ) -> BotChannel:
        """Validate ``settings`` (``ConfigError`` with key paths) and build the channel."""
        problems = cls.validate_settings(settings)
        if problems:
            raise ConfigError([(f"sources.{source}.{path}", msg) for path, msg in problems])
        return cls(
            source, cls.settings_model.model_validate(settings), replay_window_seconds, bounds
        )

    # in -------------------------------------------------------------------------------------------
    def verify(self, request: InboundRequest, *, now: float) -> None:
        """Raise ``Unauthorized`` unless the request really comes from this source."""
        raise NotImplementedError

    def parse(self, request: InboundRequest, *, now: datetime) -> list[Event]:
        """The events the request carries (``BadRequest`` naming the bad field when malformed);
        ``now`` stands in for times the platform does not send."""
        raise NotImplementedError

    def answer(self, request: InboundRequest, responses: list[EventResponse]) -> ChannelAnswer:
        """The platform's answer once every event is decided."""
        raise NotImplementedError

    # out ------------------------------------------------------------------------------------------
    def send(self, callback: Callback, *, delivery_id: str) -> dict[str, Any]:
        """Deliver one callback in the platform's format; raise a ``DeliveryError`` on failure."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (called when the runtime closes)."""


# name -> "module:Class"; imported lazily so a platform's SDK only matters when it is configured
CHANNELS: dict[str, str] = {
    "native": "channels.native:NativeChannel",
    "botframework": "channels.botframework:BotFrameworkChannel",
    "botpress": "channels.botpress:BotpressChannel",
    "dialogflow": "channels.dialogflow:DialogflowChannel",
    "chatwoot": "channels.chatwoot:ChatwootChannel",
    "mapped": "channels.mapped:MappedChannel",
    "rasa": "channels.rasa:RasaChannel",
}


def channel_class(name: str, *, key_path: str) -> type[BotChannel]:
    """Resolve a channel name to its class, with a "did you mean" for typos."""
    target = CHANNELS.get(name)
    if target is None:
        close = difflib.get_close_matches(name, CHANNELS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            [(key_path, f"unknown channel {name!r}{hint}; known: {', '.join(sorted(CHANNELS))}")]
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError([(key_path, f"cannot load {module_name}: {exc}")]) from exc
    cls: type[BotChannel] = getattr(module, class_name)
    return cls
