"""Where a handoff can be opened: one builder for every link the connector hands out."""

from __future__ import annotations

from urllib.parse import quote

from connector.security import issue_transcript_token


def inbox_url(base_url: str, handoff_id: str) -> str:
    """The handoff in the built-in inbox (needs an API key: the bots' and the operators' link)."""
    return f"{base_url}/inbox/{quote(handoff_id, safe='')}"


def widget_url(base_url: str, handoff_id: str, token: str) -> str:
    """The agent widget for one handoff, opened with a signed widget token."""
    return f"{base_url}/widget/handoffs/{quote(handoff_id, safe='')}?token={token}"


def transcript_url(base_url: str, handoff_id: str, token: str) -> str:
    """The handoff's full transcript, read-only, opened with a signed, expiring transcript token
    (``security.issue_transcript_token``): the "Full transcript" link a helpdesk agent follows."""
    return f"{base_url}/transcripts/{quote(handoff_id, safe='')}?t={token}"


def signed_transcript_url(
    base_url: str, handoff_id: str, *, secret: str, ttl: int, now: float
) -> str:
    """``transcript_url`` with a fresh token valid ``ttl`` seconds from ``now`` (``widget.secret``
    signs it, ``widget.transcript_link_ttl_seconds`` is the usual ``ttl``)."""
    token = issue_transcript_token(secret, handoff_id, now=now, ttl=ttl)
    return transcript_url(base_url, handoff_id, token)
