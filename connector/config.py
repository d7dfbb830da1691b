"""Configuration: a YAML file, ``${ENV}`` interpolation, ``HANDOFF_*`` overrides, pydantic validation.

Order of precedence (last wins): model defaults → YAML file → ``HANDOFF_<SECTION>__<KEY>=value``
environment overrides (``__`` separates levels; values are read as YAML scalars) → the shorthands
``HANDOFF_HOST``, ``HANDOFF_PORT``, ``HANDOFF_DB`` (``store.path``) and ``HANDOFF_STORE_URL``
(``store.url``). ``${NAME}`` and ``${NAME:-default}`` in YAML
strings are replaced from the environment, so secrets never need to live in the file.

A relative SQLite store file is relative to ``$HANDOFF_HOME`` when set, else to the config file's
folder (the working directory only for the built-in defaults and a ``HANDOFF_DB``-style override),
so ``handoff outbox list -c /srv/handoff/config.yaml`` finds the store ``serve`` made, from anywhere.

Every problem is reported at once with its key path (``sources.demo.secret: field required``).
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from connector import keys as key_paths
from connector.agent_config import AgentSettings, check_agents
from connector.errors import ConfigError, validation_message
from connector.limits import LimitsSettings
from connector.policy_config import (  # noqa: F401 - re-exported: the rule schema lives there
    PayloadSettings,
    PolicySettings,
    Section,
)
from connector.routing_config import RoutingSettings, TeamSettings  # noqa: F401 - re-exported
from connector.store_config import StoreSettings, anchor_store, check_store

logger = logging.getLogger(__name__)

# The documented local default of the demo source's secret: fine on 127.0.0.1, loud anywhere else.
DEMO_DEFAULT_SECRET = "local-demo-secret"
DEFAULT_API_KEY = "local-agent-key"
DEFAULT_WIDGET_SECRET = "local-widget-secret"
PLACEHOLDER_AUTHOR_EMAIL = "support@example.com"  # the widget app's author until config names one
MIN_PUBLIC_API_KEY_CHARS = 32  # an API key that guards a non-loopback address


def _empty_when_null(empty: type) -> BeforeValidator:
    """``key:`` with nothing under it (every example entry commented out) is the empty list or
    mapping, so uncommenting one entry of ``config.example.yaml`` is all it takes."""
    return BeforeValidator(lambda value: empty() if value is None else value)


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    threads: int = Field(default=8, ge=1, le=256)
    # Slow peers (connector/serving.py): idle or dripping sockets cost a descriptor, never a thread.
    connection_limit: int = Field(default=4000, ge=10, le=100_000)
    channel_timeout: int = Field(default=60, ge=1, le=3600)
    request_timeout: int = Field(default=30, ge=1, le=3600)
    # The reverse proxy's address: its X-Forwarded-For then names the client (for the auth throttle).
    trusted_proxy: str | None = None

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class SecuritySettings(Section):
    api_keys: list[str] = Field(default_factory=lambda: [DEFAULT_API_KEY], min_length=1)
    replay_window_seconds: int = Field(default=300, ge=10, le=3600)
    # Failed API keys per client address (connector/throttle.py): this many within the window → 429.
    auth_max_failures: int = Field(default=10, ge=1, le=10_000)
    auth_window_seconds: int = Field(default=60, ge=1, le=86_400)

    @field_validator("api_keys")
    @classmethod
    def _keys_not_empty(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if len(key) < 8:
                raise ValueError("each API key must be at least 8 characters")
        return keys


class SourceSettings(Section):
    """One bot source. ``channel`` names its format (``channels/``: ``native`` is our signed JSON);
    a non-native channel's own keys sit beside these and are checked by the channel itself."""

    model_config = ConfigDict(extra="allow")

    channel: str = "native"
    secret: str = Field(min_length=8)
    callback_url: str | None = None
    callback_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @property
    def channel_settings(self) -> dict[str, Any]:
        """The keys the channel reads: the shared ones and the channel's own."""
        return self.model_dump(exclude={"channel"})

    @property
    def receives_callbacks(self) -> bool:
        """Does the domain queue callbacks for this source? A native source only with a
        ``callback_url``; another channel always (it answers through its platform's API)."""
        return bool(self.callback_url) or self.channel != "native"

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url


