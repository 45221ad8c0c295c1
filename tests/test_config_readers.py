"""The two readers of the settings agree: ``Settings()`` (pydantic-settings) and
``read_environment()`` (the Lambda handlers' reader, exec_assistant/config.py) read any environment
to the same values, or fail with the same error and message; ``get_settings`` uses the second on
Lambda only. The variable names are a contract (DESIGN.md): the list below is exact."""

from __future__ import annotations

import logging
import os
import types
import typing
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, SecretStr, ValidationError

from exec_assistant.config import Settings, SettingsModel, get_settings, read_environment
from exec_assistant.errors import ConfigurationError

#: Every configuration variable (DESIGN.md: config keys are a contract; docs/configuration.md).
VARIABLES = (
    "ACTION_LINK_SECRET",
    "ACTION_LINK_SECRET_SECRET_ARN",
    "BEDROCK_MAX_TOKENS",
    "BEDROCK_MODEL_ID",
    "BEDROCK_REGION",
    "BEDROCK_TIMEOUT_SECONDS",
    "BRIEF_WRITER",
    "CALENDAR_MONITOR_INTERVAL_SECONDS",
    "CHAT_SESSIONS_TABLE_NAME",
    "ENVIRONMENT",
    "EVENT_BUS_NAME",
    "EXEC_ASSISTANT_STORE",
    "FEEDS_TABLE_NAME",
    "LOG_LEVEL",
    "MEETINGS_TABLE_NAME",
    "MEETING_TYPES_FILE",
    "NOTIFICATIONS_TABLE_NAME",
    "NOTIFICATION_LEASE_SECONDS",
    "POST_RESPONSE_DLQ_URL",
    "PUBLIC_BASE_URL",
    "SCHEDULER_DLQ_ARN",
    "SCHEDULER_GROUP_NAME",
    "SCHEDULER_ROLE_ARN",
    "SCHEDULER_TARGET_ARN",
    "SES_CONFIGURATION_SET",
    "SES_FROM_EMAIL",
    "SLACK_API_URL",
    "SLACK_APP_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_BOT_TOKEN_SECRET_ARN",
    "SLACK_SIGNING_SECRET",
    "SLACK_SIGNING_SECRET_GRACE_SECONDS",
    "SLACK_SIGNING_SECRET_PREVIOUS",
    "SLACK_SIGNING_SECRET_ROTATED_AT",
    "SLACK_SIGNING_SECRET_SECRET_ARN",
    "SLACK_TEAM_ID",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_ACCOUNT_SID_SECRET_ARN",
    "TWILIO_API_URL",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_AUTH_TOKEN_SECRET_ARN",
    "TWILIO_FROM_NUMBER",
    "TWILIO_FROM_NUMBER_SECRET_ARN",
    "USERS_TABLE_NAME",
)

