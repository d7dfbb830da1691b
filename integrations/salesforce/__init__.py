"""Salesforce Service Cloud: ``destination.py`` (the destination), ``build.py`` and ``webhooks.py``
(pure), ``client.py`` (the SDK import, SOQL quoting, id comparison), ``doctor.py``."""

from integrations.salesforce.destination import SalesforceDestination

__all__ = ["SalesforceDestination"]