class WorkerSettings(Section):
    enabled: bool = True
    concurrency: int = Field(default=4, ge=1, le=64)
    max_attempts: int | None = Field(
        default=None, ge=1, le=1000
    )  # None: only max_age_hours gives up
    max_age_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    # delivery threads one destination (or bot source) may hold at once; null: half of them, so
    # one slow helpdesk or bot never holds every thread
    per_destination_concurrency: int | None = Field(default=None, ge=1, le=64)
    backoff_initial_seconds: float = Field(default=1.0, gt=0, le=3600)
    backoff_max_seconds: float = Field(default=600.0, gt=0, le=86_400)
    claim_timeout_seconds: float = Field(default=120.0, ge=1, le=86_400)
    idle_wake_seconds: float = Field(default=30.0, ge=0.1, le=3600)
    # `handoff worker` (a process with no API) serves its own /metrics here, on server.host
    metrics_port: int | None = Field(default=None, ge=1, le=65535)


# --- response windows and reminders (connector/timers.py) ----------------------------------------


class FallbackSettings(Section):
    """What happens when every reminder went unanswered."""

    action: Literal["route_to_team", "handback"] = "handback"
    team: str | None = None  # required by route_to_team

    @model_validator(mode="after")
    def _team_for_route(self) -> FallbackSettings:
        if self.action == "route_to_team" and not self.team:
            raise ValueError("fallback.action route_to_team needs fallback.team")
        return self


class TeamReminderSettings(Section):
    """Per-team overrides of the reminder defaults; unset keys inherit them."""

    response_window_minutes: float | None = Field(default=None, gt=0, le=7 * 24 * 60)
    max_reminders: int | None = Field(default=None, ge=0, le=20)
    fallback: FallbackSettings | None = None


class RemindersSettings(Section):
    enabled: bool = True
    response_window_minutes: float = Field(default=10.0, gt=0, le=7 * 24 * 60)
    max_reminders: int = Field(default=2, ge=0, le=20)
    priority_bump: bool = True
    offer_callback: bool = True
    fallback: FallbackSettings = Field(default_factory=FallbackSettings)
    teams: Annotated[dict[str, TeamReminderSettings], _empty_when_null(dict)] = Field(
        default_factory=dict
    )


# --- agent alerts (integrations/notify.py) -------------------------------------------------------

AlertEvent = Literal["handoff.opened", "reminder", "fallback", "dead_letter"]


def _default_alert_events() -> list[str]:
    return ["reminder", "fallback", "dead_letter"]


class _AlertChannel(Section):
    events: list[AlertEvent] = Field(default_factory=_default_alert_events)  # type: ignore[arg-type]
    teams: list[str] = Field(default_factory=list)  # empty: every team
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class SlackChannelSettings(_AlertChannel):
    type: Literal["slack"]
    webhook_url: str

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url


class EmailChannelSettings(_AlertChannel):
    type: Literal["email"]
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    from_address: str
    to: list[str] = Field(min_length=1)


class WebhookChannelSettings(_AlertChannel):
    type: Literal["webhook"]
    url: str
    secret: str = Field(min_length=8)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url


AlertChannelSettings = Annotated[
    SlackChannelSettings | EmailChannelSettings | WebhookChannelSettings,
    Field(discriminator="type"),
]


class AlertsSettings(Section):
    channels: Annotated[dict[str, AlertChannelSettings], _empty_when_null(dict)] = Field(
        default_factory=dict
    )


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"  # json: one JSON object per line, for log shippers


_FRAME_ANCESTOR = re.compile(r"^(?:'self'|https?://(?:\*\.)?[A-Za-z0-9.-]+(?::\d{1,5})?)$")


class WidgetSettings(Section):
    """The agent widget: signed, expiring widget tokens and where the widget may be framed."""

    secret: str = Field(default=DEFAULT_WIDGET_SECRET, min_length=16)
    token_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)
    # how long an open widget may keep renewing its token from one issued link (one shift)
    session_max_seconds: int = Field(default=12 * 3600, ge=300, le=7 * 86_400)
    # how long the signed "Full transcript" link in a helpdesk note or the widget opens the page
    transcript_link_ttl_seconds: int = Field(default=30 * 86_400, ge=300, le=366 * 86_400)
    stream_seconds: float = Field(default=25.0, gt=0, le=300)
    frame_ancestors: Annotated[list[str], _empty_when_null(list)] = Field(default_factory=list)
    intercom_client_secret: str | None = Field(default=None, min_length=8)
    # The author Zendesk shows for the app `handoff widget package zendesk` builds (your team).
    app_author_name: str = Field(default="handoff-connector", min_length=1)
    app_author_email: str = Field(
        default=PLACEHOLDER_AUTHOR_EMAIL, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )

    @field_validator("frame_ancestors")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        # these go verbatim into a CSP header: only plain origins, so nothing can be injected
        for i, origin in enumerate(origins):
            if not _FRAME_ANCESTOR.match(origin):
                raise ValueError(
                    f"item {i}: {origin!r} is not an origin like https://example.zendesk.com or "
                    "https://*.zendesk.com (no path, no spaces)"
                )
        return origins


