"""ServiceNow settings and the case builder: ``destinations.servicenow`` and a payload → case record.

Pure: no I/O, no clock. ``build_case`` is the "build" step of ``ServiceNowDestination``
(``destination.py``); ``render_work_note`` is the handoff as a work note (agents only: the
customer-visible journal, ``comments``, never carries it).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from connector.schemas import HandoffPayload
from integrations.base import DestinationSettings, rule

SYS_ID = r"^[0-9a-f]{32}$"
FIELD = r"^[a-z][a-z0-9_]{0,79}$"
# what a payload value can be written to (``fields``), each read from the payload in ``_values``
MappedValue = Literal["summary", "intent", "sentiment", "reason", "handoff_id", "confidence", "team",
                      "widget_url", "language", "tier", "channel", "conversation_id"]  # fmt: skip
# a value inside an encoded query: ServiceNow has no quoting, ``^`` separates terms
QUERY_SAFE = re.compile(r"^[^\^\s]{1,200}$")
_CODE_TAG = re.compile(r"\[(/?)code\]", re.I)


Priority = Literal["low", "normal", "high", "urgent"]
CasePriority = Literal["1", "2", "3", "4"]  # 1 critical … 4 low, as the case's choice list has it


def _default_priorities() -> dict[Priority, CasePriority]:
    return {"urgent": "1", "high": "2", "normal": "3", "low": "4"}


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


class OAuthClient(BaseModel):
    """OAuth 2.0 client credentials (an Application Registry entry with that grant enabled)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)


class Auth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    basic: BasicAuth | None = None
    oauth: OAuthClient | None = None


class ServiceNowSettings(DestinationSettings):
    """``destinations.servicenow`` (every key is documented in ``docs/servicenow.md``)."""

    instance_url: Annotated[str, rule(lambda v: isinstance(v, str) and bool(
        re.match(r"^https://[A-Za-z0-9.-]+(:\d+)?/?$", v)),
        "the instance's https:// address, e.g. https://acme.service-now.com")]  # fmt: skip
    auth: Auth
    integration_user: str | None = Field(default=None, min_length=1)
    table: str = Field(default="sn_customerservice_case", pattern=FIELD)
    assignment_groups: dict[str, Annotated[str, Field(pattern=SYS_ID)]] = Field(
        default_factory=dict
    )
    priority_map: dict[Priority, CasePriority] = Field(default_factory=_default_priorities)
    fields: dict[MappedValue, Annotated[str, Field(pattern=FIELD)]] = Field(default_factory=dict)
    contact_type: str | None = Field(default=None, min_length=1)
    contact_lookup: bool = False
    webhook_secret: str | None = Field(default=None, min_length=16)
    requests_per_minute: int = Field(default=300, ge=1, le=10_000)
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @classmethod
    def key_problems(cls, raw: dict[str, Any], parsed: Self | None) -> list[tuple[str, str]]:
        if parsed is None:
            return []
        problems = []
        given = [k for k in ("basic", "oauth") if getattr(parsed.auth, k) is not None]
        if len(given) != 1:
            problems.append(("auth", "give exactly one of basic, oauth"))
        if parsed.auth.oauth is not None and not parsed.integration_user:
            problems.append(("integration_user", "required with oauth: the user_name the OAuth "
                             "client acts as (its own updates are echoes)"))  # fmt: skip
        return problems

    @property
    def api_user(self) -> str:
        """The user_name the connector writes as (its webhooks are echoes and mean nothing)."""
        if self.integration_user:
            return self.integration_user
        return self.auth.basic.username if self.auth.basic else ""


def note_reference(key: str) -> str:
    """The text that marks a work note as ours and says which delivery made it."""
    return f"handoff-connector ref {key}"


def plain(text: str) -> str:
    """Customer or bot text made safe for a journal field: ``[code]`` would switch ServiceNow's
    journal to raw HTML, so the tag is broken up wherever it appears."""
    return _CODE_TAG.sub(lambda m: f"({m.group(1)}code)", text)


