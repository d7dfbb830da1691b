"""The ``routing`` section of the configuration: teams, their hours and on-call, and what the
customer is told about the wait, per language. ``connector/routing.py`` applies it.
"""

from __future__ import annotations

import re
import string
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from connector.per_settings import PerSettings
from connector.policy_config import Section
from connector.routing_messages import CLOSED_MESSAGES, DEFAULT_MESSAGES, template
from connector.signals.text import check_terms

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(
    r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<h1>\d\d):(?P<m1>\d\d)-(?P<h2>\d\d):(?P<m2>\d\d)$"
)


def parse_hours(spec: str) -> tuple[list[int], int, int]:
    """``"mon-fri 09:00-17:30"`` → (weekdays 0-6, start minute, end minute). Raises ValueError."""
    m = _HOURS.match(spec.strip().lower())
    if not m:
        raise ValueError(f"{spec!r}: write it as 'mon-fri 09:00-17:00' or 'sat 10:00-14:00'")
    d1, d2 = m["d1"], m["d2"] or m["d1"]
    for day in (d1, d2):
        if day not in DAYS:
            raise ValueError(f"{spec!r}: unknown day {day!r} (use {', '.join(DAYS)})")
    start = int(m["h1"]) * 60 + int(m["m1"])
    end = int(m["h2"]) * 60 + int(m["m2"])
    if int(m["m1"]) > 59 or int(m["m2"]) > 59 or start >= 24 * 60 or end > 24 * 60:
        raise ValueError(f"{spec!r}: times run from 00:00 to 24:00")
    if end <= start:
        raise ValueError(f"{spec!r}: the end must be after the start; split overnight spans in two")
    a, b = DAYS.index(d1), DAYS.index(d2)
    days = list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]
    return days, start, end


def _iso_day(day: Any) -> bool:
    """A date, or its ISO text ``2026-12-25`` (YAML reads an unquoted one as a date already)."""
    if isinstance(day, date):
        return True
    if not isinstance(day, str) or not re.fullmatch(r"\d{4}-\d\d-\d\d", day):
        return False
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


class TeamSettings(Section):
    queue: str | None = None
    wait_minutes: int = Field(default=5, ge=0, le=24 * 60)
    skills: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
    hours: list[str] = Field(default_factory=list)
    on_call: str | None = None
    on_call_wait_minutes: int = Field(default=30, ge=0, le=24 * 60)
    # Whole days the team is closed although its hours say open (public holidays), as ISO dates
    # in the team's time zone: no response window counts them, and nobody is promised on them.
    holidays: list[date] = Field(default_factory=list)
    # What the intent → team classifier looks for; None: the built-in list for this team name.
    keywords: list[str] | None = None
    examples: list[str] | None = None
    # Bridge messages (connector/live.py), by language ("en", "fr", …; "*" for any other), with
    # {agent}, {team}, {topic}: the agent's first words when they take over (None: none; {}: the
    # ``join`` line of ``routing.messages``), and what the bot relays when the agent hands back
    # ({}: nothing).
    # Off by default: a bot that relays every customer.update would otherwise change behaviour.
    bridge_join: dict[str, str] | None = None
    bridge_handback: dict[str, str] = Field(default_factory=dict)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, keywords: list[str] | None) -> list[str] | None:
        if keywords:
            check_terms(keywords)
        return keywords

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {zone!r} (an IANA name such as Europe/Paris)"
            ) from exc
        return zone

    @field_validator("holidays", mode="before")
    @classmethod
    def _holidays(cls, holidays: Any) -> Any:
        for i, day in enumerate(holidays if isinstance(holidays, list) else ()):
            if not _iso_day(day):
                raise ValueError(f"item {i}: {day!r} is not a date; write it as 2026-12-25")
        return holidays

    @field_validator("hours")
    @classmethod
    def _hours(cls, hours: list[str]) -> list[str]:
        for i, spec in enumerate(hours):
            try:
                parse_hours(spec)
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from exc
        return hours


MESSAGE_FIELDS = {"wait": "{wait}", "on_call": "{wait}", "unavailable": "{callback_time}"}
PLACEHOLDERS = frozenset({"wait", "callback_time", "team", "agent", "topic"})
OPTIONAL_MESSAGES = (
    "reminder",
    "callback_offer",
    "reroute",
    "join",
    "your_request",
    *CLOSED_MESSAGES["en"],
)