class ReportSettings(Section):
    """Targets the report and the dashboard mark KPIs against (docs/kpis.md)."""

    repeat_context_max: float = Field(default=0.05, ge=0, le=1)
    routing_accuracy_min: float = Field(default=0.90, ge=0, le=1)
    draft_usage_min: float = Field(default=0.50, ge=0, le=1)
    draft_usage_max: float = Field(default=0.70, ge=0, le=1)

    @model_validator(mode="after")
    def _band(self) -> ReportSettings:
        if self.draft_usage_min > self.draft_usage_max:
            raise ValueError("draft_usage_min must not be above draft_usage_max")
        return self


def _local_inbox_only() -> dict[str, dict[str, Any]]:
    return {"local": {}}


class Settings(Section):
    """The whole configuration. ``config.example.yaml`` documents every key of this model."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    destinations: dict[str, dict[str, Any]] = Field(default_factory=_local_inbox_only)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    payload: PayloadSettings = Field(default_factory=PayloadSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    reminders: RemindersSettings = Field(default_factory=RemindersSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    widget: WidgetSettings = Field(default_factory=WidgetSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    agents: Annotated[list[AgentSettings], _empty_when_null(list)] = Field(
        default_factory=list
    )  # connector/agent_config.py
    report: ReportSettings = Field(default_factory=ReportSettings)

    @field_validator("sources")
    @classmethod
    def _source_names(cls, sources: dict[str, SourceSettings]) -> dict[str, SourceSettings]:
        for name in sources:
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
                raise ValueError(f"source name {name!r}: use letters, digits, '_', '-', '.'")
        return sources

    @field_validator("destinations")
    @classmethod
    def _at_least_one(cls, dests: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if not dests:
            raise ValueError("configure at least one destination (the built-in one is 'local')")
        return {name: (value or {}) for name, value in dests.items()}

    def serving_problems(self) -> list[tuple[str, str]]:
        """``(key path, problem)`` that stop ``serve`` on ``server.host``, not ``load_config``: the
        same file must keep working on loopback, where tests and ``make run`` use short keys."""
        if self.server.is_loopback():
            return []
        return [
            (
                f"security.api_keys[{i}]",
                f"is {len(key)} characters; an API key must have at least "
                f"{MIN_PUBLIC_API_KEY_CHARS} to guard {self.server.host} (e.g. openssl rand -hex 24)",
            )
            for i, key in enumerate(self.security.api_keys)
            if len(key) < MIN_PUBLIC_API_KEY_CHARS
        ]

    def warnings(self) -> list[str]:
        """Things that are allowed but dangerous; printed loudly at start-up and by check-config."""
        out = []
        if not self.sources:  # valid (a store-only tool config), but nothing could post events
            out.append(
                "no bot sources (sources:): no bot can post events; add a sources.<name> block "
                "(config.example.yaml)"
            )
        if not self.server.is_loopback():
            for name, source in self.sources.items():
                if source.secret == DEMO_DEFAULT_SECRET:
                    out.append(
                        f"sources.{name}.secret is the documented local default while listening on "
                        f"{self.server.host}: anyone can forge events. Set HANDOFF_DEMO_SECRET."
                    )
            if DEFAULT_API_KEY in self.security.api_keys:
                out.append(
                    f"security.api_keys contains the documented local default while listening on "
                    f"{self.server.host}: set HANDOFF_API_KEY."
                )
            if self.widget.secret == DEFAULT_WIDGET_SECRET:
                out.append(
                    f"widget.secret is the documented local default while listening on "
                    f"{self.server.host}: anyone can mint widget tokens. Set HANDOFF_WIDGET_SECRET."
                )
        return out


# ---------------------------------------------------------------------------------------------

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(value: Any, path: str, env: dict[str, str], problems: list) -> Any:
    if isinstance(value, dict):
        return {
            k: _interpolate(v, f"{path}.{k}" if path else str(k), env, problems)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", env, problems) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append((path, f"environment variable {name} is not set"))
            return ""

        replaced = _ENV_REF.sub(replace, value)
        # an empty optional value (``${X:-}``) means "not set"
        return None if replaced == "" and value.strip().startswith("${") else replaced
    return value


def _set_path(data: dict[str, Any], keys: list[str], value: Any) -> None:
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


SHORTHANDS = {
    "HANDOFF_HOST": ["server", "host"],
    "HANDOFF_PORT": ["server", "port"],
    "HANDOFF_DB": ["store", "path"],
    "HANDOFF_STORE_URL": ["store", "url"],
    "HANDOFF_PUBLIC_URL": ["server", "public_url"],
}

# store.url and store.path are two spellings of one place (and backend a third, older one): an
# override of one replaces what the file said through the others, rather than disagreeing with it.
_STORE_LOCATION = ("url", "path", "backend")


def _env_overrides(data: dict[str, Any], env: dict[str, str]) -> dict[tuple[str, ...], str]:
    """Apply the ``HANDOFF_*`` overrides to ``data``; return which key path each variable set, so
    an error in an overridden value names the variable, not the file or the defaults."""
    store_keys_set: set[str] = set()
    origins: dict[tuple[str, ...], str] = {}
    for name in sorted(env):
        if not name.startswith("HANDOFF_"):
            continue
        if "__" in name:
            keys = [part.lower() for part in name[len("HANDOFF_") :].split("__")]
        elif name in SHORTHANDS:
            keys = SHORTHANDS[name]
        else:
            continue  # other HANDOFF_* variables are referenced from YAML as ${...}
        raw = env[name]
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        if keys[-1] in ("secret", "token", "password", "api_key"):
            value = raw  # secrets are strings, even when they look like numbers
        _set_path(data, keys, value)
        origins[tuple(keys)] = name
        if len(keys) == 2 and keys[0] == "store" and keys[1] in _STORE_LOCATION:
            store_keys_set.add(keys[1])
    store = data.get("store")
    if store_keys_set - {"backend"} and isinstance(store, dict):
        for key in _STORE_LOCATION:
            if key not in store_keys_set:
                store.pop(key, None)
    return origins


def _origin(loc: tuple[Any, ...], origins: dict[tuple[str, ...], str], env: dict[str, str]) -> str:
    """``set by HANDOFF_X=value`` when an environment override set the key at ``loc`` (or one
    above it), else ``""``. Secrets' values are not repeated."""
    path = tuple(str(part) for part in loc)
    for keys, name in origins.items():
        if path[: len(keys)] == keys:
            shown = "…" if keys[-1] in ("secret", "token", "password", "api_key") else env[name]
            return f"set by {name}={shown}"
    return ""


