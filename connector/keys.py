"""Where a pydantic error points, in a config file's words: the key path, and "did you mean".

Used by every place that turns a model's validation errors into ``check-config`` lines: the
config loader (``connector/config.py``), bot channels (``channels/base.py``) and helpdesks
(``integrations/base.py``). A tagged union's tag (``alerts.channels.<name>``'s ``type``) shows
in pydantic's locations as an extra step (``alerts.channels.team.slack.url``); here it is
followed to its model and left out of the path, since no file spells it.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, …]`` and ``X | None`` as X; a union of several models stays a union."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _tagged(annotation: Any, tag: Any) -> type[BaseModel] | None:
    """The member of a union of models whose ``Literal`` discriminator is ``tag``."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    for member in typing.get_args(annotation):
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        for field in member.model_fields.values():
            if typing.get_origin(field.annotation) is typing.Literal and tag in typing.get_args(
                field.annotation
            ):
                return member
    return None


def _step(annotation: Any, part: Any) -> Any:
    """The type one key below ``annotation``, or None when the model says nothing about it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return None if field is None else _unwrap(field.annotation)
    origin = typing.get_origin(annotation)
    if origin is dict:  # a name of the user's (a source, a team): its value
        return _unwrap(typing.get_args(annotation)[1])
    if origin is list and isinstance(part, int):
        return _unwrap(typing.get_args(annotation)[0])
    return None


def locate(model: type[BaseModel], loc: Sequence[Any]) -> tuple[tuple[Any, ...], list[str]]:
    """``loc`` without union tags, and the keys ``model`` allows where its last part sits (empty
    when unknown: a free-form mapping, or a path the model does not have)."""
    shown: list[Any] = []
    annotation: Any = model
    parts = list(loc)
    for i, part in enumerate(parts):
        member = _tagged(annotation, part) if annotation is not None else None
        if member is not None:  # pydantic's step into a tagged union: follow it, do not show it
            annotation = member
            continue
        shown.append(part)
        if i == len(parts) - 1:
            break
        annotation = _step(annotation, part) if annotation is not None else None
    allowed: list[str] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        allowed = list(annotation.model_fields)
    return tuple(shown), allowed


def dotted(loc: Sequence[Any]) -> str:
    """``("sources", "demo", "secret")`` → ``sources.demo.secret``; list indexes as ``[0]``."""
    out: list[str] = []
    for item in loc:
        out.append(f"[{item}]" if isinstance(item, int) else ("." if out else "") + str(item))
    return "".join(out)


def did_you_mean(model: type[BaseModel], loc: Sequence[Any]) -> str:
    """``did you mean 'port'?`` for an unknown key at ``loc`` close to an allowed one, else ``""``."""
    if not loc:
        return ""
    _, allowed = locate(model, loc)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def unknown_key(model: type[BaseModel], loc: Sequence[Any]) -> str:
    """The message for an unknown key: ``unknown key (did you mean 'port'?)`` when one is close."""
    hint = did_you_mean(model, loc)
    return f"unknown key ({hint})" if hint else "unknown key"
