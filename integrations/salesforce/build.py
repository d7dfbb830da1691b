"""Salesforce settings and the Case builder: ``destinations.salesforce`` → Case fields, headers, note.

No I/O but two file checks (``ca_bundle`` and the JWT key must exist), no clock. ``validate`` lists
every problem of the settings model with its key path (``handoff check-config``); ``build_case`` is
the "build" step of the Salesforce destination (``destination.py``), unit-tested on its own.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from connector.schemas import HandoffPayload
from integrations.base import DestinationSettings, config_error, contact, rule, settings_problems

MARKER = "[handoff-connector ref:"
COMMENT_MAX_BYTES = 4000  # CaseComment.CommentBody
FEED_MAX_CHARS = 10_000  # FeedItem.Body
LOGIN_URLS = {"login": "https://login.salesforce.com", "test": "https://test.salesforce.com"}
DEFAULT_PRIORITY_MAP = {"urgent": "High", "high": "High", "normal": "Medium", "low": "Low"}
# what ``fields`` may map to custom fields: payload item -> how to read it
FIELD_ITEMS = {
    "summary": lambda p, url: p.summary,
    "widget_url": lambda p, url: url,
    "intent": lambda p, url: p.intent.name,
    "confidence": lambda p, url: p.intent.confidence,
    "sentiment": lambda p, url: p.sentiment.label if p.sentiment else None,
    "team": lambda p, url: p.routing.team,
    "queue": lambda p, url: p.routing.queue,
    "priority": lambda p, url: p.routing.priority,
    "reason": lambda p, url: ", ".join(r.trigger for r in p.escalation.reasons) or None,
    "language": lambda p, url: p.customer.language or p.routing.language,
    "tier": lambda p, url: p.customer.tier,
    "conversation_id": lambda p, url: p.conversation_id,
    "next_action": lambda p, url: p.next_action.action if p.next_action else None,
    "draft_reply": lambda p, url: p.draft_reply,
}
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
AUTH_MODES = {
    "client_credentials": ("client_id", "client_secret"),
    "jwt": ("client_id", "username", "private_key_file"),
    "session": ("session_id",),
}


# --- settings ---------------------------------------------------------------------------------


def _is_id(value: Any, prefix: str) -> bool:
    return isinstance(value, str) and bool(_ID.match(value)) and value.startswith(prefix)


def _number_in(value: Any, top: float) -> bool:
    return isinstance(value, int | float) and 0 < value <= top


def _record_id(prefix: str, what: str) -> Any:
    """A Salesforce record id of one kind (by its key prefix), with the message check-config shows."""
    return rule(
        lambda v: _is_id(v, prefix),
        lambda v: f"{v!r} is not a {what} id (15 or 18 characters starting with {prefix})",
    )


def _ids(what: str) -> Any:
    return rule(lambda v: isinstance(v, dict), f"must be a mapping of name -> {what} id")


def _optional_id(prefix: str) -> Any:
    return rule(lambda v: v is None or _is_id(v, prefix),
                f"must be a Salesforce id starting with {prefix}")  # fmt: skip


def _custom_field(value: Any) -> bool:
    return isinstance(value, str) and value.endswith("__c") and bool(_API_NAME.match(value))


CUSTOM_FIELD = "must be a custom field API name ending in __c"
ONE_AUTH = "set exactly one of client_credentials, jwt or session"
ApiName = Annotated[
    str,
    rule(lambda v: isinstance(v, str) and bool(_API_NAME.match(v)),
         lambda v: f"{v!r} is not a field API name"),
]  # fmt: skip


class OmniChannel(BaseModel):
    """``destinations.salesforce.omni_channel``: skills-based routing of each Case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_channel_id: Annotated[
        str, rule(lambda v: _is_id(v, "0N9"), "must be a ServiceChannel id (0N9…)")
    ]
    routing_type: Annotated[
        str,
        rule(lambda v: v == "SkillsBased",
             "only SkillsBased is supported; for queue-based routing use queue_ids"),
    ] = "SkillsBased"  # fmt: skip
    skill_ids: Annotated[dict[str, Annotated[str, _record_id("0C5", "Skill")]], _ids("Skill")] = (
        Field(default_factory=dict)
    )
    capacity_weight: Annotated[
        float, rule(lambda v: _number_in(v, 1000), "must be a number above 0")
    ] = 1.0
    routing_priority: int = 1


