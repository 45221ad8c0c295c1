"""Lambda functions: handlers, runtime, sizing, environment, JSON logs, log retention."""

from __future__ import annotations

import importlib
import importlib.util

import pytest

from exec_assistant import coldstart
from tests.infra.conftest import ACCOUNT, REGION, Deployment

FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

HANDLERS = {
    "prep-trigger": "exec_assistant.workflows.prep_trigger_handler.lambda_handler",
    "slack-bot": "exec_assistant.interfaces.slack_bot.lambda_handler",
    "calendar-monitor": "exec_assistant.workflows.calendar_monitor.lambda_handler",
    "digest": "exec_assistant.workflows.digest.lambda_handler",
    "webhooks": "exec_assistant.interfaces.webhooks.lambda_handler",
    "email-events": "exec_assistant.workflows.email_events.lambda_handler",
}
#: Handlers whose module another engineer is writing right now (issue 14's receipts): the
#: infrastructure names them by their contract string. An entry must go once the module exists
#: (the test below fails on a stale entry).
PENDING_HANDLERS: set[str] = set()
SIZING = {
    "prep-trigger": (512, 60),
    "slack-bot": (512, 30),
    "calendar-monitor": (512, 120),
    "digest": (512, 60),
    "webhooks": (512, 30),
    "email-events": (512, 60),
}

SHARED_ENV = {
    "ENVIRONMENT",
    "EXEC_ASSISTANT_STORE",
    "USERS_TABLE_NAME",
    "MEETINGS_TABLE_NAME",
    "CHAT_SESSIONS_TABLE_NAME",
    "NOTIFICATIONS_TABLE_NAME",
    "FEEDS_TABLE_NAME",
    "EVENT_BUS_NAME",
    "LOG_LEVEL",
    "PYDANTIC_DISABLE_PLUGINS",
}
SCHEDULER_ENV = {
    "SCHEDULER_GROUP_NAME",
    "SCHEDULER_ROLE_ARN",
    "SCHEDULER_TARGET_ARN",
    "SCHEDULER_DLQ_ARN",
}
#: What the prep trigger, which notifies, gets besides the shared settings ("dev": all set).
NOTIFYING_ENV = (
    SHARED_ENV
    | SCHEDULER_ENV
    | {
        "SLACK_BOT_TOKEN_SECRET_ARN",
        "TWILIO_ACCOUNT_SID_SECRET_ARN",
        "TWILIO_AUTH_TOKEN_SECRET_ARN",
        "TWILIO_FROM_NUMBER_SECRET_ARN",
        "ACTION_LINK_SECRET_SECRET_ARN",
        "SES_FROM_EMAIL",
        "SES_CONFIGURATION_SET",
        "PUBLIC_BASE_URL",
    }
)
#: Per function, with every optional setting configured (the "dev" scenario).
FULL_ENV = {
    "slack-bot": SHARED_ENV
    | SCHEDULER_ENV
    | {"SLACK_BOT_TOKEN_SECRET_ARN", "SLACK_SIGNING_SECRET_SECRET_ARN", "POST_RESPONSE_DLQ_URL"},
    "prep-trigger": NOTIFYING_ENV,
    "webhooks": SHARED_ENV
    | SCHEDULER_ENV
    | {
        "SLACK_BOT_TOKEN_SECRET_ARN",
        "TWILIO_AUTH_TOKEN_SECRET_ARN",
        "ACTION_LINK_SECRET_SECRET_ARN",
        "PUBLIC_BASE_URL",
    },
    "email-events": SHARED_ENV | SCHEDULER_ENV,
    "calendar-monitor": SHARED_ENV | SCHEDULER_ENV | {"SLACK_BOT_TOKEN_SECRET_ARN"},
    "digest": SHARED_ENV | SCHEDULER_ENV | {"SLACK_BOT_TOKEN_SECRET_ARN"},
}


def _env(deployment: Deployment, component: str) -> dict[str, str]:
    variables: dict[str, str] = deployment.function(component)["environment"]["variables"]
    return variables


@pytest.mark.parametrize("component", sorted(HANDLERS))
def test_handler_runtime_memory_timeout(dev: Deployment, component: str) -> None:
    function = dev.function(component)
    assert function["handler"] == HANDLERS[component]
    assert function["runtime"] == "python3.13"
    assert function["architectures"] == ["x86_64"]
    assert (function["memorySize"], function["timeout"]) == SIZING[component]
    assert function["role"] == dev.role(component).state["arn"]


def test_pending_handlers_are_not_stale() -> None:
    for handler in PENDING_HANDLERS:
        module_name = handler.rpartition(".")[0]
        assert importlib.util.find_spec(module_name) is None, f"{module_name} exists: unpend it"


