"""Zendesk Support: ``destination.py`` (the destination), ``build.py`` and ``webhooks.py`` (pure),
``client.py`` (zenpy behind one edge), ``doctor.py``."""

from integrations.zendesk.destination import ZendeskDestination

__all__ = ["ZendeskDestination"]
