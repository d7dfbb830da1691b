"""What ``handoff doctor`` checks in Zendesk: the credentials, every group id and custom field id.

The checks go through the destination's own zenpy client (``client.py``), so they meet the same
authentication and errors as a delivery.
"""

from __future__ import annotations

from typing import Any

from integrations.base import DeliveryError, Finding
from integrations.zendesk.build import ZendeskSettings
from integrations.zendesk.client import edge

# what each custom field may be in Zendesk: ticket field ``type`` values
FIELD_TYPES = {"intent": {"text", "tagger"}, "sentiment": {"tagger", "text"},
               "reason": {"text", "tagger"}, "handoff_id": {"text"},
               "confidence": {"decimal", "text"}}  # fmt: skip


def doctor_findings(s: ZendeskSettings, client: Any) -> list[Finding]:
    """One finding per check; when signing in fails, that failure is the only finding."""
    where = f"{s.subdomain}.zendesk.com"
    try:
        with edge("users/me"):
            me = client.users.me()
    except DeliveryError as exc:
        fix = (
            "create an API token in Admin Center > Apps and integrations > Zendesk API, "
            "set destinations.zendesk.email to its agent's e-mail and token to "
            "${ZENDESK_TOKEN}"
            if exc.status in (401, 403)
            else f"check destinations.zendesk.subdomain and that {where} is reachable"
        )
        return [Finding(False, f"credentials for {where}: {exc}", fix)]
    findings = [
        Finding(
            me.role in ("agent", "admin"),
            f"credentials: signed in to {where} as {me.email} ({me.role})",
            "use an agent or admin e-mail for destinations.zendesk.email",
        )
    ]
    try:
        with edge("groups"):
            groups = {int(g.id): g.name for g in client.groups()}
        with edge("ticket fields"):
            fields = {int(f.id): f for f in client.ticket_fields()}
    except DeliveryError as exc:
        return [
            *findings,
            Finding(
                False,
                f"cannot list groups and ticket fields: {exc}",
                "the API user needs an agent role that can see all groups",
            ),
        ]
    for team, gid in s.group_ids.items():
        findings.append(
            Finding(
                gid in groups,
                f"group_ids.{team} = {gid}"
                + (f" ({groups[gid]})" if gid in groups else " does not exist"),
                f"pick one of: {', '.join(f'{i} {n}' for i, n in groups.items())}",
            )
        )
    for key, fid in s.custom_fields.items():
        field = fields.get(fid)
        wanted = FIELD_TYPES[key]
        ok = field is not None and field.type in wanted and field.active is not False
        what = f"custom_fields.{key} = {fid}" + (
            f" ({field.title}, {field.type})" if field else " does not exist"
        )
        findings.append(
            Finding(
                ok,
                what,
                f"create an active ticket field of type "
                f"{' or '.join(sorted(wanted))} (docs/zendesk.md) and use its id",
            )
        )
    if s.ticket_type:
        kind = next((f for f in fields.values() if f.type == "tickettype"), None)
        active = kind is not None and kind.active is not False
        state = "active" if active else "missing or inactive"
        fix = "activate the Type field (Admin Center > Objects and rules > Tickets > Fields)"
        findings.append(Finding(active, f"ticket_type = {s.ticket_type}: Type field {state}",
                                fix + " or set ticket_type: null"))  # fmt: skip
    secret_fix = "put the webhook's signing secret in webhook_secret (docs/zendesk.md)"
    findings.append(Finding(bool(s.webhook_secret), "webhook_secret is set", secret_fix))
    return findings
