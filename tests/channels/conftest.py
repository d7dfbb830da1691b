"""Fixtures of the bot-platform channel tests: settings with one platform source beside ``demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connector.config import Settings, load_config
from tests.helpers import make_settings


def settings_with_source(tmp_path: Path, name: str, source: dict[str, Any]) -> Settings:
    """The usual test settings plus ``sources.<name>`` = ``source`` (loaded as a config file is)."""
    data = make_settings(tmp_path).model_dump(mode="json")
    data["sources"][name] = source
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(data))
    return load_config(path, env={})
