"""What ``handoff doctor`` checks in a Salesforce org: sign-in, every configured id, the fields.

Queues, the Omni-Channel service channel and skills must exist; the external ID field and every
mapped custom field must exist on Case and be visible to the integration user, and the external ID
field must be marked External ID. The checks go through ``SalesforceDestination``'s own client
(``destination.py``), so they meet the same authentication and errors as a delivery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.base import DeliveryError, Finding, PermanentDeliveryError
from integrations.salesforce.client import same_id, soql

if TYPE_CHECKING:  # the destination imports this module to answer ``doctor()``
    from integrations.salesforce.destination import SalesforceDestination


def doctor_findings(dest: SalesforceDestination) -> list[Finding]:
    """One finding per check; when authentication fails, that failure is the only finding."""
    findings: list[Finding] = []
    try:
        dest.connect()
        dest.query("auth check", "SELECT Id FROM Group WHERE Type = 'Queue' LIMIT 1")
    except DeliveryError as exc:
        return [
            Finding(
                False,
                f"authenticate to {dest.instance_url or dest.settings.domain}: {exc}",
                "check destinations.salesforce.instance_url and auth, and that the "
                "connected app's integration user has API access",
            )
        ]
    findings.append(
        Finding(True, f"authenticated to {dest.instance_url} ({dest.settings.auth_mode})")
    )

    def exists(sobject: str, ids: dict[str, str], path: str, extra: str = "") -> None:
        if not ids:
            return
        id_list = ", ".join(soql(v) for v in ids.values())
        rows = dest.query("doctor", f"SELECT Id FROM {sobject} WHERE Id IN ({id_list}){extra}")
        for name, value in ids.items():
            ok = any(same_id(value, r["Id"]) for r in rows)
            findings.append(
                Finding(
                    ok,
                    f"{path}.{name}: {sobject} {value} " + ("exists" if ok else "not found"),
                    f"Setup → {'Queues' if sobject == 'Group' else sobject}: copy the id "
                    "of an existing record into the config",
                )
            )

    exists("Group", dest.settings.queue_ids, "queue_ids", " AND Type = 'Queue'")
    omni = dest.settings.omni_channel
    if omni is not None:
        exists("ServiceChannel", {"service_channel_id": omni.service_channel_id}, "omni_channel")
        exists("Skill", omni.skill_ids, "omni_channel.skill_ids")
    custom = [dest.settings.external_id_field, *dest.settings.fields.values()]
    if dest.settings.handback_field:
        custom.append(dest.settings.handback_field)
    for api_name in dict.fromkeys(custom):
        try:
            dest.query("doctor", f"SELECT Id, {api_name} FROM Case LIMIT 1")
            findings.append(Finding(True, f"Case.{api_name} exists"))
        except PermanentDeliveryError:
            findings.append(
                Finding(
                    False,
                    f"Case.{api_name} does not exist or is not visible",
                    "create it (docs/salesforce.md lists each field and type) and give "
                    "the integration user's permission set read/edit access",
                )
            )
    ext = dest.settings.external_id_field
    try:
        dest.call("doctor", lambda sf: sf.Case.get_by_custom_id(ext, "handoff-doctor-probe"))
    except PermanentDeliveryError as exc:
        if "external ID field" in (exc.response or ""):
            findings.append(
                Finding(
                    False,
                    f"Case.{ext} is not marked External ID",
                    "edit the field and tick External ID (and Unique)",
                )
            )
    return findings