def _default_document() -> dict[str, Any]:
    """The built-in configuration, as a document: the same one ``config.example.yaml`` spells out."""
    data = Settings().model_dump(mode="json")
    data["security"]["api_keys"] = ["${HANDOFF_API_KEY:-" + DEFAULT_API_KEY + "}"]
    data["sources"] = {
        "demo": {
            "secret": "${HANDOFF_DEMO_SECRET:-" + DEMO_DEFAULT_SECRET + "}",
            "callback_url": "${HANDOFF_DEMO_CALLBACK_URL:-}",
        }
    }
    data["widget"]["secret"] = "${HANDOFF_WIDGET_SECRET:-" + DEFAULT_WIDGET_SECRET + "}"
    data["widget"]["intercom_client_secret"] = "${HANDOFF_INTERCOM_CLIENT_SECRET:-}"
    data["store"].update(path=None, backend=None)  # as in the example: the url alone says where
    return data


def load_config(
    path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None
) -> Settings:
    """Read, interpolate, override and validate. Raise ``ConfigError`` listing every problem.

    With no file, the built-in defaults apply: the same service ``config.example.yaml`` describes.
    """
    env = dict(os.environ if env is None else env)
    problems: list[tuple[str, str]] = []
    data = _default_document() if path is None else _read_document(Path(path))
    data = _interpolate(data, "", env, problems)
    origins = _env_overrides(data, env)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise _explained(exc, origins, env, problems) from exc
    if problems:
        raise ConfigError(problems)
    anchor_store(settings.store, _store_base(path, env, origins))
    for check in (
        lambda: check_policy(settings.policy, settings.routing),
        lambda: check_store(settings.store),
        lambda: check_destinations(settings),
        lambda: check_sources(settings),
        lambda: check_teams(settings),
        lambda: check_agents(settings.agents),
    ):
        problems.extend(check())
    if problems:
        raise ConfigError(problems)
    return settings


