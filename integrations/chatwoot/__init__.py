"""Chatwoot: ``destination.py`` (the destination), ``build.py`` and ``webhooks.py`` (pure),
``client.py`` (the HTTP edge), ``doctor.py``."""

from integrations.chatwoot.destination import ChatwootDestination

__all__ = ["ChatwootDestination"]
