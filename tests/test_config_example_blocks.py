"""Every commented block of ``config.example.yaml`` works when uncommented, one at a time.

A block is written with its ``#`` where the key will stand and two spaces after it (``#  zendesk:``,
``#  - name: …``), its lines below with more: uncommenting removes that ``#`` and the two spaces.
Each block, uncommented alone, must leave valid YAML that ``handoff check-config`` passes, with
the ``${VARIABLES}`` it names set (the secrets a reader would supply).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"
LINES = EXAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
_START = re.compile(r"^( *)#  (?=\S)")  # "#" where the key goes, two spaces, the key


def commented_blocks() -> list[tuple[int, int]]:
    """(first line, end line) of each commented block: a start line and the lines under it."""
    blocks, i = [], 0
    while i < len(LINES):
        start = _START.match(LINES[i])
        if start is None:
            i += 1
            continue
        body = re.compile(rf"^{start.group(1)}#   ")  # deeper: this block's own lines
        end = i + 1
        while end < len(LINES) and body.match(LINES[end]):
            end += 1
        blocks.append((i, end))
        i = end
    return blocks


def uncommented(first: int, end: int) -> str:
    lines = list(LINES)
    for n in range(first, end):
        indent = len(lines[n]) - len(lines[n].lstrip(" "))
        lines[n] = lines[n][:indent] + lines[n][indent + 3 :]
    return "".join(lines)


def placeholder(name: str) -> str:
    """What a reader would put in ``${NAME}``: a URL for a URL, else a long enough secret."""
    slug = name.lower().replace("_", "-")
    return (
        f"https://hooks.example.com/{slug}" if name.endswith("_URL") else f"{slug}-0123456789abcdef"
    )


def block_id(block: tuple[int, int]) -> str:
    return f"line {block[0] + 1}: {LINES[block[0]].strip()[3:].split('#')[0].strip()}"


BLOCKS = commented_blocks()


def test_the_example_has_the_blocks_it_documents() -> None:
    names = {LINES[first].strip()[3:].split(":")[0] for first, _ in BLOCKS}
    assert {"zendesk", "salesforce", "intercom", "servicenow", "freshdesk", "chatwoot"} <= names
    assert {
        "copilot",
        "botpress",
        "dialogflow",
        "typebot",
        "rasa",
        "billing",
        "team-slack",
    } <= names
    assert "- name" in names  # an agent


@pytest.mark.parametrize("block", BLOCKS, ids=[block_id(b) for b in BLOCKS])
def test_each_block_uncommented_alone_passes_check_config(
    tmp_path: Path, block: tuple[int, int]
) -> None:
    text = uncommented(*block)
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    first, end = block
    named = set(re.findall(r"\$\{([A-Z0-9_]+)\}", "".join(LINES[first:end])))
    env = {name: placeholder(name) for name in named}
    result = CliRunner().invoke(main, ["check-config", str(path)], env=env)
    assert result.exit_code == 0, "".join(LINES[first:end]) + result.output
    assert ": OK" in result.output
