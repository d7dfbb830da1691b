"""The docs stay true: every CLI command is in the README, every endpoint in the README's table."""

from __future__ import annotations

from pathlib import Path

import click

from connector.cli import main
from connector.openapi import openapi_document

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "handoff") -> list[str]:
    out = []
    for name, command in group.commands.items():
        out.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            out.extend(_commands(command, f"{prefix} {name}"))
    return out


def test_every_cli_command_is_documented():
    for command in _commands(main):
        assert command in README, f"{command!r} is not in README.md"


def test_every_cli_option_is_documented():
    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, f"{prefix} {name}")
                continue
            for param in command.params:
                if isinstance(param, click.Option):
                    assert any(opt in README for opt in param.opts), f"{prefix} {name} {param.opts}"

    walk(main, "handoff")


def test_every_endpoint_is_in_the_readme():
    for path, methods in openapi_document()["paths"].items():
        readme_path = path.replace("{conversation_id}", "{id}").replace("{handoff_id}", "{id}")
        for method in methods:
            assert f"{method.upper()} {readme_path}" in README, f"{method.upper()} {path}"


def test_every_route_is_in_the_openapi_document(app):  # type: ignore[no-untyped-def]
    """A new route cannot be forgotten: the app's URL map and /openapi.json name the same operations."""
    documented = {
        (method.upper(), path)
        for path, ops in openapi_document()["paths"].items()
        for method in ops
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<path:", "{").replace("<", "{").replace(">", "}")
        routed |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed - documented == set(), "routes missing from /openapi.json"
    assert documented - routed == set(), "/openapi.json names routes the app does not have"
