"""Configuration: key paths in every error, env interpolation and overrides, the example is true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connector.cli import main
from connector.config import DEMO_DEFAULT_SECRET, Settings, load_config
from connector.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env=env or {})
    return info.value.lines()


def test_example_runs_as_is_and_equals_the_built_in_defaults():
    from_file = load_config(EXAMPLE, env={})
    built_in = load_config(None, env={})
    # the same file name; the example's store sits next to it, the built-in one in the cwd
    assert from_file.store.path == str(EXAMPLE.parent / built_in.store.path)
    assert from_file.model_copy(update={"store": built_in.store}) == built_in
    assert from_file.sources["demo"].secret == DEMO_DEFAULT_SECRET
    assert from_file.sources["demo"].callback_url is None
    assert list(from_file.destinations) == ["local"]


def _keys(model: type, prefix: str = "") -> list[str]:
    from pydantic import BaseModel

    out = []
    for name, field in model.model_fields.items():
        out.append(prefix + name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.extend(_keys(annotation, prefix + name + "."))
    return out


def test_every_config_key_is_documented_in_the_example():
    text = EXAMPLE.read_text()
    for key in _keys(Settings):
        leaf = key.split(".")[-1]
        # as a key, or as the first line of a commented block ("#  generator:", off by default)
        assert re.search(rf"^\s*(?:#  )?{leaf}:", text, re.M), (
            f"{key} is not in config.example.yaml"
        )
    from connector.config import SourceSettings, TeamSettings

    for model in (SourceSettings, TeamSettings):
        for key in _keys(model):
            assert re.search(rf"^\s*{key}:", text, re.M), f"{model.__name__}.{key} undocumented"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("server:\n  prot: 80\n", "server.prot: unknown key"),
        ("serve:\n  port: 80\n", "serve: unknown key"),
        ("server:\n  port: 99999\n", "server.port: Input should be less than or equal to 65535"),
        ("server:\n  port: eighty\n", "server.port: Input should be a valid integer"),
        (
            "sources:\n  bot:\n    callback_url: http://x\n",
            "sources.bot.secret: required key is missing",
        ),
        (
            "sources:\n  bot:\n    secret: short\n",
            "sources.bot.secret: String should have at least 8 characters",
        ),
        (
            "sources:\n  bot:\n    secret: long-enough\n    callback_url: ftp://x\n",
            "sources.bot.callback_url: must be an http:// or https:// URL",
        ),
        (
            "destinations:\n  zendesc: {}\n",
            "destinations.zendesc: unknown destination (did you mean 'zendesk'?)",
        ),
        ("destinations:\n  local:\n    colour: red\n", "destinations.local.colour: unknown key"),
        ("destinations: {}\n", "destinations: configure at least one destination"),
        (
            "policy:\n  rules:\n    - {id: r, when: {trigger: human_request, patterns: ['(unclosed']}}\n",
            "policy.rules[0].when.patterns: item 0: regex does not compile",
        ),
        (
            "routing:\n  default_team: support\n",
            "routing: default_team 'support' is not one of teams",
        ),
        (
            "worker:\n  max_attempts: 0\n",
            "worker.max_attempts: Input should be greater than or equal to 1",
        ),
        ("security:\n  api_keys: []\n", "security.api_keys: List should have at least 1 item"),
        (
            "logging:\n  level: LOUD\n",
            "logging.level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
        ),
        ("- just\n- a list\n", "must contain a mapping"),
        ("server: [unclosed\n", "is not valid YAML (line"),
    ],
    ids=lambda v: v if len(v) < 40 else v[:40],
)
def test_problems_name_their_key_path(tmp_path, text, expected):  # type: ignore[no-untyped-def]
    found = problems(tmp_path, text)
    assert any(expected in line for line in found), found


def test_all_problems_are_reported_at_once(tmp_path):  # type: ignore[no-untyped-def]
    found = problems(tmp_path, "server:\n  port: 0\n  colour: red\nworker:\n  concurrency: 0\n")
    assert len(found) == 3


def test_env_interpolation_and_overrides(tmp_path):  # type: ignore[no-untyped-def]
    path = write(tmp_path, "sources:\n  bot:\n    secret: ${BOT_SECRET}\n")
    env = {
        "BOT_SECRET": "from-the-env",
        "HANDOFF_PORT": "9090",
        "HANDOFF_WORKER__CONCURRENCY": "7",
        "HANDOFF_SOURCES__BOT__CALLBACK_URL": "http://127.0.0.1:1/cb",
        "HANDOFF_DEMO_SECRET": "ignored",
    }
    settings = load_config(path, env=env)
    assert settings.sources["bot"].secret == "from-the-env"
    assert settings.server.port == 9090 and settings.worker.concurrency == 7
    assert settings.sources["bot"].callback_url == "http://127.0.0.1:1/cb"


def test_missing_env_variable_names_the_key(tmp_path):  # type: ignore[no-untyped-def]
    found = problems(tmp_path, "sources:\n  bot:\n    secret: ${NOT_SET_ANYWHERE}\n")
    assert "sources.bot.secret: environment variable NOT_SET_ANYWHERE is not set" in found


def test_bad_override_names_the_key(tmp_path):  # type: ignore[no-untyped-def]
    found = problems(tmp_path, "{}\n", env={"HANDOFF_SERVER__PROT": "1"})
    assert "server.prot: unknown key" in found


def test_default_secrets_warn_off_loopback():
    settings = load_config(EXAMPLE, env={"HANDOFF_HOST": "0.0.0.0"})
    assert len(settings.warnings()) == 3  # demo secret, API key, widget secret
    assert load_config(EXAMPLE, env={}).warnings() == []
    custom = load_config(
        EXAMPLE,
        env={
            "HANDOFF_HOST": "0.0.0.0",
            "HANDOFF_DEMO_SECRET": "s3cret-value",
            "HANDOFF_API_KEY": "agent-key-123",
            "HANDOFF_WIDGET_SECRET": "widget-secret-0123456789",
        },
    )
    assert custom.warnings() == []


def test_check_config_cli(tmp_path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    ok = runner.invoke(main, ["check-config", str(EXAMPLE)], env={"HANDOFF_HOST": None})
    assert ok.exit_code == 0 and "OK" in ok.output
    bad = write(tmp_path, "server:\n  prot: 80\nworker:\n  concurrency: -1\n")
    result = runner.invoke(main, ["check-config", str(bad)])
    assert result.exit_code == 1
    assert "server.prot: unknown key" in result.output and "2 problem(s)" in result.output
    missing = runner.invoke(main, ["check-config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read config file" in missing.output
    loud = runner.invoke(main, ["check-config", str(EXAMPLE)], env={"HANDOFF_HOST": "0.0.0.0"})
    assert (
        loud.exit_code == 0
        and "warning: sources.demo.secret is the documented local default" in loud.output
    )


def test_example_is_valid_yaml_with_every_section():
    data = yaml.safe_load(EXAMPLE.read_text())
    assert set(data) == set(Settings.model_fields)


# --- issue 19: hints, overrides named, no sources ---------------------------------------------------


@pytest.mark.parametrize(
    "text,env,hint",
    [
        ("server:\n  prot: 1\n", {}, "  server.prot: did you mean 'port'?"),
        ("logging:\n  levle: INFO\n", {}, "  logging.levle: did you mean 'level'?"),
        (
            "reminders:\n  windw_minutes: 3\n",
            {},
            "  reminders.windw_minutes: did you mean 'response_window_minutes'?",
        ),
        ("reminders:\n  qqq: 3\n", {}, None),
        ("{}\n", {"HANDOFF_SERVER__PORT": "abc"}, "  server.port: set by HANDOFF_SERVER__PORT=abc"),
        (
            "{}\n",
            {"HANDOFF_SERVER__PROT": "1"},
            "  server.prot: did you mean 'port'?; set by HANDOFF_SERVER__PROT=1",
        ),
    ],
    ids=["typo", "nested-typo", "far-typo", "no-close-key", "env-value", "env-typo"],
)
def test_hints_say_did_you_mean_and_which_variable(tmp_path, text, env, hint):  # type: ignore[no-untyped-def]
    found = problems(tmp_path, text, env=env)
    hints = [line for line in found if line.startswith("  ")]
    assert hints == ([hint] if hint else [])


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "alerts:\n  channels:\n    ops:\n      type: slack\n      webhook_url: https://h\n"
            "      evnts: [reminder]\n",
            [
                "alerts.channels.ops.evnts: unknown key",
                "  alerts.channels.ops.evnts: did you mean 'events'?",
            ],
        ),
        (
            "sources:\n  demo:\n    secret: sixteen-chars-ok\n    callbak_url: http://bot\n",
            ["sources.demo.callbak_url: unknown key (did you mean 'callback_url'?)"],
        ),
        (
            "sources:\n  bp:\n    channel: botpress\n    secret: bp-endpoint-secret-0123\n"
            "    webhook_url: https://w/x\n    zzz_qqq: 3\n",
            ["sources.bp.zzz_qqq: unknown key"],
        ),
        (
            "destinations:\n  zendesk:\n    subdomian: acme\n    subdomain: acme\n"
            "    email: a@acme.com\n    token: t0123456789\n",
            ["destinations.zendesk.subdomian: unknown key (did you mean 'subdomain'?)"],
        ),
    ],
    ids=[
        "alert channel (a tagged union)",
        "source",
        "platform source, nothing close",
        "destination",
    ],
)
def test_every_unknown_key_gets_did_you_mean(tmp_path, text, expected):  # type: ignore[no-untyped-def]
    assert problems(tmp_path, text) == expected


def test_check_config_blames_the_variable_not_the_defaults():  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        main, ["check-config"], env={"HANDOFF_SERVER__PORT": "abc", "HANDOFF_CONFIG": ""}
    )
    assert result.exit_code == 1
    assert "set by HANDOFF_SERVER__PORT=abc" in result.output
    assert "1 problem(s) in the built-in defaults with HANDOFF_* overrides" in result.output


def test_no_sources_is_a_warning_that_no_bot_can_post(tmp_path):  # type: ignore[no-untyped-def]
    config = write(tmp_path, "sources: {}\n")
    result = CliRunner().invoke(main, ["check-config", str(config)], env={})
    assert (
        result.exit_code == 0
        and "warning: no bot sources (sources:): no bot can post events" in result.output
    )
    # the same warning is what `serve` and `worker` print loudly at start-up
    assert any("no bot can post" in w for w in load_config(config, env={}).warnings())
