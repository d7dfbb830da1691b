"""The commented channel sources of config.example.yaml stay true: uncommented, each one is valid
for its channel (the same check ``handoff check-config`` runs)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from channels.base import channel_class

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def commented_sources() -> dict[str, dict]:  # type: ignore[type-arg]
    text = EXAMPLE.read_text()
    section = text.split("\nsources:\n", 1)[1].split("\n# Where handoffs are delivered.", 1)[0]
    lines = [
        line.replace("  #", "  ", 1) for line in section.splitlines() if line.startswith("  #  ")
    ]
    # ${ENV} placeholders stand for the operator's secrets: give each a value a secret could have
    text = re.sub(r"\$\{[^}]*\}", "example_secret_0123456789", "\n".join(lines))
    return yaml.safe_load(text) or {}


def test_every_commented_channel_source_is_valid() -> None:
    sources = commented_sources()
    assert {"typebot", "chatwoot", "rasa"} <= set(sources)
    for name, source in sources.items():
        channel = source.pop("channel")
        cls = channel_class(channel, key_path=f"sources.{name}.channel")
        assert cls.validate_settings(source) == [], name