#: A valid value of every variable, and what it reads as.
VALID: dict[str, tuple[str, Any]] = {
    "ACTION_LINK_SECRET": ("k" * 40, "k" * 40),
    "ACTION_LINK_SECRET_SECRET_ARN": ("arn:aws:secretsmanager:x:1:secret:k", None),
    "BEDROCK_MAX_TOKENS": ("1000", 1000),
    "BEDROCK_MODEL_ID": ("anthropic.claude", None),
    "BEDROCK_REGION": ("us-west-2", None),
    "BEDROCK_TIMEOUT_SECONDS": ("2.5", 2.5),
    "BRIEF_WRITER": ("bedrock", None),
    "CALENDAR_MONITOR_INTERVAL_SECONDS": ("30", 30.0),
    "CHAT_SESSIONS_TABLE_NAME": ("sessions", None),
    "ENVIRONMENT": ("prod", None),
    "EVENT_BUS_NAME": ("bus-prod", None),
    "EXEC_ASSISTANT_STORE": ("dynamodb", None),
    "FEEDS_TABLE_NAME": ("feeds", None),
    "LOG_LEVEL": ("debug", "DEBUG"),
    "MEETINGS_TABLE_NAME": ("meetings", None),
    "MEETING_TYPES_FILE": ("/etc/types.toml", Path("/etc/types.toml")),
    "NOTIFICATIONS_TABLE_NAME": ("ledger", None),
    "NOTIFICATION_LEASE_SECONDS": ("45", 45.0),
    "POST_RESPONSE_DLQ_URL": ("https://sqs/dlq", None),
    "PUBLIC_BASE_URL": ("https://api.example.com", None),
    "SCHEDULER_DLQ_ARN": ("arn:aws:sqs:x:1:dlq", None),
    "SCHEDULER_GROUP_NAME": ("group", None),
    "SCHEDULER_ROLE_ARN": ("arn:aws:iam::1:role/r", None),
    "SCHEDULER_TARGET_ARN": ("arn:aws:events:x:1:event-bus/b", None),
    "SES_CONFIGURATION_SET": ("set", None),
    "SES_FROM_EMAIL": ("prep@example.com", None),
    "SLACK_API_URL": ("https://slack-gov.com/api/", None),
    "SLACK_APP_TOKEN": ("xapp-1-app-token", "xapp-1-app-token"),
    "SLACK_BOT_TOKEN": ("xoxb-1-bot-token", "xoxb-1-bot-token"),
    "SLACK_BOT_TOKEN_SECRET_ARN": ("arn:aws:secretsmanager:x:1:secret:b", None),
    "SLACK_SIGNING_SECRET": ("signing-secret-value", "signing-secret-value"),
    "SLACK_SIGNING_SECRET_GRACE_SECONDS": ("600", 600),
    "SLACK_SIGNING_SECRET_PREVIOUS": ("previous-secret-value", "previous-secret-value"),
    "SLACK_SIGNING_SECRET_ROTATED_AT": (
        "2026-12-01T10:00:00+01:00",
        datetime.fromisoformat("2026-12-01T10:00:00+01:00"),
    ),
    "SLACK_SIGNING_SECRET_SECRET_ARN": ("arn:aws:secretsmanager:x:1:secret:s", None),
    "SLACK_TEAM_ID": ("T123", None),
    "TWILIO_ACCOUNT_SID": ("AC" + "0" * 32, "AC" + "0" * 32),
    "TWILIO_ACCOUNT_SID_SECRET_ARN": ("arn:aws:secretsmanager:x:1:secret:a", None),
    "TWILIO_API_URL": ("http://127.0.0.1:9", None),
    "TWILIO_AUTH_TOKEN": ("twilio-auth-token", "twilio-auth-token"),
    "TWILIO_AUTH_TOKEN_SECRET_ARN": ("arn:aws:secretsmanager:x:1:secret:t", None),
    "TWILIO_FROM_NUMBER": ("+14155550100", "+14155550100"),
    "TWILIO_FROM_NUMBER_SECRET_ARN": ("arn:aws:secretsmanager:x:1:secret:f", None),
    "USERS_TABLE_NAME": ("users", None),
}

#: What a field's annotation may be built from for the reader to read it as pydantic-settings does:
#: plain scalars, taken from the environment as they are (no JSON, no nested keys).
_SCALARS: tuple[Any, ...] = (str, int, float, Path, SecretStr, AwareDatetime, type(None))


@pytest.fixture
def environ() -> Iterator[dict[str, str]]:
    """``os.environ`` emptied for the test (the readers see only what the test puts there)."""
    with mock.patch.dict(os.environ, clear=True):
        yield typing.cast(dict[str, str], os.environ)


def _read_both() -> tuple[Any, Any]:
    """What each reader makes of ``os.environ``: the settings' values, or (type, message)."""
    outcomes: list[Any] = []
    for read in (Settings, read_environment):
        try:
            outcomes.append(read().model_dump())
        except (ValidationError, ConfigurationError) as exc:
            outcomes.append((type(exc), str(exc)))
    return outcomes[0], outcomes[1]


def test_the_variable_names_are_the_contract() -> None:
    assert tuple(sorted(name.upper() for name in SettingsModel.model_fields)) == VARIABLES
    assert sorted(VALID) == list(VARIABLES)


