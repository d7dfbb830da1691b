"""What ``handoff doctor`` checks in ServiceNow: the credentials, the case table, every assignment
group and every mapped field, through the destination's own Table API client (``client.py``)."""

from __future__ import annotations

from integrations.base import DeliveryError, Finding
from integrations.servicenow.build import ServiceNowSettings, encoded_query
from integrations.servicenow.client import TableClient


def doctor_findings(s: ServiceNowSettings, client: TableClient) -> list[Finding]:
    """One finding per check; when signing in fails, that failure is the only finding."""
    where = s.instance_url.rstrip("/")
    try:
        client.call("case table", "GET", f"/api/now/table/{s.table}",
                    params={"sysparm_limit": "1", "sysparm_fields": "sys_id"})  # fmt: skip
    except DeliveryError as exc:
        fix = ("give destinations.servicenow.auth a user with the sn_customerservice_agent role "
               "(basic) or an OAuth client with client credentials enabled (docs/servicenow.md)"
               if exc.status in (401, 403) else f"check instance_url and that {where} is reachable")  # fmt: skip
        return [Finding(False, f"credentials for {where}: {exc}", fix)]
    findings = [Finding(True, f"credentials: can read {s.table} on {where}")]
    for team, sys_id in s.assignment_groups.items():
        try:
            found = client.call("group", "GET", f"/api/now/table/sys_user_group/{sys_id}",
                                params={"sysparm_fields": "sys_id,name,active"})  # fmt: skip
            group = found.get("result") or {}
            ok = str(group.get("active", "true")) == "true"
            what = f"assignment_groups.{team} = {sys_id} ({group.get('name')})" + (
                "" if ok else " is inactive"
            )
        except DeliveryError as exc:
            ok, what = (
                False,
                f"assignment_groups.{team} = {sys_id} "
                + ("does not exist" if exc.status == 404 else f"cannot be read: {exc}"),
            )
        findings.append(
            Finding(ok, what, "use the sys_id of an active group (User Administration > Groups)")
        )
    wanted = {"correlation_id", "correlation_display", "work_notes", *s.fields.values()}
    if s.contact_type:
        wanted.add("contact_type")
    try:
        query = f"nameIN{s.table},task^elementIN{','.join(sorted(wanted))}"
        rows = (
            client.call(
                "dictionary",
                "GET",
                "/api/now/table/sys_dictionary",
                params={"sysparm_query": query, "sysparm_fields": "element"},
            ).get("result")
            or []
        )
        known = {str(r.get("element")) for r in rows}
        for key, field in [("(built in)", f) for f in ("correlation_id", "work_notes")] + list(
            s.fields.items()
        ):
            findings.append(Finding(field in known, f"fields.{key} = {field}" + ("" if field in known
                                    else f" is not a field of {s.table}"),
                                    f"create the field on {s.table} (docs/servicenow.md) or remove the key"))  # fmt: skip
    except DeliveryError as exc:
        findings.append(Finding(False, f"cannot read sys_dictionary to check the fields: {exc}",
                                "give the API user read access to sys_dictionary, or check the fields by hand"))  # fmt: skip
    if s.contact_lookup:
        try:
            client.call("contacts", "GET", "/api/now/table/customer_contact",
                        params={"sysparm_query": encoded_query(email="nobody@example.invalid"),
                                "sysparm_limit": "1", "sysparm_fields": "sys_id"})  # fmt: skip
            findings.append(Finding(True, "contact_lookup: can read customer_contact"))
        except DeliveryError as exc:
            findings.append(Finding(False, f"contact_lookup: cannot read customer_contact: {exc}",
                                    "give the API user read access to customer_contact or set contact_lookup: false"))  # fmt: skip
    findings.append(Finding(bool(s.webhook_secret), "webhook_secret is set",
                            "set webhook_secret and the same secret in the Business Rule (docs/servicenow.md)"))  # fmt: skip
    return findings
