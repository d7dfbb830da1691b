"""Where a handoff can be opened: one builder for every link the connector hands out."""

from __future__ import annotations

from urllib.parse import quote


def inbox_url(base_url: str, handoff_id: str) -> str:
    """The handoff in the built-in inbox (the transcript page, the helpdesks' back-link)."""
    return f"{base_url}/inbox/{quote(handoff_id, safe='')}"


def widget_url(base_url: str, handoff_id: str, token: str) -> str:
    """The agent widget for one handoff, opened with a signed widget token."""
    return f"{base_url}/widget/handoffs/{quote(handoff_id, safe='')}?token={token}"
