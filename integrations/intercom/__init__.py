"""Intercom: ``destination.py`` (the destination), ``build.py`` and ``webhooks.py`` (pure),
``client.py`` (the SDK's httpx client with a total deadline per request, raw SDK responses and
their JSON), ``doctor.py``."""

from integrations.intercom.destination import IntercomDestination

__all__ = ["IntercomDestination"]
