"""``handoff doctor`` for Chatwoot: the token, every mapped team id, the API inbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.base import DeliveryError, Finding

if TYPE_CHECKING:
    from integrations.chatwoot.destination import ChatwootDestination


def doctor_findings(destination: ChatwootDestination) -> list[Finding]:
    settings = destination.settings
    try:
        teams = destination.client.call("GET", "/teams") or []
    except DeliveryError as exc:
        return [
            Finding(
                False,
                f"Chatwoot account {settings.account_id} at {settings.base_url}: {exc}",
                "check base_url, account_id and api_access_token (an agent's access token)",
            )
        ]
    findings = [Finding(True, f"Chatwoot account {settings.account_id}: the token works")]
    known = {team.get("id") for team in teams if isinstance(team, dict)}
    for name, team_id in settings.team_ids.items():
        findings.append(
            Finding(
                team_id in known,
                f"team_ids.{name} = {team_id}",
                "" if team_id in known else "no such team in the account (Settings → Teams)",
            )
        )
    if settings.inbox_id is not None:
        try:
            inboxes = destination.client.call("GET", "/inboxes") or {}
            ids = {i.get("id") for i in inboxes.get("payload") or [] if isinstance(i, dict)}
            ok = settings.inbox_id in ids
            findings.append(
                Finding(
                    ok,
                    f"inbox_id = {settings.inbox_id}",
                    "" if ok else "no such inbox (create an API inbox for handoffs)",
                )
            )
        except DeliveryError as exc:
            findings.append(Finding(False, f"inbox_id = {settings.inbox_id}: {exc}"))
    return findings
