"""Settings from the environment; secrets stay secret; Secrets Manager resolution."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from exec_assistant.config import DEFAULT_SLACK_API_URL, Settings, clear_secret_cache, get_settings
from exec_assistant.errors import ConfigurationError

BOT_TOKEN = "xoxb-1111-2222-very-secret-token"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"


def test_environment_becomes_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "ENVIRONMENT": "prod",
        "EXEC_ASSISTANT_STORE": "dynamodb",
        "SLACK_API_URL": "https://slack-gov.com/api/",
        "TWILIO_API_URL": "http://127.0.0.1:9999",
        "SES_FROM_EMAIL": "prep@example.com",
        "EVENT_BUS_NAME": "exec-assistant-bus-prod",
        "NOTIFICATION_LEASE_SECONDS": "45",
        "SLACK_SIGNING_SECRET_GRACE_SECONDS": "600",
        "LOG_LEVEL": "DEBUG",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "prod"
    assert settings.exec_assistant_store == "dynamodb"
    assert settings.slack_api_url == "https://slack-gov.com/api/"
    assert settings.twilio_api_url == "http://127.0.0.1:9999"
    assert settings.ses_from_email == "prep@example.com"
    assert settings.event_bus_name == "exec-assistant-bus-prod"
    assert settings.notification_lease_seconds == 45.0
    assert settings.slack_signing_secret_grace_seconds == 600
    assert settings.log_level == "DEBUG"


def test_defaults() -> None:
    settings = Settings()
    assert settings.environment == "dev"
    assert settings.exec_assistant_store is None
    assert settings.slack_api_url == DEFAULT_SLACK_API_URL
    assert settings.twilio_api_url is None
    assert settings.event_bus_name == "default"
    assert settings.notification_lease_seconds == 120.0
    assert settings.secret("slack_bot_token") is None
    assert not settings.has_secret("twilio_auth_token")


def test_invalid_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATION_LEASE_SECONDS", "0")
    with pytest.raises(ValidationError, match="notification_lease_seconds"):
        Settings()


def test_table_name_convention_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "staging")
    monkeypatch.setenv("NOTIFICATIONS_TABLE_NAME", "ledger-table")
    settings = Settings()
    assert settings.table_name("users") == "exec-assistant-users-staging"
    assert settings.table_name("meetings") == "exec-assistant-meetings-staging"
    assert settings.table_name("chat_sessions") == "exec-assistant-chat-sessions-staging"
    assert settings.table_name("notifications") == "ledger-table"


def test_get_settings_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "first")
    assert get_settings().environment == "first"
    monkeypatch.setenv("ENVIRONMENT", "second")
    assert get_settings() is get_settings()
    assert get_settings().environment == "first"
    get_settings.cache_clear()
    assert get_settings().environment == "second"


def test_secrets_never_appear_in_repr_str_or_dumps(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "twilio-auth-token-value")
    settings = Settings()
    assert settings.secret("slack_bot_token") == BOT_TOKEN  # the value is there...
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("settings: %s %r", settings, settings)
    rendered = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
        caplog.text,
    ]
    for text in rendered:  # ...but never shown
        for secret in (BOT_TOKEN, SIGNING, "twilio-auth-token-value"):
            assert secret not in text


def test_missing_secret_names_the_variable_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    settings = Settings()
    with pytest.raises(ConfigurationError) as info:
        settings.require_secret("slack_bot_token")
    message = str(info.value)
    assert "SLACK_BOT_TOKEN" in message
    assert "SLACK_BOT_TOKEN_SECRET_ARN" in message
    assert SIGNING not in message
    assert info.value.code == "missing_setting"


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_secret_from_secrets_manager_arn(monkeypatch: pytest.MonkeyPatch, secrets: Any) -> None:
    arn = secrets.create_secret(Name="exec-assistant/slack-bot-token", SecretString=BOT_TOKEN)[
        "ARN"
    ]
    monkeypatch.setenv("SLACK_BOT_TOKEN_SECRET_ARN", arn)
    settings = Settings()
    assert settings.has_secret("slack_bot_token")
    assert settings.require_secret("slack_bot_token") == BOT_TOKEN
    assert BOT_TOKEN not in repr(settings)
    # fetched once per process: a rotation is seen only after the cache is cleared
    secrets.put_secret_value(SecretId=arn, SecretString="xoxb-rotated-token-value")
    assert settings.secret("slack_bot_token") == BOT_TOKEN
    clear_secret_cache()
    assert settings.secret("slack_bot_token") == "xoxb-rotated-token-value"


def test_direct_value_wins_over_arn(monkeypatch: pytest.MonkeyPatch, secrets: Any) -> None:
    arn = secrets.create_secret(Name="tok", SecretString="from-secrets-manager")["ARN"]
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_BOT_TOKEN_SECRET_ARN", arn)
    assert Settings().secret("slack_bot_token") == BOT_TOKEN


def test_unreadable_secret_is_a_configuration_error_without_values(
    monkeypatch: pytest.MonkeyPatch, secrets: Any
) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_SECRET_ARN", arn)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    with pytest.raises(ConfigurationError) as info:
        Settings().require_secret("twilio_auth_token")
    message = str(info.value)
    assert "twilio_auth_token" in message.lower()
    assert BOT_TOKEN not in message
    assert arn not in message
    assert info.value.code == "secret_unreadable"


def test_secrets_manager_throttling_is_transient(
    monkeypatch: pytest.MonkeyPatch, secrets: Any
) -> None:
    """A busy Secrets Manager is worth retrying; a missing secret is not (test above)."""
    from botocore.stub import Stubber

    from exec_assistant.aws import client
    from exec_assistant.errors import TransientError

    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:busy-AbCdEf"
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_SECRET_ARN", arn)
    with Stubber(client("secretsmanager")) as stub:
        stub.add_client_error(
            "get_secret_value", service_error_code="ThrottlingException", http_status_code=400
        )
        with pytest.raises(TransientError) as info:
            Settings().require_secret("twilio_auth_token")
    assert info.value.code == "secret_unavailable"
