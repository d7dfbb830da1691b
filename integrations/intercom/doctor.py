"""``handoff doctor`` for Intercom: the token, and every id and attribute name the config uses.

The admins, the teams, the ticket type with its ticket attributes and the conversation attributes
the config names must exist, and ``client_secret`` must be set for webhooks. The checks go through
``IntercomDestination``'s own client (``destination.py``), so they meet the same errors as a
delivery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations.base import DeliveryError, Finding
from integrations.intercom.client import dump

if TYPE_CHECKING:  # the destination imports this module to answer ``doctor()``
    from integrations.intercom.destination import IntercomDestination


def _known(ok: bool, what: str, present: str, missing: str, fix: str) -> Finding:
    """Whether an id or a name the config uses exists in the workspace."""
    return Finding(ok, f"{what} {present if ok else missing}", fix)


class _Checks:
    """Runs one API call per check; a failing call becomes a finding (and ``None``)."""

    def __init__(self, dest: IntercomDestination) -> None:
        self.dest = dest
        self.out: list[Finding] = []

    def __call__(self, what: str, fn: Any) -> Any:
        try:
            return dump(self.dest.call(what, fn))
        except DeliveryError as exc:
            fix = (
                "create an access token for your app in the Developer Hub and set INTERCOM_TOKEN"
                if exc.status == 401
                else f"Intercom answered: {(exc.response or str(exc))[:200]}"
            )
            self.out.append(Finding(False, f"{what}: {exc}", fix))
            return None


def doctor_findings(dest: IntercomDestination) -> list[Finding]:
    """One finding per check; when ``GET /me`` fails, that failure is the only finding."""
    check = _Checks(dest)
    out = check.out
    me = check("GET /me (the access token)", lambda: dest.raw.admins.identify())
    if me is None:
        return out
    out.append(Finding(True, f"token works (app {(me.get('app') or {}).get('name', '?')})"))
    _admins(dest, check)
    _teams(dest, check)
    _ticket_type(dest, check)
    _conversation_attributes(dest, check)
    if not dest.settings.client_secret:
        out.append(
            Finding(
                False,
                "client_secret is not set: webhooks are refused",
                "copy the app's client secret (Developer Hub → Basic information)",
            )
        )
    return out


def _admins(dest: IntercomDestination, check: _Checks) -> None:
    s = dest.settings
    admins = check("list admins", lambda: dest.raw.admins.list())
    if admins is None:
        return
    ids = {str(a.get("id")) for a in admins.get("admins") or []}
    for key, value in (("admin_id", s.admin_id), ("assignee_admin_id", s.assignee_admin_id)):
        if value:
            check.out.append(
                _known(
                    value in ids,
                    f"{key} {value}",
                    "is an admin of this workspace",
                    "is not an admin of this workspace",
                    "use an id from Settings → Teammates (or GET /admins)",
                )
            )


def _teams(dest: IntercomDestination, check: _Checks) -> None:
    if not dest.settings.team_ids:
        return
    teams = check("list teams", lambda: dest.raw.teams.list())
    known = {str(t.get("id")) for t in (teams or {}).get("teams") or []}
    for team, team_id in dest.settings.team_ids.items():
        check.out.append(
            _known(
                team_id in known,
                f"team_ids.{team} = {team_id}",
                "exists",
                "is not a team",
                "use an id from GET /teams",
            )
        )


def _ticket_type(dest: IntercomDestination, check: _Checks) -> None:
    s = dest.settings
    if not s.ticket_type_id:
        return
    types = check("list ticket types", lambda: dest.raw.ticket_types.list())
    found = next(
        (t for t in (types or {}).get("data") or [] if str(t.get("id")) == s.ticket_type_id),
        None,
    )
    check.out.append(
        _known(
            found is not None,
            f"ticket_type_id {s.ticket_type_id}",
            "exists",
            "is not a ticket type",
            "create it (see docs/intercom.md)",
        )
    )
    if found is None:
        return
    names = {a.get("name") for a in (found.get("ticket_type_attributes") or {}).get("data") or []}
    for item, name in s.ticket_attributes.items():
        check.out.append(
            _known(
                name in names,
                f"ticket attribute {name!r} ({item})",
                "exists",
                "is missing",
                "add it to the ticket type (see docs/intercom.md)",
            )
        )


def _conversation_attributes(dest: IntercomDestination, check: _Checks) -> None:
    defined = check(
        "list conversation attributes",
        lambda: dest.raw.data_attributes.list(model="conversation"),
    )
    if defined is None:
        return
    names = {a.get("name") for a in defined.get("data") or []}
    for item, name in dest.settings.conversation_attributes.items():
        check.out.append(
            _known(
                name in names,
                f"conversation attribute {name!r} ({item})",
                "exists",
                "is not defined",
                "create it under Settings → Data → Conversation attributes",
            )
        )
