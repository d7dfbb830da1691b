"""ServiceNow Customer Service Management: ``destination.py`` (the destination), ``build.py`` and
``webhooks.py`` (pure), ``client.py`` (the Table API over ``requests`` behind one edge), ``doctor.py``."""

from integrations.servicenow.destination import ServiceNowDestination

__all__ = ["ServiceNowDestination"]
