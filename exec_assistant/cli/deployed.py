"""The names of a deployed stack's resources, from its environment (the stack name) alone.

Every resource is ``exec-assistant-{component}-{environment}`` (DESIGN.md; infra/naming.py), so the
CLI finds a stack's queues, alarms, secrets and bus without the Pulumi CLI or its state.
"""

from __future__ import annotations

from typing import Literal, get_args

from exec_assistant.config import SecretName, SettingsModel, get_settings

PROJECT = "exec-assistant"

QueueName = Literal["trigger", "scheduler", "post-response"]
QUEUES: tuple[QueueName, ...] = get_args(QueueName)
#: ``--queue`` name → the queue's component (infra: prep_notification.py, post_response.py)
_QUEUE_COMPONENTS: dict[QueueName, str] = {
    "trigger": "prep-dlq",
    "scheduler": "scheduler-dlq",
    "post-response": "post-response-dlq",
}
#: Every alarm of a stack is ``exec-assistant-alarm-{what}-{environment}`` (infra/alarms.py).
ALARM_PREFIX = f"{PROJECT}-alarm-"
#: The secrets a stack stores, and which of them it cannot run without.
SECRETS: tuple[SecretName, ...] = get_args(SecretName)
REQUIRED_SECRETS: frozenset[SecretName] = frozenset({"slack_bot_token", "slack_signing_secret"})


def resource_name(component: str, env: str) -> str:
    return f"{PROJECT}-{component}-{env}"


def queue_name(queue: QueueName, env: str) -> str:
    return resource_name(_QUEUE_COMPONENTS[queue], env)


def secret_name(secret: SecretName, env: str) -> str:
    return resource_name(secret.replace("_", "-"), env)


def bus_name(env: str) -> str:
    return resource_name("bus", env)


def is_stack_alarm(name: str, env: str) -> bool:
    return name.startswith(ALARM_PREFIX) and name.endswith(f"-{env}")


def deployed_settings(env: str) -> SettingsModel:
    """The settings that reach the stack's DynamoDB tables by their conventional names."""
    tables = ("users", "meetings", "chat_sessions", "notifications", "feeds")
    conventional = {f"{table}_table_name": None for table in tables}
    return get_settings().model_copy(
        update={"environment": env, "exec_assistant_store": "dynamodb", **conventional}
    )
