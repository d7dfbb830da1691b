"""Intercom: ``destination.py`` (the destination), ``build.py`` and ``webhooks.py`` (pure),
``client.py`` (raw SDK responses and their JSON), ``transport.py`` (the total deadline of every
request), ``doctor.py``."""

from integrations.intercom.destination import IntercomDestination

__all__ = ["IntercomDestination"]