class SalesforceSettings(DestinationSettings):
    """``destinations.salesforce`` (every key is documented in ``docs/salesforce.md``).

    Rules that span keys (the ``auth`` block, ``domain`` with ``instance_url``, the webhook pair)
    are in ``key_problems``, so they are reported with the other problems in one go.
    """

    instance_url: Annotated[
        str | None,
        rule(lambda v: v is None or (isinstance(v, str) and bool(re.match(r"^https://[^\s/]+/?$", v))),
             "must be https://<host> (your My Domain URL), no path"),
    ] = None  # fmt: skip
    domain: Annotated[
        Literal["login", "test", "custom"],
        rule(lambda v: v in ("login", "test", "custom"),
             "must be login, test or custom (the instance_url's My Domain)"),
    ] = "login"  # fmt: skip
    # YAML reads 59.0 as a number: the version is its text (the right-most validator runs first)
    api_version: Annotated[
        str, rule(lambda v: bool(re.fullmatch(r"\d{2}\.0", v)), "must look like 59.0"),
        BeforeValidator(str),
    ] = "59.0"  # fmt: skip
    auth: Annotated[dict[str, Any], rule(lambda v: isinstance(v, dict), ONE_AUTH)] = Field(
        default_factory=dict
    )
    external_id_field: Annotated[str, rule(_custom_field, CUSTOM_FIELD)] = "Handoff_Id__c"
    fields: Annotated[
        dict[str, ApiName],
        rule(lambda v: isinstance(v, dict), "must be a mapping of payload item -> field API name"),
    ] = Field(default_factory=dict)
    origin: str = "Web"
    status: str = "New"
    priority_map: Annotated[
        dict[str, str],
        rule(lambda v: isinstance(v, dict) and not set(v) - set(DEFAULT_PRIORITY_MAP),
             "keys must be among low, normal, high, urgent"),
    ] = Field(default_factory=lambda: dict(DEFAULT_PRIORITY_MAP))  # fmt: skip
    queue_ids: Annotated[dict[str, Annotated[str, _record_id("00G", "queue")]], _ids("queue")] = (
        Field(default_factory=dict)
    )
    omni_channel: Annotated[
        OmniChannel | None, rule(lambda v: v is None or isinstance(v, dict), "must be a mapping")
    ] = None
    note_as: Annotated[
        Literal["CaseComment", "FeedItem"],
        rule(lambda v: v in ("CaseComment", "FeedItem"), "must be CaseComment or FeedItem"),
    ] = "CaseComment"
    webhook_secret: Annotated[
        str | None,
        rule(lambda v: v is None or (isinstance(v, str) and len(v) >= 16),
             "must be at least 16 characters"),
    ] = None  # fmt: skip
    org_id: Annotated[str | None, _optional_id("00D")] = None
    integration_user_id: Annotated[str | None, _optional_id("005")] = None
    handback_status: str | None = None
    handback_field: Annotated[
        str | None, rule(lambda v: v is None or _custom_field(v), CUSTOM_FIELD)
    ] = None
    requests_per_minute: Annotated[
        float, rule(lambda v: _number_in(v, 100_000), "must be a number above 0")
    ] = 60.0
    timeout_seconds: Annotated[
        float,
        rule(lambda v: _number_in(v, 120), "must be a number of seconds, above 0, at most 120"),
    ] = 10.0
    ca_bundle: Annotated[
        str | None, rule(lambda v: v is None or Path(str(v)).is_file(), "file not found")
    ] = None

    @field_validator("instance_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return (value or "").rstrip("/") or None

    @field_validator("priority_map")
    @classmethod
    def _over_the_defaults(cls, value: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_PRIORITY_MAP, **value}

    @property
    def auth_mode(self) -> str:
        """``client_credentials``, ``jwt`` or ``session``: the one key of ``auth``."""
        return next(iter(self.auth))

    @property
    def credentials(self) -> dict[str, str]:
        """The values under ``auth.<mode>``, as text."""
        values = self.auth[self.auth_mode] or {}
        return {k: str(v) for k, v in values.items()}

    @classmethod
    def key_problems(
        cls, raw: dict[str, Any], parsed: SalesforceSettings | None
    ) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        domain, url = raw.get("domain", "login"), raw.get("instance_url")
        auth = raw.get("auth", {})
        if not isinstance(auth, dict):
            pass  # the field's own rule says so
        elif len(auth) != 1 or next(iter(auth)) not in AUTH_MODES:
            problems.append(("auth", ONE_AUTH))
        else:
            mode, values = next(iter(auth.items()))
            values = values if isinstance(values, dict) else {}
            for key in AUTH_MODES[mode]:
                if not values.get(key):
                    problems.append((f"auth.{mode}.{key}", "required key is missing"))
            for key in sorted(set(values) - set(AUTH_MODES[mode]) - {"audience"}):
                problems.append((f"auth.{mode}.{key}", "unknown key"))
            key_file = values.get("private_key_file")
            if mode == "jwt" and key_file and not Path(key_file).is_file():
                problems.append(("auth.jwt.private_key_file", "file not found"))
            if mode == "client_credentials" and domain != "custom":
                problems.append(("domain", "the client credentials flow only works on your My "
                                 "Domain: set domain: custom and instance_url"))  # fmt: skip
            if (mode == "session" or domain == "custom") and not url:
                needs = "auth.session" if mode == "session" else "domain: custom"
                problems.append(("instance_url", f"required with {needs}"))
        fields = raw.get("fields", {})
        for item in fields if isinstance(fields, dict) else ():
            if item not in FIELD_ITEMS:
                problems.append(
                    (f"fields.{item}", f"unknown item; known: {', '.join(sorted(FIELD_ITEMS))}")
                )
        secret = raw.get("webhook_secret")
        if (secret is None) != (raw.get("org_id") is None):
            problems.append((
                "webhook_secret" if secret is None else "org_id",
                "webhook_secret and org_id go together (both are checked on every webhook)",
            ))  # fmt: skip
        return problems


KEYS = tuple(SalesforceSettings.model_fields)  # every key of destinations.salesforce


def validate(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """Every problem of ``destinations.salesforce``, as (key path below it, message)."""
    return settings_problems(SalesforceSettings, settings)[1]


def parse_settings(settings: dict[str, Any]) -> SalesforceSettings:
    """``destinations.salesforce`` parsed, or ``ConfigError`` naming every problem's key path."""
    parsed, problems = settings_problems(SalesforceSettings, settings)
    if problems or parsed is None:
        raise config_error("salesforce", problems)
    return parsed


# --- build: payload -> Case, without I/O ----------------------------------------------------


@dataclass(frozen=True)
class CaseRequest:
    """What ``deliver`` sends: the Case fields, the request headers, the note and the skills."""

    fields: dict[str, Any]
    headers: dict[str, str]
    note_object: str
    note_fields: dict[str, Any]  # without ParentId
    marker: str
    skill_ids: list[str]


def marker_for(key: str) -> str:
    return f"{MARKER}{hashlib.sha256(key.encode()).hexdigest()[:16]}]"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _payload_lines(payload: HandoffPayload, widget_url: str) -> list[tuple[str, str]]:
    """(label, text) pairs of the note, most important first; the transcript comes last."""
    c, i = payload.customer, payload.intent
    who = (
        ", ".join(
            x for x in (c.name, c.email, c.tier and f"tier {c.tier}", c.language, c.channel) if x
        )
        or "unknown"
    )
    out = [
        ("Summary", payload.summary),
        ("Customer", who + (f"; tags: {', '.join(c.tags)}" if c.tags else "")),
    ]
    if i.name:
        conf = f" ({i.confidence:.0%}, from the {i.source})" if i.confidence is not None else ""
        out.append(("Intent", f"{i.name}{' / ' + i.sub_intent if i.sub_intent else ''}{conf}"))
    if payload.sentiment:
        out.append(("Sentiment", f"{payload.sentiment.label} ({payload.sentiment.trend})"))
    reasons = "; ".join(
        f"{r.trigger}: {r.detail}" if r.detail else r.trigger for r in payload.escalation.reasons
    )
    out.append(("Why escalated", reasons or "not recorded"))
    if payload.next_action:
        out.append(
            ("Next action", f"{payload.next_action.action} ({payload.next_action.reasoning})")
        )
    if payload.draft_reply:
        out.append(("Draft reply", payload.draft_reply))
    for citation in payload.citations:
        out.append(("Source", f"{citation.title} {citation.url or ''}".strip()))
    out.append(("Handoff", widget_url))
    for turn in payload.transcript.turns:
        out.append((turn.role, turn.text))
    return out


def _shrink(items: list[tuple[str, str]]) -> None:
    """Drop the oldest transcript turn, or the last line when no turn is left."""
    items.pop(
        next(
            (
                n
                for n, (label, _) in enumerate(items)
                if label in ("customer", "bot", "agent", "system")
            ),
            len(items) - 1,
        )
    )


def render_text(lines: list[tuple[str, str]], marker: str, max_bytes: int) -> str:
    """Plain text under ``max_bytes`` (UTF-8): the oldest transcript turns go first, then clip."""

    def text(items: list[tuple[str, str]]) -> str:
        return "\n".join(f"{label}: {value}" for label, value in items) + f"\n{marker}"

    items = list(lines)
    while len(text(items).encode()) > max_bytes and len(items) > 1:
        _shrink(items)
    body = text(items)
    if len(body.encode()) > max_bytes:
        room = max_bytes - len(marker.encode()) - 2
        body = body.encode()[:room].decode(errors="ignore") + "…\n" + marker
    return body


def render_html(lines: list[tuple[str, str]], marker: str, max_chars: int) -> str:
    """FeedItem rich text (``<p>``, ``<b>`` only), every value escaped, under ``max_chars``."""

    def para(label: str, value: str) -> str:
        return f"<p><b>{html.escape(label)}:</b> {html.escape(value)}</p>"

    items = list(lines)
    tail = f"<p>{html.escape(marker)}</p>"
    while sum(len(para(*x)) for x in items) + len(tail) > max_chars and len(items) > 1:
        _shrink(items)
    return "".join(para(*x) for x in items)[: max_chars - len(tail)] + tail


def build_case(
    payload: HandoffPayload, settings: SalesforceSettings, widget_url: str
) -> CaseRequest:
    """The Case fields, headers and internal note for one handoff. Pure: no I/O, no clock."""
    routing, customer = payload.routing, payload.customer
    fields: dict[str, Any] = {
        "Subject": _clip(f"Handoff: {payload.summary}", 255),
        "Description": payload.summary[:32_000],
        "Origin": settings.origin,
        "Status": settings.status,
        "Priority": settings.priority_map.get(routing.priority, "Medium"),
    }
    # Case.SuppliedName/Email hold 80 characters, SuppliedPhone 40; an e-mail or phone that does
    # not fit (or is not one) is left out with a line in the note, never clipped into a wrong one
    checked = contact(
        customer.name,
        customer.email,
        customer.phone,
        name_max=80,
        phone_max=40,
        email_max=80,
        vendor="Salesforce",
    )
    for key, value in (
        ("SuppliedName", checked.name),
        ("SuppliedEmail", checked.email),
        ("SuppliedPhone", checked.phone),
    ):
        if value:
            fields[key] = value
    for item, api_name in settings.fields.items():
        value = FIELD_ITEMS[item](payload, widget_url)
        if value is not None:
            fields[api_name] = value if isinstance(value, float | int) else str(value)[:32_000]
    headers: dict[str, str] = {}
    skill_ids: list[str] = []
    queue = settings.queue_ids.get(routing.team or "") or settings.queue_ids.get("default")
    if settings.omni_channel is not None:
        wanted = [routing.team or "", *routing.skills]
        skill_ids = list(
            dict.fromkeys(
                settings.omni_channel.skill_ids[name]
                for name in wanted
                if name in settings.omni_channel.skill_ids
            )
        )
        headers["Sforce-Auto-Assign"] = "FALSE"  # Omni-Channel routes it, not assignment rules
    elif queue:
        fields["OwnerId"] = queue
        headers["Sforce-Auto-Assign"] = "FALSE"
    marker = marker_for(f"payload:{payload.handoff_id}")
    lines = _payload_lines(payload, widget_url)
    if checked.left_out:
        lines.insert(2, ("Contact", checked.note()))
    if settings.note_as == "FeedItem":
        note = {
            "Body": render_html(lines, marker, FEED_MAX_CHARS),
            "IsRichText": True,
            "Type": "TextPost",
        }
    else:
        note = {"CommentBody": render_text(lines, marker, COMMENT_MAX_BYTES), "IsPublished": False}
    return CaseRequest(fields, headers, settings.note_as, note, marker, skill_ids)
