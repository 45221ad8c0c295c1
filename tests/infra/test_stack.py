"""Config keys, secrets seeding, resource names and the stack outputs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.infra.conftest import ACCOUNT, BASE_CONFIG, FULL_CONFIG, REGION, Deployment

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
Run = Callable[[str, Mapping[str, str]], Deployment]

ALWAYS_EXPORTED = {
    "environment",
    "api_endpoint",
    "slack_webhook_url",
    "slack_bot_function_arn",
    "slack_bot_invoke_arn",
    "calendar_monitor_function_arn",
    "event_bus_name",
    "event_bus_arn",
    "slack_post_response_dlq_url",
    "users_table_name",
    "meetings_table_name",
    "chat_sessions_table_name",
    "notifications_table_name",
    "alarm_topic_arn",
    "dashboard_name",
    "feeds_table_name",
}
PREP_EXPORTS = {
    "prep_trigger_function_arn",
    "prep_trigger_invoke_arn",
    "prep_rule_name",
    "prep_dlq_url",
    "scheduler_group_name",
    "scheduler_dlq_url",
    "digest_function_arn",  # the morning digest needs the schedule group too
    "webhooks_function_arn",
    "twilio_sms_url",
    "twilio_status_url",
}
#: With email configured too (ses_from_email).
EMAIL_EXPORTS = {"ses_configuration_set", "email_events_function_arn", "email_events_dlq_url"}


def test_every_named_resource_follows_the_naming_convention(any_deployment: Deployment) -> None:
    pattern = re.compile(rf"^exec-assistant-[a-z0-9-]+-{any_deployment.env}$")
    named = [r for r in any_deployment.resources if "name" in r.inputs]
    assert len(named) > 20
    for resource in named:
        name = resource["name"]
        if resource.type == "aws:cloudwatch/logGroup:LogGroup":
            name = name.rsplit("/", 1)[1]
        elif resource.type == "aws:apigatewayv2/stage:Stage":
            assert name == "$default"
            continue
        elif resource.type == "aws:lambda/alias:Alias":  # a qualifier of a named function
            assert name == "live"
            assert pattern.match(resource["functionName"])
            continue
        assert pattern.match(name), (resource.type, name)


def test_exports(dev: Deployment, prod: Deployment, disabled: Deployment) -> None:
    assert set(dev.outputs) == ALWAYS_EXPORTED | PREP_EXPORTS | EMAIL_EXPORTS
    assert set(prod.outputs) == ALWAYS_EXPORTED | PREP_EXPORTS
    assert set(disabled.outputs) == ALWAYS_EXPORTED
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:exec-assistant"
    assert dev.outputs["slack_bot_function_arn"] == f"{arn}-slack-bot-dev"
    assert dev.outputs["calendar_monitor_function_arn"] == f"{arn}-calendar-monitor-dev"
    assert dev.outputs["prep_trigger_function_arn"] == f"{arn}-prep-trigger-dev"
    assert prod.outputs["users_table_name"] == "exec-assistant-users-prod"
    assert prod.outputs["chat_sessions_table_name"] == "exec-assistant-chat-sessions-prod"
    assert dev.outputs["event_bus_name"] == "exec-assistant-bus-dev"
    assert dev.outputs["scheduler_group_name"] == "exec-assistant-reminders-dev"
    assert dev.outputs["slack_webhook_url"].endswith("/slack/webhook")


def test_one_secret_per_configured_value_seeded_as_pulumi_secret(dev: Deployment) -> None:
    secrets = {r["name"]: r for r in dev.of_type(SECRET)}
    expected = {
        "slack_bot_token",
        "slack_signing_secret",
        "twilio_account_sid",
        "twilio_auth_token",
        "twilio_from_number",
    }
    generated = "exec-assistant-action-link-secret-dev"  # tests/infra/test_answers.py
    assert set(secrets) - {generated} == {
        f"exec-assistant-{n.replace('_', '-')}-dev" for n in expected
    }
    versions = {v["secretId"]: v for v in dev.of_type(VERSION)}
    for name in expected:
        secret = secrets[f"exec-assistant-{name.replace('_', '-')}-dev"]
        version = versions[secret.id]
        assert version["secretString"] == FULL_CONFIG[name]
        assert "secretString" in version.secret_inputs  # stays encrypted in the state
        assert "kmsKeyId" not in secret.inputs  # aws/secretsmanager (AWS managed key)


def test_only_required_secrets_without_optional_config(prod: Deployment) -> None:
    names = {r["name"] for r in prod.of_type(SECRET)}
    assert names == {
        "exec-assistant-slack-bot-token-prod",
        "exec-assistant-slack-signing-secret-prod",
    }


def test_missing_required_secret_fails(run: Run) -> None:
    with pytest.raises(Exception, match="slack_signing_secret"):
        run("dev", {"slack_bot_token": "xoxb-1"})


@pytest.mark.parametrize(
    "partial",
    [
        {"twilio_account_sid": "AC1"},
        {"twilio_account_sid": "AC1", "twilio_auth_token": "t"},
        {"twilio_from_number": "+15005550006"},
    ],
)
def test_partial_twilio_config_fails(run: Run, partial: dict[str, str]) -> None:
    with pytest.raises(
        Exception, match="twilio_account_sid, twilio_auth_token, twilio_from_number"
    ):
        run("dev", {**BASE_CONFIG, **partial})


def test_invalid_ses_sender_fails(run: Run) -> None:
    with pytest.raises(Exception, match="ses_from_email"):
        run("dev", {**BASE_CONFIG, "ses_from_email": "not-an-address"})


def test_prep_notification_defaults_to_enabled(prod: Deployment) -> None:
    assert "enable_prep_notification" not in prod.config
    assert "prep_trigger_function_arn" in prod.outputs


def test_config_keys_are_exactly_the_documented_ones() -> None:
    from infra.config import OPTIONAL_SECRETS, REQUIRED_SECRETS

    assert REQUIRED_SECRETS == ("slack_bot_token", "slack_signing_secret")
    assert OPTIONAL_SECRETS == ("twilio_account_sid", "twilio_auth_token", "twilio_from_number")
    assert set(FULL_CONFIG) == {*REQUIRED_SECRETS, *OPTIONAL_SECRETS, "ses_from_email"}


def test_main_program_reads_config_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``infra/__main__.py`` as Pulumi runs it: prebuilt zip from the environment, all exports."""
    import runpy

    import pulumi

    from tests.infra.conftest import run_program

    prebuilt = tmp_path / "lambda.zip"
    prebuilt.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip
    monkeypatch.setenv("EXEC_ASSISTANT_LAMBDA_ZIP", str(prebuilt))
    exported: dict[str, object] = {}
    monkeypatch.setattr(pulumi, "export", exported.setdefault)
    main = Path(__file__).resolve().parents[2] / "infra" / "__main__.py"
    deployed = run_program("dev", FULL_CONFIG, program=lambda: runpy.run_path(str(main)))
    assert set(exported) == ALWAYS_EXPORTED | PREP_EXPORTS | EMAIL_EXPORTS
    functions = deployed.of_type("aws:lambda/function:Function")
    assert len(functions) == 6  # bot, monitor, trigger, digest, webhooks, email events
    assert {f["code"].path for f in functions} == {str(prebuilt)}
