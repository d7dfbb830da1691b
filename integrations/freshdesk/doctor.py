"""What ``handoff doctor`` checks in Freshdesk: the API key, every group id and every custom field,
through the destination's own client (``client.py``)."""

from __future__ import annotations

from integrations.base import DeliveryError, Finding
from integrations.freshdesk.build import FreshdeskSettings
from integrations.freshdesk.client import ApiClient


def doctor_findings(s: FreshdeskSettings, client: ApiClient) -> list[Finding]:
    """One finding per check; when signing in fails, that failure is the only finding."""
    where = s.base_url.rstrip("/")
    try:
        me = client.call("agents/me", "GET", "/api/v2/agents/me")
    except DeliveryError as exc:
        fix = ("copy the API key from Profile settings > View API key of the agent the connector acts "
               "as into destinations.freshdesk.api_key" if exc.status in (401, 403)
               else f"check destinations.freshdesk.base_url and that {where} is reachable")  # fmt: skip
        return [Finding(False, f"credentials for {where}: {exc}", fix)]
    email = str((me.get("contact") or {}).get("email") or "")
    findings = [Finding(True, f"credentials: signed in to {where} as {email}")]
    if s.api_agent_email is not None or email:
        same = (s.api_agent_email or "").lower() == email.lower()
        findings.append(Finding(same, f"api_agent_email = {s.api_agent_email}",
                                f"set api_agent_email: {email} (the API key's agent)"))  # fmt: skip
    try:
        groups = {int(g["id"]): g.get("name") for g in client.pages("groups", "/api/v2/groups", {})}
        fields = {
            str(f["name"]): f for f in client.call("ticket fields", "GET", "/api/v2/ticket_fields")
        }
    except DeliveryError as exc:
        return [*findings, Finding(False, f"cannot list groups and ticket fields: {exc}",
                                   "the API key's agent needs admin access to read groups and fields")]  # fmt: skip
    for team, gid in s.group_ids.items():
        findings.append(Finding(gid in groups, f"group_ids.{team} = {gid}"
                                + (f" ({groups[gid]})" if gid in groups else " does not exist"),
                                f"pick one of: {', '.join(f'{i} {n}' for i, n in groups.items())}"))  # fmt: skip
    for key, name in s.custom_fields.items():
        field = fields.get(name)
        findings.append(Finding(field is not None, f"custom_fields.{key} = {name}"
                                + (f" ({field.get('label')}, {field.get('type')})" if field else " does not exist"),
                                "create a ticket field (Admin > Ticket fields) and use its cf_ name"))  # fmt: skip
    if s.ticket_type:
        kinds = next(
            (f.get("choices") or [] for f in fields.values() if f.get("name") == "ticket_type"), []
        )
        findings.append(Finding(s.ticket_type in kinds, f"ticket_type = {s.ticket_type}",
                                f"use one of the Type field's choices: {', '.join(map(str, kinds))}"))  # fmt: skip
    findings.append(Finding(bool(s.webhook_secret), "webhook_secret is set",
                            "set webhook_secret and send it as X-Handoff-Secret from each rule (docs/freshdesk.md)"))  # fmt: skip
    return findings
