"""The ``store`` section of the configuration: where the store is, as ``url`` or the older ``path``.

``connector/config.py`` reads the file and the ``HANDOFF_*`` overrides; an override of one
spelling drops the others there, so here only a file that gives both, or two overrides, can
disagree.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from connector.errors import ConfigError
from connector.policy_config import Section

SQLITE_URL_PREFIX = "sqlite:///"


def _null_is_unset(value: Any) -> Any:
    return "" if value is None else value


# null or absent in the file: filled in from the other spelling (``StoreSettings``); always a str
_Spelling = Annotated[str, BeforeValidator(_null_is_unset)]


class StoreSettings(Section):
    """Where the store lives. ``url``'s scheme picks the store (``STORES`` in ``connector/store/base.py``).

    ``path`` is the older spelling of a SQLite ``url``: ``path: x.db`` means ``url: sqlite:///x.db``.
    Either may be given; after validation both are filled in (``path`` is empty for a store that
    is not SQLite), and given together they must name the same file. ``backend``, kept for older
    files, must be the url's scheme when set. With neither, the store is ``sqlite:///handoff.db``.
    """

    url: _Spelling = ""
    backend: _Spelling = ""
    path: _Spelling = ""
    busy_timeout_ms: int = Field(default=10_000, ge=0, le=600_000)
    pool_size: int = Field(default=10, ge=1, le=1000)  # PostgreSQL: connections per process

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        if url and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
            raise ValueError("must be a URL like sqlite:///handoff.db (scheme://...)")
        return url

    @model_validator(mode="after")
    def _one_location(self) -> StoreSettings:
        if not self.url:
            self.url = SQLITE_URL_PREFIX + (self.path or "handoff.db")
        scheme = self.url.partition("://")[0].lower()
        if scheme == "sqlite" and self.url.startswith(SQLITE_URL_PREFIX):
            from_url = self.url[len(SQLITE_URL_PREFIX) :]
            if self.path and os.path.normpath(self.path) != os.path.normpath(from_url):
                raise ValueError(
                    f"store.url ({self.url}) and store.path ({self.path}) name different files; "
                    "give only one (an environment override of either replaces both)"
                )
            self.path = from_url
        elif self.path:
            raise ValueError(
                f"store.path is for SQLite only, but store.url is {scheme}://...; drop store.path"
            )
        if self.backend and self.backend != scheme:
            raise ValueError(
                f"store.backend {self.backend!r} disagrees with the scheme of store.url "
                f"({scheme!r}); drop store.backend, the url picks the store"
            )
        self.backend = scheme
        return self


def anchor_store(settings: StoreSettings, base: str | os.PathLike[str] | None) -> None:
    """Make a relative SQLite file absolute under ``base`` (the config file's folder, or
    ``$HANDOFF_HOME``), so every command finds the same store whatever the working directory.
    With ``base`` None (the built-in defaults, or a path from a ``HANDOFF_*`` variable typed in
    a shell) a relative file stays relative to the working directory."""
    path = settings.path
    if base is None or not path or path == ":memory:" or path.startswith("file:"):
        return
    expanded = os.path.expanduser(path)
    if os.path.isabs(expanded):
        return
    settings.path = os.path.normpath(os.path.join(os.path.abspath(base), expanded))
    settings.url = SQLITE_URL_PREFIX + settings.path


def check_store(settings: StoreSettings) -> list[tuple[str, str]]:
    """Resolve ``store.url``'s scheme to a store and let it check the rest of the URL."""
    from connector.store.base import store_class, url_scheme

    url = settings.url
    try:
        return store_class(url_scheme(url)).check_url(url)
    except ConfigError as exc:
        return list(exc.problems)
