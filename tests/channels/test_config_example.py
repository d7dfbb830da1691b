"""config.example.yaml shows every key of the platform channels, in blocks that are valid sources
when uncommented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from channels.base import channel_class

EXAMPLE = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text()


@pytest.mark.parametrize("name", ["botframework", "botpress", "dialogflow"])
def test_the_commented_block_is_a_valid_source_with_every_key(name):  # type: ignore[no-untyped-def]
    match = re.search(rf"^  #  (\w+):\n  #    channel: {name}\n((?:  #    .*\n)+)", EXAMPLE, re.M)
    assert match, f"no commented source block with channel: {name}"
    block = "".join(line.removeprefix("  #    ") + "\n" for line in match.group(2).splitlines())
    block = re.sub(r"\$\{(\w+)\}", lambda m: f"{m.group(1).lower()}-value-1234567890", block)
    settings = yaml.safe_load(block)
    cls = channel_class(name, key_path="x")
    assert cls.validate_settings(settings) == []
    shown = set(settings) | {"callback_url"}  # shared, refused by these channels
    assert set(cls.settings_model.model_fields) == shown


def test_a_callback_url_on_a_platform_source_is_refused_with_its_path(tmp_path):  # type: ignore[no-untyped-def]
    from connector.config import load_config
    from connector.errors import ConfigError

    path = tmp_path / "c.yaml"
    path.write_text(
        "sources:\n  bp:\n    channel: botpress\n    secret: bp-endpoint-secret-0123\n"
        "    webhook_url: https://webhook.botpress.cloud/x\n    callback_url: http://bot\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.lines() == [
        "sources.bp.callback_url: not used by this channel: its callbacks go to webhook_url"
    ]
