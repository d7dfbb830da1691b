"""Limits on what a request may carry: JSON nesting and numbers, messages and text (``limits:``).

Well-formed JSON could still crash a handler: an object nested 900 deep or an array 5,000 deep
overflowed Python's recursion limit, and an integer of 4,301 digits hit Python's int-conversion
limit, each a 500 with a traceback. ``loads`` parses with those bounded and answers a 400 problem
naming the limit instead. ``check_body`` bounds what a parsed body may add (messages per event,
text length); the per-conversation total is checked where the transcript is read
(``service.ingest_event``). Everything over a size limit is a 413 problem; its ``detail`` names
the config key.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from connector.errors import BadRequest, PayloadTooLarge
from connector.policy_config import Section


class LimitsSettings(Section):
    """The ``limits:`` section; every key is named in the problem that enforces it."""

    json_max_depth: int = Field(default=32, ge=4, le=200)
    json_max_number_chars: int = Field(default=50, ge=16, le=4300)
    messages_per_event: int = Field(default=10_000, ge=1, le=10_000)
    text_chars: int = Field(default=100_000, ge=100, le=100_000)
    messages_per_conversation: int = Field(default=10_000, ge=10, le=1_000_000)


DEFAULTS = LimitsSettings()


class _NumberTooLong(Exception):
    def __init__(self, text: str):
        self.length = len(text)


def _number(convert: Any, limit: int) -> Any:
    def parse(text: str) -> Any:
        if len(text) > limit:
            raise _NumberTooLong(text)
        return convert(text)

    return parse


def loads(raw: bytes | str, limits: LimitsSettings = DEFAULTS) -> Any:
    """``json.loads`` with nesting depth and number length bounded.

    Raises what ``json.loads`` raises for text that is not JSON (``ValueError`` subclasses), and
    ``BadRequest`` (slug ``json-too-deep`` or ``json-number-too-long``) for JSON over a limit.
    """
    try:
        data = json.loads(
            raw,
            parse_int=_number(int, limits.json_max_number_chars),
            parse_float=_number(float, limits.json_max_number_chars),
        )
    except RecursionError:  # deeper than the interpreter's stack: far past any limit we allow
        raise _too_deep(limits) from None
    except _NumberTooLong as exc:
        raise BadRequest(
            f"a number in the body has {exc.length} characters; the limit is "
            f"{limits.json_max_number_chars} (limits.json_max_number_chars)",
            slug="json-number-too-long",
            title="Number too long",
        ) from None
    if _depth(data, limits.json_max_depth) > limits.json_max_depth:
        raise _too_deep(limits)
    return data


def _too_deep(limits: LimitsSettings) -> BadRequest:
    return BadRequest(
        f"the body nests objects or arrays deeper than {limits.json_max_depth} levels "
        "(limits.json_max_depth)",
        slug="json-too-deep",
        title="JSON nested too deep",
    )


def _depth(data: Any, stop_after: int) -> int:
    """Nesting depth of ``data`` (a scalar is 0), counted without recursion; stops past ``stop_after``."""
    deepest = 0
    stack = [(data, 1)] if isinstance(data, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > stop_after:
            break
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return deepest


def check_body(body: Any, limits: LimitsSettings) -> None:
    """413 when a parsed body carries more messages, or longer texts, than ``limits`` allow."""
    messages = getattr(body, "messages", None)
    if isinstance(messages, list) and len(messages) > limits.messages_per_event:
        raise PayloadTooLarge(
            f"the body carries {len(messages)} messages; the limit is "
            f"{limits.messages_per_event} (limits.messages_per_event)",
            slug="too-many-messages",
            title="Too many messages",
        )
    texts = [("text", getattr(body, "text", None)), ("note", getattr(body, "note", None))]
    if isinstance(messages, list):
        texts += [(f"messages[{i}].text", getattr(m, "text", None)) for i, m in enumerate(messages)]
    for path, text in texts:
        if isinstance(text, str) and len(text) > limits.text_chars:
            raise PayloadTooLarge(
                f"{path} has {len(text)} characters; the limit is {limits.text_chars} "
                "(limits.text_chars)",
                slug="text-too-long",
                title="Text too long",
            )


def check_conversation(count: int, limits: LimitsSettings) -> None:
    """413 when a conversation would hold more than ``limits.messages_per_conversation`` messages."""
    if count > limits.messages_per_conversation:
        raise PayloadTooLarge(
            f"the conversation would hold {count} messages; the limit is "
            f"{limits.messages_per_conversation} (limits.messages_per_conversation): "
            "start a new conversation id",
            slug="conversation-too-long",
            title="Conversation too long",
        )
