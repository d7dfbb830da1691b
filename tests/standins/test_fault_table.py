"""The fault table: what each real SDK raises for each failure the stand-ins can play.

The integrations map these exceptions to transient or permanent delivery errors; a change of SDK
version that changes a row shows up here first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

zenpy = pytest.importorskip("zenpy")
pytest.importorskip("simple_salesforce")
pytest.importorskip("intercom")

import httpx  # noqa: E402
import requests  # noqa: E402
import zenpy.lib.api as zenpy_api  # noqa: E402
from intercom import Intercom  # noqa: E402
from simple_salesforce import Salesforce  # noqa: E402
from zenpy.lib.api_objects import Comment, Ticket  # noqa: E402

from .base import StandinServer, http_date  # noqa: E402
from .intercom import IntercomStandin  # noqa: E402
from .salesforce import SalesforceStandin  # noqa: E402
from .zendesk import ZendeskStandin  # noqa: E402

# ---------------------------------------------------------------------------
# What each real SDK raises. zenpy runs over HTTPS so that its own urllib3 Retry adapter (mounted
# on https:// only) is active, as in production: it re-sends a PUT after a 503, a timeout or a
# dropped connection, and the PUT is applied twice (a duplicate internal note).
CLIENT_TIMEOUT = 0.3  # seconds; the slow-response fault holds its answer 4 times longer
API_EXC, NOT_FOUND = (
    "zenpy.lib.exception.APIException",
    "zenpy.lib.exception.RecordNotFoundException",
)
SF = "simple_salesforce.exceptions.Salesforce"
IC_API = "intercom.core.api_error.ApiError"
FAULTS: dict[str, Callable[[StandinServer], None] | None] = {
    "400": lambda s: s.fail_next(400),
    "401": lambda s: s.fail_next(401),
    "403": lambda s: s.fail_next(403),
    "403-limit": lambda s: s.fail_next(403, code="REQUEST_LIMIT_EXCEEDED"),
    "404": lambda s: s.fail_next(404),
    "409": lambda s: s.fail_next(409),
    "422": lambda s: s.fail_next(422),
    "429": lambda s: s.fail_next(429),
    "429-retry-after-1s": lambda s: s.fail_next(429, retry_after=1),
    "429-retry-after-date": lambda s: s.fail_next(429, retry_after=http_date(1)),
    "500": lambda s: s.fail_next(500),
    "503": lambda s: s.fail_next(503),
    "503x5": lambda s: s.fail_next(503, times=5),
    "timeout": lambda s: s.delay_next(4 * CLIENT_TIMEOUT),
    "dropped": lambda s: s.drop_next(),
    "dropped-applied": lambda s: s.drop_next(apply=True),
    "refused": None,
}
# fault: (zenpy POST create, zenpy PUT note, simple-salesforce upsert, intercom reply, intercom ticket)
TABLE: dict[str, tuple[str | None, ...]] = {
    "400": (API_EXC, API_EXC, SF + "MalformedRequest", IC_API, IC_API),
    "401": (API_EXC, API_EXC, SF + "ExpiredSession", "intercom.UnauthorizedError", "intercom.UnauthorizedError"),
    "403": (API_EXC, API_EXC, SF + "RefusedRequest", "intercom.ForbiddenError", IC_API),
    "403-limit": (API_EXC, API_EXC, SF + "RefusedRequest", "intercom.ForbiddenError", IC_API),
    "404": (NOT_FOUND, NOT_FOUND, SF + "ResourceNotFound", "intercom.NotFoundError", IC_API),
    "409": (API_EXC, API_EXC, SF + "GeneralError", IC_API, IC_API),
    "422": (API_EXC, API_EXC, SF + "GeneralError", IC_API, IC_API),
    "429": (API_EXC, API_EXC, SF + "GeneralError", IC_API, IC_API),
    "429-retry-after-1s": (None, None, SF + "GeneralError", IC_API, IC_API),
    "429-retry-after-date": ("ValueError", "ValueError", SF + "GeneralError", IC_API, IC_API),
    "500": (API_EXC, API_EXC, SF + "GeneralError", IC_API, IC_API),
    "503": (API_EXC, None, SF + "GeneralError", IC_API, IC_API),
    "503x5": (API_EXC, "requests.exceptions.RetryError", SF + "GeneralError", IC_API, IC_API),
    "timeout": ("requests.ReadTimeout", None, "requests.ReadTimeout", "httpx.ReadTimeout", "httpx.ReadTimeout"),
    "dropped": ("requests.ConnectionError", None, "requests.ConnectionError", "httpx.RemoteProtocolError", "httpx.RemoteProtocolError"),
    "dropped-applied": ("requests.ConnectionError", None, "requests.ConnectionError", "httpx.RemoteProtocolError", "httpx.RemoteProtocolError"),
    "refused": ("requests.ConnectionError", "requests.ConnectionError", "requests.ConnectionError", "httpx.ConnectError", "httpx.ConnectError"),
}  # fmt: skip


def _zenpy(server: ZendeskStandin, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    for key, value in server.client_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(zenpy_api, "sleep", lambda seconds: None)
    client = zenpy.Zenpy(
        subdomain="s", email=server.email, token=server.token, timeout=CLIENT_TIMEOUT
    )
    return client, client.users.session.close


def _zenpy_create(server: Any, monkeypatch: Any) -> tuple[Callable[[], Any], Any]:
    client, close = _zenpy(server, monkeypatch)
    return lambda: client.tickets.create(Ticket(subject="s", comment=Comment(body="b"))), close


def _zenpy_note(server: Any, monkeypatch: Any) -> tuple[Callable[[], Any], Any]:
    client, close = _zenpy(server, monkeypatch)
    ticket_id = client.tickets.create(Ticket(subject="s", comment=Comment(body="b"))).ticket.id

    def note() -> None:
        client.tickets.update(Ticket(id=ticket_id, comment=Comment(body="n", public=False)))

    return note, close


def _salesforce_upsert(server: Any, monkeypatch: Any) -> tuple[Callable[[], Any], Any]:
    class ShortTimeout(requests.Session):  # simple-salesforce takes no timeout of its own
        def request(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", CLIENT_TIMEOUT)
            return super().request(*args, **kwargs)

    session = ShortTimeout()
    session.verify, session.trust_env = server.ca_file, False
    sf = Salesforce(
        instance_url=server.base_url,
        session_id=next(iter(server.tokens)),
        version="59.0",
        session=session,
    )
    return lambda: sf.Case.upsert("Handoff_Id__c/h-1", {"Subject": "x"}), session.close


def _intercom(server: Any, monkeypatch: Any) -> tuple[Any, Any]:
    http = httpx.Client(timeout=CLIENT_TIMEOUT)
    return Intercom(token=server.token, base_url=server.base_url, httpx_client=http), http.close


def _intercom_reply(server: Any, monkeypatch: Any) -> tuple[Callable[[], Any], Any]:
    client, close = _intercom(server, monkeypatch)
    conversation, admin = server.add_conversation(), server.admins[0]["id"]
    request = {"message_type": "note", "type": "admin", "admin_id": admin, "body": "n"}
    return lambda: client.conversations.reply(conversation_id=conversation, request=request), close


def _intercom_ticket(server: Any, monkeypatch: Any) -> tuple[Callable[[], Any], Any]:
    client, close = _intercom(server, monkeypatch)
    return lambda: client.tickets.create(ticket_type_id="67", contacts=[{"id": "c1"}]), close


OPS = [
    ("zenpy-create", ZendeskStandin, _zenpy_create),
    ("zenpy-note", ZendeskStandin, _zenpy_note),
    ("salesforce-upsert", SalesforceStandin, _salesforce_upsert),
    ("intercom-reply", IntercomStandin, _intercom_reply),
    ("intercom-ticket", IntercomStandin, _intercom_ticket),
]


def _name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def _matches(exc: BaseException, expected: str) -> bool:
    module, _, name = expected.rpartition(".")
    return type(exc).__name__ == name and (not module or _name(exc).startswith(module))


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize(("op", "server_cls", "prepare"), OPS, ids=[o[0] for o in OPS])
def test_fault_table(op, server_cls, prepare, fault, vendor_specs, monkeypatch):
    expected = TABLE[fault][[o[0] for o in OPS].index(op)]
    with server_cls() as server:
        call, close = prepare(server, monkeypatch)
        arm = FAULTS[fault]
        server.stop() if arm is None else arm(server)
        try:
            call()
        except Exception as exc:  # the point is to see which one
            assert expected is not None and _matches(exc, expected), f"{op}/{fault}: {_name(exc)}"
        else:
            assert expected is None, f"{op}/{fault}: no exception, expected {expected}"
        finally:
            close()
    assert server.internal_errors == []
    if op == "zenpy-note" and fault in ("timeout", "dropped-applied"):
        [ticket] = server.tickets.values()  # re-sent by urllib3 after being applied: twice
        assert len(server.internal_notes(ticket["id"])) == 2
