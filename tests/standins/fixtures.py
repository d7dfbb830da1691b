"""pytest fixtures for the vendor stand-ins, importable by any test module or conftest.

Each ``*_standin`` fixture starts a fresh stand-in for one test, points the SDK at it through the
environment (restored afterwards) and fails the test if the stand-in itself crashed. Each
``*_client`` fixture is the real SDK, connected. A missing specs folder skips locally and fails
under ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .base import StandinServer
from .intercom import IntercomStandin
from .salesforce import SalesforceStandin
from .specs import SPECS_ENV, specs_dir
from .zendesk import ZendeskStandin

__all__ = [
    "intercom_client",
    "intercom_standin",
    "require_vendor_specs",
    "salesforce_client",
    "salesforce_session",
    "salesforce_standin",
    "vendor_specs",
    "zendesk_client",
    "zendesk_standin",
]


def require_vendor_specs() -> Path:
    """The specs folder, or a skip with the reason (a failure when ``CI=true``)."""
    folder = specs_dir()
    if (folder / "PROVENANCE.md").is_file():
        return folder
    reason = (
        f"vendor specs not found at {folder}: set {SPECS_ENV} to the shared specs folder "
        "(shared/specs beside the repo)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def vendor_specs() -> Path:
    """The vendor specs folder (see ``require_vendor_specs``)."""
    return require_vendor_specs()


def _serve(server: StandinServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with server:
        for key, value in server.client_env().items():
            monkeypatch.setenv(key, value)
        if isinstance(server, ZendeskStandin) and server.tls:
            monkeypatch.delenv("ZENPY_FORCE_SCHEME", raising=False)
        yield server
    assert server.internal_errors == [], "the stand-in itself failed"


@pytest.fixture
def zendesk_standin(
    vendor_specs: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ZendeskStandin]:
    """A running ``ZendeskStandin`` (HTTPS); ``ZENPY_FORCE_NETLOC`` and the CA bundle are set."""
    yield from _serve(ZendeskStandin(), monkeypatch)


@pytest.fixture
def zendesk_client(zendesk_standin: ZendeskStandin) -> Iterator[Any]:
    """A real ``Zenpy`` client logged in to the stand-in (2 s timeout)."""
    from zenpy import Zenpy

    client = Zenpy(
        subdomain=zendesk_standin.subdomain,
        email=zendesk_standin.email,
        token=zendesk_standin.token,
        timeout=2,
    )
    yield client
    client.users.session.close()


@pytest.fixture
def salesforce_standin(
    vendor_specs: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SalesforceStandin]:
    """A running ``SalesforceStandin`` (HTTPS); ``REQUESTS_CA_BUNDLE`` trusts it."""
    yield from _serve(SalesforceStandin(), monkeypatch)


@pytest.fixture
def salesforce_session(salesforce_standin: SalesforceStandin) -> Iterator[Any]:
    """A ``requests.Session`` that trusts the stand-in's certificate and ignores the env."""
    import requests

    session = requests.Session()
    session.verify = salesforce_standin.ca_file
    session.trust_env = False
    yield session
    session.close()


@pytest.fixture
def salesforce_client(salesforce_standin: SalesforceStandin, salesforce_session: Any) -> Any:
    """A real ``simple_salesforce.Salesforce`` (API 59.0) with a valid session id."""
    from simple_salesforce import Salesforce

    return Salesforce(
        instance_url=salesforce_standin.base_url,
        session_id=next(iter(salesforce_standin.tokens)),
        version="59.0",
        session=salesforce_session,
    )


@pytest.fixture
def intercom_standin(
    vendor_specs: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IntercomStandin]:
    """A running ``IntercomStandin`` (plain HTTP)."""
    yield from _serve(IntercomStandin(), monkeypatch)


@pytest.fixture
def intercom_client(intercom_standin: IntercomStandin) -> Iterator[Any]:
    """A real ``intercom.Intercom`` client (version 2.14 header, 2 s timeout)."""
    import httpx
    from intercom import Intercom

    with httpx.Client(timeout=2) as http:
        yield Intercom(
            token=intercom_standin.token,
            base_url=intercom_standin.base_url,
            headers={"Intercom-Version": "2.14"},
            httpx_client=http,
        )
