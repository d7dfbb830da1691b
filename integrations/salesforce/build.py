"""Salesforce settings and the Case builder: ``destinations.salesforce`` → Case fields, headers, note.

Pure: no I/O, no clock. ``validate`` lists every problem with its key path (``handoff check-config``);
``build_case`` is the "build" step of the Salesforce destination (``integrations/salesforce.py``),
unit-tested on its own.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.errors import ConfigError
from connector.schemas import HandoffPayload

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
_KEYS = {
    "instance_url",
    "domain",
    "api_version",
    "auth",
    "external_id_field",
    "fields",
    "origin",
    "status",
    "priority_map",
    "queue_ids",
    "omni_channel",
    "note_as",
    "webhook_secret",
    "org_id",
    "integration_user_id",
    "handback_status",
    "handback_field",
    "requests_per_minute",
    "timeout_seconds",
    "ca_bundle",
}


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OmniChannel:
    service_channel_id: str
    skill_ids: dict[str, str]
    capacity_weight: float = 1.0
    routing_priority: int = 1


@dataclass(frozen=True)
class SalesforceSettings:
    instance_url: str | None
    domain: str = "login"
    api_version: str = "59.0"
    auth_mode: str = "session"
    auth: dict[str, str] = field(default_factory=dict)
    external_id_field: str = "Handoff_Id__c"
    fields: dict[str, str] = field(default_factory=dict)
    origin: str = "Web"
    status: str = "New"
    priority_map: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PRIORITY_MAP))
    queue_ids: dict[str, str] = field(default_factory=dict)
    omni_channel: OmniChannel | None = None
    note_as: str = "CaseComment"
    webhook_secret: str | None = None
    org_id: str | None = None
    integration_user_id: str | None = None
    handback_status: str | None = None
    handback_field: str | None = None
    requests_per_minute: float = 60.0
    timeout_seconds: float = 10.0
    ca_bundle: str | None = None


def _is_id(value: Any, prefix: str) -> bool:
    return isinstance(value, str) and bool(_ID.match(value)) and value.startswith(prefix)


def _check_ids(problems: list, path: str, mapping: Any, prefix: str, what: str) -> None:
    if not isinstance(mapping, dict):
        problems.append((path, f"must be a mapping of name -> {what} id"))
        return
    for name, value in mapping.items():
        if not _is_id(value, prefix):
            problems.append(
                (
                    f"{path}.{name}",
                    f"{value!r} is not a {what} id (15 or 18 characters starting with {prefix})",
                )
            )


def validate(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """Every problem of ``destinations.salesforce``, as (key path below it, message)."""
    problems: list[tuple[str, str]] = []
    for key in sorted(set(settings) - _KEYS):
        problems.append((key, "unknown key"))
    domain = settings.get("domain", "login")
    if domain not in ("login", "test", "custom"):
        problems.append(("domain", "must be login, test or custom (the instance_url's My Domain)"))
    url = settings.get("instance_url")
    if url is not None and not (isinstance(url, str) and re.match(r"^https://[^\s/]+/?$", url)):
        problems.append(("instance_url", "must be https://<host> (your My Domain URL), no path"))
    if not re.fullmatch(r"\d{2}\.0", str(settings.get("api_version", "59.0"))):
        problems.append(("api_version", "must look like 59.0"))
    auth = settings.get("auth")
    modes = {
        "client_credentials": ("client_id", "client_secret"),
        "jwt": ("client_id", "username", "private_key_file"),
        "session": ("session_id",),
    }
    if not isinstance(auth, dict) or len(auth) != 1 or next(iter(auth)) not in modes:
        problems.append(("auth", "set exactly one of client_credentials, jwt or session"))
    else:
        mode, values = next(iter(auth.items()))
        values = values if isinstance(values, dict) else {}
        for key in modes[mode]:
            if not values.get(key):
                problems.append((f"auth.{mode}.{key}", "required key is missing"))
        for key in sorted(set(values) - set(modes[mode]) - {"audience"}):
            problems.append((f"auth.{mode}.{key}", "unknown key"))
        if (
            mode == "jwt"
            and values.get("private_key_file")
            and not Path(values["private_key_file"]).is_file()
        ):
            problems.append(("auth.jwt.private_key_file", "file not found"))
        if mode == "client_credentials" and domain != "custom":
            problems.append(
                (
                    "domain",
                    "the client credentials flow only works on your My Domain: "
                    "set domain: custom and instance_url",
                )
            )
        if (mode == "session" or domain == "custom") and not url:
            problems.append(
                (
                    "instance_url",
                    f"required with {'auth.session' if mode == 'session' else 'domain: custom'}",
                )
            )
    for key in ("external_id_field", "handback_field"):
        value = settings.get(key)
        if value is not None and not (
            isinstance(value, str) and value.endswith("__c") and _API_NAME.match(value)
        ):
            problems.append((key, "must be a custom field API name ending in __c"))
    fields = settings.get("fields", {})
    if not isinstance(fields, dict):
        problems.append(("fields", "must be a mapping of payload item -> field API name"))
    else:
        for item, api_name in fields.items():
            if item not in FIELD_ITEMS:
                problems.append(
                    (f"fields.{item}", f"unknown item; known: {', '.join(sorted(FIELD_ITEMS))}")
                )
            if not (isinstance(api_name, str) and _API_NAME.match(api_name)):
                problems.append((f"fields.{item}", f"{api_name!r} is not a field API name"))
    priority_map = settings.get("priority_map", {})
    if not isinstance(priority_map, dict) or set(priority_map) - set(DEFAULT_PRIORITY_MAP):
        problems.append(("priority_map", "keys must be among low, normal, high, urgent"))
    _check_ids(problems, "queue_ids", settings.get("queue_ids", {}), "00G", "queue")
    omni = settings.get("omni_channel")
    if omni is not None:
        if not isinstance(omni, dict):
            problems.append(("omni_channel", "must be a mapping"))
        else:
            for key in sorted(
                set(omni)
                - {
                    "service_channel_id",
                    "routing_type",
                    "skill_ids",
                    "capacity_weight",
                    "routing_priority",
                }
            ):
                problems.append((f"omni_channel.{key}", "unknown key"))
            if not _is_id(omni.get("service_channel_id"), "0N9"):
                problems.append(
                    ("omni_channel.service_channel_id", "must be a ServiceChannel id (0N9…)")
                )
            if omni.get("routing_type", "SkillsBased") != "SkillsBased":
                problems.append(
                    (
                        "omni_channel.routing_type",
                        "only SkillsBased is supported; for queue-based routing use queue_ids",
                    )
                )
            _check_ids(
                problems, "omni_channel.skill_ids", omni.get("skill_ids", {}), "0C5", "Skill"
            )
            weight = omni.get("capacity_weight", 1)
            if not isinstance(weight, int | float) or not 0 < weight <= 1000:
                problems.append(("omni_channel.capacity_weight", "must be a number above 0"))
    if settings.get("note_as", "CaseComment") not in ("CaseComment", "FeedItem"):
        problems.append(("note_as", "must be CaseComment or FeedItem"))
    secret = settings.get("webhook_secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
        problems.append(("webhook_secret", "must be at least 16 characters"))
    if (secret is None) != (settings.get("org_id") is None):
        problems.append(
            (
                "webhook_secret" if secret is None else "org_id",
                "webhook_secret and org_id go together (both are checked on every webhook)",
            )
        )
    for key, prefix in (("org_id", "00D"), ("integration_user_id", "005")):
        if settings.get(key) is not None and not _is_id(settings[key], prefix):
            problems.append((key, f"must be a Salesforce id starting with {prefix}"))
    rpm = settings.get("requests_per_minute", 60)
    if not isinstance(rpm, int | float) or not 0 < rpm <= 100_000:
        problems.append(("requests_per_minute", "must be a number above 0"))
    timeout = settings.get("timeout_seconds", 10)
    if not isinstance(timeout, int | float) or not 0 < timeout <= 120:
        problems.append(("timeout_seconds", "must be a number of seconds, above 0, at most 120"))
    ca_bundle = settings.get("ca_bundle")
    if ca_bundle is not None and not Path(str(ca_bundle)).is_file():
        problems.append(("ca_bundle", "file not found"))
    return problems


def parse_settings(settings: dict[str, Any]) -> SalesforceSettings:
    problems = validate(settings)
    if problems:
        raise ConfigError([(f"destinations.salesforce.{p}", m) for p, m in problems])
    mode, values = next(iter(settings["auth"].items()))
    omni = settings.get("omni_channel")
    return SalesforceSettings(
        instance_url=(settings.get("instance_url") or "").rstrip("/") or None,
        domain=settings.get("domain", "login"),
        api_version=str(settings.get("api_version", "59.0")),
        auth_mode=mode,
        auth={k: str(v) for k, v in values.items()},
        external_id_field=settings.get("external_id_field", "Handoff_Id__c"),
        fields=dict(settings.get("fields", {})),
        origin=settings.get("origin", "Web"),
        status=settings.get("status", "New"),
        priority_map={**DEFAULT_PRIORITY_MAP, **settings.get("priority_map", {})},
        queue_ids=dict(settings.get("queue_ids", {})),
        omni_channel=OmniChannel(
            omni["service_channel_id"],
            dict(omni.get("skill_ids", {})),
            float(omni.get("capacity_weight", 1)),
            int(omni.get("routing_priority", 1)),
        )
        if omni
        else None,
        note_as=settings.get("note_as", "CaseComment"),
        webhook_secret=settings.get("webhook_secret"),
        org_id=settings.get("org_id"),
        integration_user_id=settings.get("integration_user_id"),
        handback_status=settings.get("handback_status"),
        handback_field=settings.get("handback_field"),
        requests_per_minute=float(settings.get("requests_per_minute", 60)),
        timeout_seconds=float(settings.get("timeout_seconds", 10)),
        ca_bundle=settings.get("ca_bundle"),
    )


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
    for key, value in (
        ("SuppliedName", customer.name),
        ("SuppliedEmail", customer.email),
        ("SuppliedPhone", customer.phone),
    ):
        if value:
            fields[key] = value[:80]
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
    if settings.note_as == "FeedItem":
        note = {
            "Body": render_html(lines, marker, FEED_MAX_CHARS),
            "IsRichText": True,
            "Type": "TextPost",
        }
    else:
        note = {"CommentBody": render_text(lines, marker, COMMENT_MAX_BYTES), "IsPublished": False}
    return CaseRequest(fields, headers, settings.note_as, note, marker, skill_ids)