def render_work_note(payload: HandoffPayload, widget_url: str) -> str:
    """The payload as a plain-text work note; every piece of outside text goes through ``plain``."""
    lines = [f"Handoff from the bot ({payload.routing.priority} priority)", "",
             f"Summary: {payload.summary}"]  # fmt: skip
    reasons = "; ".join(r.trigger + (f" ({r.detail})" if r.detail else "")
                        for r in payload.escalation.reasons)  # fmt: skip
    if reasons:
        lines.append(f"Why a person: {reasons}")
    if payload.draft_reply:
        lines += ["Draft reply (edit before sending):", payload.draft_reply]
    if payload.next_action:
        lines.append(f"Next action: {payload.next_action.action} — {payload.next_action.reasoning}")
    for cited in payload.citations:
        source = f"Source: {cited.title} {cited.url or ''}".rstrip()
        lines.append(source + (f": {cited.snippet}" if cited.snippet else ""))
    if payload.sentiment:
        s = payload.sentiment
        lines.append(f"Sentiment: {s.label} (score {s.score:+.2f}, {s.trend})")
    if payload.intent.name:
        conf = (
            f", confidence {payload.intent.confidence:.2f}"
            if payload.intent.confidence is not None
            else ""
        )
        lines.append(f"Intent: {payload.intent.name} ({payload.intent.source}{conf})")
    c = payload.customer
    who = ", ".join(str(v) for v in (c.name, c.email, c.tier, c.language, c.channel) if v)
    if who:
        lines.append(f"Customer: {who}")
    lines.append(f"Open the handoff: {widget_url}")
    if payload.transcript.url:
        lines.append(f"Full transcript: {payload.transcript.url}")
    lines += ["", note_reference(payload.handoff_id)]
    return plain("\n".join(lines))


def _values(payload: HandoffPayload, widget_url: str) -> dict[str, Any]:
    c, intent = payload.customer, payload.intent
    return {
        "summary": payload.summary, "intent": intent.name,
        "sentiment": payload.sentiment.label.lower() if payload.sentiment else None,
        "reason": payload.escalation.reasons[0].trigger if payload.escalation.reasons else None,
        "handoff_id": payload.handoff_id,
        "confidence": None if intent.confidence is None else f"{intent.confidence:.2f}",
        "team": payload.routing.team, "widget_url": widget_url, "language": c.language,
        "tier": c.tier, "channel": c.channel, "conversation_id": payload.conversation_id,
    }  # fmt: skip


def build_case(
    payload: HandoffPayload, settings: ServiceNowSettings, widget_url: str
) -> dict[str, Any]:
    """The record of ``POST /api/now/table/<table>``: plain JSON data, no I/O.

    ``correlation_id`` (a field every task-based table has) is the handoff id, so a retry finds the
    case; ``work_notes`` carries the handoff in the same request as the case, so finding the case
    means finding the note. ``contact``/``account`` are added by the destination after its lookup.
    """
    first = (payload.summary.strip().splitlines() or ["Handoff from the bot"])[0]
    case: dict[str, Any] = {
        "short_description": plain(f"[Handoff] {first}")[:160],
        "description": plain(payload.summary),
        "work_notes": render_work_note(payload, widget_url),
        "priority": settings.priority_map.get(payload.routing.priority, "3"),
        "correlation_id": payload.handoff_id,
        "correlation_display": "handoff-connector",
    }
    group = settings.assignment_groups.get(payload.routing.team or "")
    if group:
        case["assignment_group"] = group
    if settings.contact_type:
        case["contact_type"] = settings.contact_type
    values = _values(payload, widget_url)
    for key, field in settings.fields.items():
        if values.get(key) is not None:
            case[field] = plain(str(values[key]))
    return case


def case_changes(fields: dict[str, Any], settings: ServiceNowSettings) -> dict[str, Any]:
    """What an ``update`` writes: the mapped priority and the team's assignment group, if known."""
    change: dict[str, Any] = {}
    if fields.get("priority") in settings.priority_map:
        change["priority"] = settings.priority_map[fields["priority"]]
    team = fields.get("team")
    if team and team in settings.assignment_groups:
        change["assignment_group"] = settings.assignment_groups[team]
        if "team" in settings.fields:
            change[settings.fields["team"]] = team
    return change


def encoded_query(**terms: str) -> str:
    """An encoded query ``a=x^b=y^ORDERBYsys_created_on``; raises ``ValueError`` for a value that
    cannot be written in one (ServiceNow has no quoting)."""
    for value in terms.values():
        if not QUERY_SAFE.match(value):
            raise ValueError(f"cannot look up {value!r} in ServiceNow (no ^ or spaces)")
    return "^".join(f"{k}={v}" for k, v in terms.items()) + "^ORDERBYsys_created_on"