def _atoms(annotation: Any) -> Iterator[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _atoms(arg)
    elif origin is Literal:
        yield from (type(arg) for arg in typing.get_args(annotation))
    else:
        yield annotation


def test_every_field_is_one_the_reader_reads_as_pydantic_settings_does() -> None:
    """No alias (the name is the variable), no model/list/dict (pydantic-settings would decode
    JSON or nested keys for those; the reader does not): a new field of that kind fails here."""
    for name, field in SettingsModel.model_fields.items():
        assert field.alias is None and field.validation_alias is None, name
        assert set(_atoms(field.annotation)) <= set(_SCALARS), (name, field.annotation)


@pytest.mark.parametrize("variable", VARIABLES)
def test_every_variable_is_read_by_both(variable: str, environ: dict[str, str]) -> None:
    raw, expected = VALID[variable]
    environ[variable] = raw
    from_settings, from_reader = _read_both()
    assert from_settings == from_reader
    value = getattr(read_environment(), variable.lower())
    shown = value.get_secret_value() if isinstance(value, SecretStr) else value
    assert shown == (raw if expected is None else expected)


def test_everything_at_once_and_the_defaults(environ: dict[str, str]) -> None:
    defaults = read_environment().model_dump()
    assert defaults == Settings().model_dump()
    environ.update({name: raw for name, (raw, _) in VALID.items()})
    both = _read_both()
    assert both[0] == both[1]
    assert all(both[0][name.lower()] != defaults[name.lower()] for name in VARIABLES)


@pytest.mark.parametrize(
    ("variable", "value", "error", "message"),
    [
        ("NOTIFICATION_LEASE_SECONDS", "0", ValidationError, "greater than 0"),
        ("SLACK_SIGNING_SECRET_GRACE_SECONDS", "soon", ValidationError, "valid integer"),
        ("SLACK_SIGNING_SECRET_ROTATED_AT", "2026-12-01T10:00:00", ValidationError, "timezone"),
        ("BRIEF_WRITER", "gpt", ValidationError, "'builtin' or 'bedrock'"),
        ("BEDROCK_MAX_TOKENS", "10", ValidationError, "greater than or equal to 50"),
        ("EXEC_ASSISTANT_STORE", "postgres://db", ConfigurationError, "use sqlite:////"),
        ("EXEC_ASSISTANT_STORE", "sqlite:///rel/x.db", ConfigurationError, "relative"),
        ("LOG_LEVEL", "loud", ConfigurationError, "LOG_LEVEL: 'loud' is not a log level"),
    ],
)
def test_a_bad_value_is_the_same_clear_error_from_both(
    variable: str, value: str, error: type[Exception], message: str, environ: dict[str, str]
) -> None:
    environ[variable] = value
    environ["SLACK_BOT_TOKEN"] = "xoxb-must-never-be-shown"
    for read in (Settings, read_environment):
        with pytest.raises(error) as info:
            read()
        assert message in str(info.value)
        assert "xoxb-must-never-be-shown" not in str(info.value)
        if isinstance(info.value, ValidationError):
            assert info.value.title == "Settings"  # the CLI tells configuration errors by it
            assert variable.lower() in str(info.value)
    assert _read_both()[0] == _read_both()[1]


def test_the_readers_secrets_stay_secret(
    environ: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    secrets = {name: raw for name, (raw, expected) in VALID.items() if expected == raw}
    environ.update(secrets)
    read = read_environment()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("settings: %s %r", read, read)
    shown = (repr(read), str(read), read.model_dump_json(), str(read.model_dump()), caplog.text)
    for value in secrets.values():
        assert all(value not in text for text in shown)
    assert read.secret("slack_bot_token") == secrets["SLACK_BOT_TOKEN"]


def test_get_settings_uses_the_reader_on_lambda_only(environ: dict[str, str]) -> None:
    environ["ENVIRONMENT"] = "staging"
    get_settings.cache_clear()
    assert type(get_settings()) is Settings
    environ["AWS_LAMBDA_FUNCTION_NAME"] = "exec-assistant-prep-trigger-staging"
    get_settings.cache_clear()
    on_lambda = get_settings()
    assert type(on_lambda) is SettingsModel
    assert on_lambda.environment == "staging"
    get_settings.cache_clear()


# --- any environment: hypothesis -------------------------------------------------------------

#: Text an environment variable can hold (no NUL, no lone surrogates).
_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
_interesting = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1.5",
        "50",
        "4096",
        "nan",
        "inf",
        "true",
        "null",
        '{"a": 1}',
        "[1]",
        "dynamodb",
        "sqlite:///",
        "sqlite:////tmp/x.db",
        "sqlite:///~/x.db",
        "sqlite:///~nosuchuser/x.db",
        "sqlite:///rel.db",
        "debug",
        "Warning",
        "builtin",
        "bedrock",
        "2026-12-01T10:00:00Z",
        "2026-12-01T10:00:00",
        "2026-12-01",
        "0001-01-01T00:00:00+05:00",
    ]
)


@st.composite
def _environments(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Variables in any case, some fields twice under names differing only in case, and
    variables that configure nothing."""
    items: list[tuple[str, str]] = []
    for name in draw(st.lists(st.sampled_from(VARIABLES), max_size=12)):
        lower = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
        spelled = "".join(c.lower() if flip else c for c, flip in zip(name, lower, strict=True))
        value = draw(st.one_of(_interesting, _text, st.just(VALID[name][0])))
        items.append((spelled, value))
    others = st.tuples(st.from_regex(r"[A-Z][A-Z_]{0,12}", fullmatch=True), _text)
    items += draw(st.lists(others, max_size=3))
    return items


@settings(max_examples=300, deadline=None)
@given(_environments())
def test_both_readers_read_any_environment_identically(items: list[tuple[str, str]]) -> None:
    with mock.patch.dict(os.environ, clear=True):
        for name, value in items:
            os.environ[name] = value
        from_settings, from_reader = _read_both()
        assert from_settings == from_reader
        if isinstance(from_reader, dict):  # a copy of the environment reads the same
            assert read_environment(dict(os.environ)).model_dump() == from_reader
