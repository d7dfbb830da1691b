"""``agents:``: per-agent credentials, so that who acts is who the credential names.

Each agent has a name (the actor in claims, replies, handbacks and the audit), an optional e-mail,
the teams they work for, and the SHA-256 of their personal API key (never the key itself:
``printf %s "$KEY" | sha256sum``). ``connector/agents.py`` checks presented keys against them.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from connector.policy_config import Section


class AgentSettings(Section):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    teams: list[str] = Field(default_factory=list)
    key_sha256: str

    @field_validator("key_sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise ValueError(
                'the SHA-256 of the agent\'s key, 64 hex digits (printf %s "$KEY" | sha256sum)'
            )
        return value.lower()


def check_agents(agents: list[AgentSettings]) -> list[tuple[str, str]]:
    """Problems across agents, as (key path, message): names and keys must be unique."""
    problems: list[tuple[str, str]] = []
    names: set[str] = set()
    keys: set[str] = set()
    for i, agent in enumerate(agents):
        if agent.name in names:
            problems.append((f"agents[{i}].name", f"another agent is called {agent.name!r}"))
        if agent.key_sha256 in keys:
            problems.append((f"agents[{i}].key_sha256", "another agent has the same key"))
        names.add(agent.name)
        keys.add(agent.key_sha256)
    return problems