@pytest.mark.parametrize("handler", sorted(set(HANDLERS.values()) - PENDING_HANDLERS))
def test_handler_strings_resolve_to_callables_in_the_package(handler: str) -> None:
    module_name, _, attr = handler.rpartition(".")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attr))
    # and each ends the cold start's collector pause when its first invocation ends
    assert coldstart.is_entry(getattr(module, attr))


@pytest.mark.parametrize("component", sorted(HANDLERS))
def test_environment_exact_keys_and_values(dev: Deployment, component: str) -> None:
    env = _env(dev, component)
    assert set(env) == FULL_ENV[component]
    assert env["ENVIRONMENT"] == "dev"
    assert env["EXEC_ASSISTANT_STORE"] == "dynamodb"
    for table in ("users", "meetings", "chat-sessions", "notifications"):
        key = f"{table.replace('-', '_').upper()}_TABLE_NAME"
        assert env[key] == f"exec-assistant-{table}-dev"
    assert env["EVENT_BUS_NAME"] == "exec-assistant-bus-dev"
    assert env["PYDANTIC_DISABLE_PLUGINS"] == "__all__"  # no plugin lookup on a cold start
    assert env["SCHEDULER_GROUP_NAME"] == "exec-assistant-reminders-dev"
    assert (
        env["SCHEDULER_ROLE_ARN"]
        == f"arn:aws:iam::{ACCOUNT}:role/exec-assistant-scheduler-role-dev"
    )
    assert env["SCHEDULER_TARGET_ARN"] == dev.outputs["event_bus_arn"]


#: Variables a library reads, not the package (each with its reason in infra/stack.py).
LIBRARY_ENV = {"PYDANTIC_DISABLE_PLUGINS"}


def test_environment_names_are_settings_the_package_reads(any_deployment: Deployment) -> None:
    from exec_assistant.config import Settings

    for function in any_deployment.of_type(FUNCTION):
        for key in function["environment"]["variables"]:
            assert key.lower() in Settings.model_fields or key in LIBRARY_ENV, key


def test_never_reserved_aws_variables(any_deployment: Deployment) -> None:
    for function in any_deployment.of_type(FUNCTION):
        keys = set(function["environment"]["variables"])
        assert not {k for k in keys if k.startswith(("AWS_", "_"))}, keys
        assert "AWS_REGION" not in keys


def test_secrets_reach_functions_as_arns_never_values(dev: Deployment) -> None:
    secret_values = {v for k, v in dev.config.items() if k != "ses_from_email"}
    for function in dev.of_type(FUNCTION):
        assert "environment" not in function.secret_inputs
        variables = function["environment"]["variables"]
        assert not secret_values & set(variables.values())
        for key, value in variables.items():
            if key.endswith("_SECRET_ARN"):
                secret_name = key.removesuffix("_SECRET_ARN").lower().replace("_", "-")
                assert value == (
                    f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
                    f"exec-assistant-{secret_name}-dev-AbCdEf"
                )
    assert _env(dev, "prep-trigger")["SES_FROM_EMAIL"] == "assistant@example.com"


def test_optional_settings_absent_when_not_configured(prod: Deployment) -> None:
    env = _env(prod, "prep-trigger")
    assert not {k for k in env if k.startswith("TWILIO_")}
    assert "SES_FROM_EMAIL" not in env
    assert env["SLACK_BOT_TOKEN_SECRET_ARN"].startswith("arn:aws:secretsmanager:")


@pytest.mark.parametrize(("scenario_env", "days"), [("dev", 7), ("prod", 30)])
def test_log_groups_created_with_retention_per_env(
    dev: Deployment, prod: Deployment, scenario_env: str, days: int
) -> None:
    deployment = dev if scenario_env == "dev" else prod
    groups = {g["name"]: g for g in deployment.of_type(LOG_GROUP)}
    for component in HANDLERS.keys() - ({"email-events"} if scenario_env == "prod" else set()):
        name = f"/aws/lambda/exec-assistant-{component}-{scenario_env}"
        assert groups[name]["retentionInDays"] == days
        function = deployment.function(component)
        assert function["loggingConfig"] == {"logFormat": "JSON", "logGroup": name}
    assert {g["retentionInDays"] for g in groups.values()} == {days}


def test_disabled_flag_leaves_no_scheduler_settings(disabled: Deployment) -> None:
    for component in ("slack-bot", "calendar-monitor"):
        env = _env(disabled, component)
        assert not env.keys() & SCHEDULER_ENV
        assert env["EVENT_BUS_NAME"] == "exec-assistant-bus-dev"