def _store_base(
    path: str | os.PathLike[str] | None, env: dict[str, str], origins: dict[tuple[str, ...], str]
) -> str | None:
    """What a relative SQLite store file is relative to: ``$HANDOFF_HOME`` when set, else the
    config file's folder; the working directory for the built-in defaults and for a file named by
    a ``HANDOFF_*`` override (a path typed in a shell means the shell's folder)."""
    if env.get("HANDOFF_HOME"):
        return env["HANDOFF_HOME"]
    if path is None or any(keys[:2] in (("store", "url"), ("store", "path")) for keys in origins):
        return None
    return str(Path(path).parent)


def _read_document(file: Path) -> dict[str, Any]:
    """The YAML file as a mapping, or ``ConfigError`` saying why not (with the line)."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([("", f"cannot read config file {file}: {exc.strerror or exc}")]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(
            [("", f"{file} is not valid YAML{where}: {getattr(exc, 'problem', exc)}")]
        ) from exc
    except ValueError as exc:  # a date or time that does not exist, such as 2026-02-30
        raise ConfigError(
            [("", f"{file}: {exc} (a date written as YYYY-MM-DD must exist)")]
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([("", f"{file} must contain a mapping of sections at the top level")])
    return data


def _explained(
    exc: ValidationError, origins: Any, env: dict[str, str], found: list[tuple[str, str]]
) -> ConfigError:
    """The problems ``found`` so far (an unset ``${VAR}``) and every validation problem, each with
    its key path, and a hint where one helps (a close key name, the variable that set the value)."""
    problems = list(found)
    hints: dict[str, str] = {}
    for err in exc.errors():
        msg = validation_message(err)
        loc, _ = key_paths.locate(Settings, err["loc"])
        path = key_paths.dotted(loc)
        hint = [_origin(loc, origins, env)]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
            hint.insert(0, key_paths.did_you_mean(Settings, err["loc"]))
        elif err["type"] == "missing":
            msg = "required key is missing"
        problems.append((path, msg))
        if any(hint):
            hints.setdefault(path, "; ".join(h for h in hint if h))
    return ConfigError(problems, hints)


def check_policy(policy: PolicySettings, routing: RoutingSettings) -> list[tuple[str, str]]:
    """Checks across sections: every team a rule names must be a routing team."""
    problems: list[tuple[str, str]] = []
    teams = list(routing.teams)
    for i, rule in enumerate(policy.rules):
        team = rule.then.team
        if team is not None and team not in routing.teams:
            close = difflib.get_close_matches(team, teams, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                (
                    f"policy.rules[{i}].then.team",
                    f"unknown team {team!r}{hint}; teams: {', '.join(teams)}",
                )
            )
    return problems


def check_destinations(settings: Settings) -> list[tuple[str, str]]:
    """Resolve each configured destination and let it validate its own keys."""
    from integrations.base import destination_class

    problems: list[tuple[str, str]] = []
    for name, dest_settings in settings.destinations.items():
        try:
            cls = destination_class(name)
            validate = getattr(cls, "validate_settings", None)
            if validate is not None:
                problems.extend(
                    (f"destinations.{name}.{p}" if p else f"destinations.{name}", m)
                    for p, m in validate(dest_settings)
                )
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems


def check_sources(settings: Settings) -> list[tuple[str, str]]:
    """Resolve each source's channel and let it check the source's keys."""
    from channels.base import channel_class

    problems: list[tuple[str, str]] = []
    for name, source in settings.sources.items():
        try:
            cls = channel_class(source.channel, key_path=f"sources.{name}.channel")
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(
            (f"sources.{name}.{path}", msg)
            for path, msg in cls.validate_settings(source.channel_settings)
        )
    return problems


def check_teams(settings: Settings) -> list[tuple[str, str]]:
    """Every team named by ``reminders`` or ``alerts`` must be one of ``routing.teams``."""
    known = set(settings.routing.teams)
    problems: list[tuple[str, str]] = []

    def check(path: str, team: str | None) -> None:
        if team is not None and team not in known:
            problems.append((path, f"unknown team {team!r}; known: {', '.join(sorted(known))}"))

    reminders = settings.reminders
    check("reminders.fallback.team", reminders.fallback.team)
    for name, team in reminders.teams.items():
        check(f"reminders.teams.{name}", name)
        if team.fallback is not None:
            check(f"reminders.teams.{name}.fallback.team", team.fallback.team)
    for name, channel in settings.alerts.channels.items():
        for i, team_name in enumerate(channel.teams):
            check(f"alerts.channels.{name}.teams[{i}]", team_name)
    return problems


def configure_logging(settings: Settings) -> None:
    """Root logging as ``logging:`` says: level, and text or JSON lines with their ids
    (``connector/logs.py``)."""
    from connector.logs import configure

    configure(settings.logging.level, settings.logging.format)
