"""Resource names: ``exec-assistant-{component}-{env}`` everywhere (DESIGN.md's contract)."""

from __future__ import annotations

PROJECT = "exec-assistant"


def resource_name(component: str, env: str) -> str:
    """``exec-assistant-{component}-{env}``; ``component`` uses dashes (``slack-bot``)."""
    return f"{PROJECT}-{component}-{env}"


def table_name(table: str, env: str) -> str:
    """The table name the package derives by itself (``chat_sessions`` → ``chat-sessions``)."""
    return resource_name(table.replace("_", "-"), env)


def tags(env: str) -> dict[str, str]:
    """Tags on every taggable resource, for cost allocation and clean-up."""
    return {"project": PROJECT, "environment": env, "managed-by": "pulumi"}