class MessageTemplates(Section):
    """What the customer is told, per language (``connector/routing_messages.py``). Placeholders:
    {wait}, {callback_time}, {team}, {agent}, {topic}. The optional lines left out come from the
    built-in lines of the language, then English."""

    wait: str
    on_call: str
    unavailable: str
    reminder: str | None = None
    callback_offer: str | None = None
    reroute: str | None = None
    join: str | None = None
    your_request: str | None = None
    # While the team is closed (connector/routing_messages.CLOSED_MESSAGES): the handoff notice
    # (after_hours; after_hours_email when no opening is known; wait_closing when it closes before
    # the wait is up) and reminders whose next update falls after a closed stretch.
    after_hours: str | None = None
    after_hours_email: str | None = None
    wait_closing: str | None = None
    reminder_later: str | None = None
    callback_offer_later: str | None = None
    reroute_later: str | None = None

    @model_validator(mode="after")
    def _placeholders(self) -> MessageTemplates:
        for name in (*MESSAGE_FIELDS, *OPTIONAL_MESSAGES):
            text = getattr(self, name)
            if text is None:
                continue
            try:
                used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from exc
            unknown = used - PLACEHOLDERS
            if unknown:
                raise ValueError(
                    f"{name}: unknown placeholder(s) {sorted(unknown)}; "
                    f"use {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}"
                )
        return self


def default_teams() -> dict[str, TeamSettings]:
    weekdays = ["mon-fri 08:00-20:00"]
    return {
        "general": TeamSettings(queue="support", wait_minutes=5, skills=["general"]),
        "billing": TeamSettings(queue="billing", wait_minutes=10, skills=["billing", "refunds"],
                                timezone="Europe/London", hours=weekdays),
        "technical": TeamSettings(queue="tech-support", wait_minutes=10, skills=["technical"],
                                  timezone="Europe/London", hours=["mon-sun 07:00-23:00"],
                                  on_call="tech-on-call", on_call_wait_minutes=30),
        "fraud": TeamSettings(queue="fraud", wait_minutes=3, skills=["fraud", "security"]),
        "retention": TeamSettings(queue="retention", wait_minutes=10, skills=["retention"],
                                  timezone="Europe/London", hours=["mon-sat 08:00-20:00"]),
        "sales": TeamSettings(queue="sales", wait_minutes=5, skills=["sales"],
                              timezone="America/New_York", hours=["mon-fri 09:00-18:00"]),
        "partners": TeamSettings(queue="partners", wait_minutes=60, skills=["procurement"],
                                 timezone="Europe/London", hours=["mon-fri 09:00-17:00"]),
    }  # fmt: skip


class RoutingSettings(Section):
    default_team: str = "general"
    default_language: str = "en"
    priority_tags: list[str] = Field(default_factory=lambda: ["vip"])
    priority_tiers: list[str] = Field(default_factory=lambda: ["gold", "platinum", "enterprise"])
    wait_history: int = Field(default=20, ge=1, le=1000)
    wait_min_samples: int = Field(default=3, ge=1, le=1000)
    wait_percentile: int = Field(default=75, ge=1, le=100)
    # The built-in lines, less the closed-team ones: those are looked up (``message``) in
    # CLOSED_MESSAGES when a language does not set them, as config.example.yaml shows.
    messages: dict[str, MessageTemplates] = Field(
        default_factory=lambda: {
            lang: MessageTemplates(
                **{k: v for k, v in lines.items() if k not in CLOSED_MESSAGES["en"]}
            )
            for lang, lines in DEFAULT_MESSAGES.items()
        }
    )
    teams: dict[str, TeamSettings] = Field(default_factory=default_teams)

    @model_validator(mode="after")
    def _consistent(self) -> RoutingSettings:
        if self.default_team not in self.teams:
            raise ValueError(f"default_team {self.default_team!r} is not one of teams")
        if self.default_language not in self.messages:
            raise ValueError(f"default_language {self.default_language!r} has no messages")
        return self

    def message(self, language: str | None, name: str) -> tuple[str, str]:
        """(language, template) of what the customer is told (``routing_messages.template``)."""
        return template(_configured(self), language, name, self.default_language)


_CONFIGURED = PerSettings(limit=64)


def _configured(settings: RoutingSettings) -> dict[str, dict[str, Any]]:
    """``settings.messages`` as plain dicts. Dumping every language costs more than routing the
    handoff, and every escalation asks two or three times: once per settings object
    (``connector/per_settings.py``)."""
    configured: dict[str, dict[str, Any]] = _CONFIGURED.get(
        settings, lambda s: {lang: lines.model_dump() for lang, lines in s.messages.items()}
    )
    return configured
