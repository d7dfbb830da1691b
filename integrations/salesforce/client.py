"""What the Salesforce destination, its webhooks and its doctor share: the SDK, SOQL quoting, ids.

No I/O here; ``sdk()`` only imports simple-salesforce (an optional extra) or says which
``pip install`` brings it.
"""

from __future__ import annotations

from typing import Any

from connector.errors import ConfigError

INSTALL_HINT = "simple-salesforce is not installed: pip install 'handoff-connector[salesforce]'"


def sdk() -> Any:
    """The ``simple_salesforce`` module, or a ``ConfigError`` naming the extra to install."""
    try:
        import simple_salesforce
    except ImportError as exc:
        raise ConfigError([("destinations.salesforce", INSTALL_HINT)]) from exc
    return simple_salesforce


def soql(value: str) -> str:
    """``value`` as a quoted SOQL string literal (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def same_id(a: str | None, b: str | None) -> bool:
    """Salesforce ids compare on 15 characters when one is the short form, else in full."""
    if not a or not b:
        return False
    return a[:15] == b[:15] if min(len(a), len(b)) == 15 else a == b
