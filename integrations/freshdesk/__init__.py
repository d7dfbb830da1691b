"""Freshdesk: ``destination.py`` (the destination), ``build.py`` and ``webhooks.py`` (pure),
``client.py`` (API v2 over ``requests`` behind one edge, with Freshdesk's rate-limit headers),
``doctor.py``."""

from integrations.freshdesk.destination import FreshdeskDestination

__all__ = ["FreshdeskDestination"]
