"""secrets rotate|status against moto's Secrets Manager and the fake Slack Web API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from exec_assistant.interfaces.signing_secrets import SecretsManagerSigningSecrets
from tests.cli.conftest import Cli, assert_one_line_error
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI

OLD_TOKEN = "xoxb-old-0000000000-aaaaaaaaaaaa"
NEW_TOKEN = "xoxb-new-1111111111-bbbbbbbbbbbb"
OLD_SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
NEW_SIGNING = "e3b0c44298fc1c149afbf4c8996fb924"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
OLD_TWILIO = "00000000000000000000000000000000"
NEW_TWILIO = "9f86d081884c7d659a2feaa0c55ad015"


@pytest.fixture
def sm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def _stages(sm: Any, arn: str) -> dict[str, str]:
    """staging label → SecretString of that version."""
    versions = sm.list_secret_version_ids(SecretId=arn)["Versions"]
    return {
        stage: sm.get_secret_value(SecretId=arn, VersionId=v["VersionId"])["SecretString"]
        for v in versions
        for stage in v["VersionStages"]
    }


def _no_value_in(output: str, *values: str) -> None:
    for value in values:
        assert value not in output


@pytest.fixture
def bot_token_arn(sm: Any, monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlackAPI) -> str:
    arn: str = sm.create_secret(Name="slack-bot-token", SecretString=OLD_TOKEN)["ARN"]
    monkeypatch.setenv("SLACK_BOT_TOKEN_SECRET_ARN", arn)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    return arn


def test_rotate_bot_token_from_stdin_validates_and_moves_labels(
    cli: Cli, sm: Any, bot_token_arn: str, fake_slack: FakeSlackAPI
) -> None:
    fake_slack.token = NEW_TOKEN
    result = cli("secrets", "rotate", "slack-bot-token", input=NEW_TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert _stages(sm, bot_token_arn) == {"AWSCURRENT": NEW_TOKEN, "AWSPREVIOUS": OLD_TOKEN}
    assert [c.token for c in fake_slack.calls_to("auth.test")] == [NEW_TOKEN]
    assert "rotated" in result.stdout and "AWSPREVIOUS" in result.stdout
    assert "team Fake Workspace" in result.stdout
    _no_value_in(result.output, NEW_TOKEN, OLD_TOKEN)


def test_rotate_json_reports_version_ids(cli: Cli, sm: Any, bot_token_arn: str) -> None:
    before = sm.describe_secret(SecretId=bot_token_arn)["VersionIdsToStages"]
    (old_version,) = before
    result = cli("secrets", "rotate", "slack-bot-token", "--json", input=NEW_TOKEN)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    after = sm.describe_secret(SecretId=bot_token_arn)["VersionIdsToStages"]
    assert after[report["new_version_id"]] == ["AWSCURRENT"]
    assert report["previous_version_id"] == old_version
    assert after[old_version] == ["AWSPREVIOUS"]
    assert report["changed"] is True
    assert {v["version_id"] for v in report["versions"]} == set(after)
    _no_value_in(result.output, NEW_TOKEN, OLD_TOKEN)


def test_rejected_token_writes_nothing(
    cli: Cli, sm: Any, bot_token_arn: str, fake_slack: FakeSlackAPI
) -> None:
    fake_slack.token = "xoxb-the-only-valid-one"
    result = cli("secrets", "rotate", "slack-bot-token", input=NEW_TOKEN)
    assert_one_line_error(result, contains="invalid_auth")
    assert _stages(sm, bot_token_arn) == {"AWSCURRENT": OLD_TOKEN}
    _no_value_in(result.output, NEW_TOKEN, OLD_TOKEN)


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "no value"), ("xoxp-user-token-123456789", "xoxb-"), ("short", "does not look")],
)
def test_bad_values_write_nothing(
    cli: Cli, sm: Any, bot_token_arn: str, value: str, message: str
) -> None:
    result = cli("secrets", "rotate", "slack-bot-token", input=value)
    assert_one_line_error(result, contains=message)
    assert result.exit_code == 2
    assert _stages(sm, bot_token_arn) == {"AWSCURRENT": OLD_TOKEN}


def test_same_value_is_a_no_op(cli: Cli, sm: Any, bot_token_arn: str) -> None:
    result = cli("secrets", "rotate", "slack-bot-token", "--json", input=OLD_TOKEN)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changed"] is False
    assert _stages(sm, bot_token_arn) == {"AWSCURRENT": OLD_TOKEN}


def test_prompt_does_not_echo(
    cli: Cli, sm: Any, bot_token_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("exec_assistant.cli.secrets._interactive", lambda: True)
    result = cli("secrets", "rotate", "slack-bot-token", input=f"{NEW_TOKEN}\n{NEW_TOKEN}\n")
    assert result.exit_code == 0, result.output
    assert "New slack-bot-token" in result.output
    _no_value_in(result.output, NEW_TOKEN)
    assert _stages(sm, bot_token_arn)["AWSCURRENT"] == NEW_TOKEN


def test_signing_secret_rotation_feeds_the_grace_window(cli: Cli, sm: Any) -> None:
    arn = sm.create_secret(Name="slack-signing-secret", SecretString=OLD_SIGNING)["ARN"]
    result = cli("secrets", "rotate", "slack-signing-secret", "--secret-id", arn, input=NEW_SIGNING)
    assert result.exit_code == 0, result.output
    assert "stays accepted for 3600 s" in result.stdout
    _no_value_in(result.output, NEW_SIGNING, OLD_SIGNING)

    now = datetime.now(UTC)
    grace = timedelta(hours=1)
    within = SecretsManagerSigningSecrets(arn, grace=grace, clock=lambda: now, client=sm)
    assert within.load().accepted(now, grace) == [NEW_SIGNING, OLD_SIGNING]
    later = now + timedelta(hours=2)
    after = SecretsManagerSigningSecrets(arn, grace=grace, clock=lambda: later, client=sm)
    assert after.load().accepted(later, grace) == [NEW_SIGNING]


def test_rotate_twilio_token_into_a_secret_without_value(cli: Cli, sm: Any) -> None:
    arn = sm.create_secret(Name="twilio-auth-token")["ARN"]
    result = cli(
        "secrets", "rotate", "twilio-auth-token", "--secret-id", arn, "--json",
        "--skip-validation", input="0123456789abcdef0123456789abcdef",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["previous_version_id"] is None
    assert report["validation"] == "format only (--skip-validation)"
    assert _stages(sm, arn) == {"AWSCURRENT": "0123456789abcdef0123456789abcdef"}


def test_rotate_action_link_secret_needs_32_characters(cli: Cli, sm: Any) -> None:
    old, new = "o" * 40, "n0123456789abcdef0123456789abcdefXYZ"
    arn = sm.create_secret(Name="action-link-secret", SecretString=old)["ARN"]
    short = cli(
        "secrets", "rotate", "action-link-secret", "--secret-id", arn, input="0123456789abcdefgh"
    )  # fmt: skip
    assert short.exit_code != 0
    assert _stages(sm, arn) == {"AWSCURRENT": old}  # nothing was written
    result = cli("secrets", "rotate", "action-link-secret", "--secret-id", arn, input=new)
    assert result.exit_code == 0, result.output
    assert _stages(sm, arn) == {"AWSCURRENT": new, "AWSPREVIOUS": old}
    _no_value_in(result.output, new, old)


@pytest.fixture
def twilio_token_arn(sm: Any, monkeypatch: pytest.MonkeyPatch, fake_twilio: FakeTwilioAPI) -> str:
    arn: str = sm.create_secret(Name="twilio-auth-token", SecretString=OLD_TWILIO)["ARN"]
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_SECRET_ARN", arn)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_API_URL", fake_twilio.url)
    return arn


def test_rotate_twilio_token_checks_it_with_twilio_first(
    cli: Cli, sm: Any, twilio_token_arn: str, fake_twilio: FakeTwilioAPI
) -> None:
    fake_twilio.auth_token = NEW_TWILIO
    result = cli("secrets", "rotate", "twilio-auth-token", input=NEW_TWILIO)
    assert result.exit_code == 0, result.output
    assert _stages(sm, twilio_token_arn) == {"AWSCURRENT": NEW_TWILIO, "AWSPREVIOUS": OLD_TWILIO}
    [fetch] = fake_twilio.requests
    assert (fetch.method, fetch.path) == ("GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}.json")
    assert fetch.auth_user == ACCOUNT_SID
    assert "Twilio account fetch ok: Exec Assistant Test (active)" in result.stdout
    # the account resource Twilio returns carries the token: none of it is shown
    _no_value_in(result.output, NEW_TWILIO, OLD_TWILIO, ACCOUNT_SID)


def test_rotate_twilio_token_twilio_refuses_writes_nothing(
    cli: Cli, sm: Any, twilio_token_arn: str, fake_twilio: FakeTwilioAPI
) -> None:
    fake_twilio.auth_token = "another-token-entirely-0000000000"
    result = cli("secrets", "rotate", "twilio-auth-token", input=NEW_TWILIO)
    assert_one_line_error(result, contains="Twilio refused the auth token")
    assert "20003" in result.stderr and "nothing was written" in result.stderr
    assert _stages(sm, twilio_token_arn) == {"AWSCURRENT": OLD_TWILIO}
    assert len(fake_twilio.requests) == 1
    _no_value_in(result.output, NEW_TWILIO, OLD_TWILIO, ACCOUNT_SID)


def test_rotate_twilio_token_without_account_sid_refuses_unless_told(
    cli: Cli,
    sm: Any,
    twilio_token_arn: str,
    fake_twilio: FakeTwilioAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TWILIO_ACCOUNT_SID")
    result = cli("secrets", "rotate", "twilio-auth-token", input=NEW_TWILIO)
    assert_one_line_error(result, contains="TWILIO_ACCOUNT_SID is not set")
    assert "--skip-validation" in result.stderr
    assert result.exit_code == 3
    assert _stages(sm, twilio_token_arn) == {"AWSCURRENT": OLD_TWILIO}
    assert fake_twilio.requests == []

    skipped = cli("secrets", "rotate", "twilio-auth-token", "--skip-validation", input=NEW_TWILIO)
    assert skipped.exit_code == 0, skipped.output
    assert "format only (--skip-validation)" in skipped.stdout
    assert _stages(sm, twilio_token_arn)["AWSCURRENT"] == NEW_TWILIO
    assert fake_twilio.requests == []
    _no_value_in(result.output + skipped.output, NEW_TWILIO, OLD_TWILIO)


def test_rotate_twilio_token_twilio_down_writes_nothing(
    cli: Cli, sm: Any, twilio_token_arn: str, fake_twilio: FakeTwilioAPI
) -> None:
    fake_twilio.stop()
    result = cli("secrets", "rotate", "twilio-auth-token", input=NEW_TWILIO)
    assert_one_line_error(result, contains="Twilio API unreachable")
    assert _stages(sm, twilio_token_arn) == {"AWSCURRENT": OLD_TWILIO}


def test_skip_validation_skips_auth_test_too(
    cli: Cli, sm: Any, bot_token_arn: str, fake_slack: FakeSlackAPI
) -> None:
    result = cli("secrets", "rotate", "slack-bot-token", "--skip-validation", input=NEW_TOKEN)
    assert result.exit_code == 0, result.output
    assert fake_slack.calls == []
    assert _stages(sm, bot_token_arn)["AWSCURRENT"] == NEW_TOKEN


def test_rotate_help_documents_skip_validation(cli: Cli) -> None:
    result = cli("secrets", "rotate", "--help")
    assert "--skip-validation" in result.stdout
    assert "TWILIO_ACCOUNT_SID" in result.stdout


def test_rotate_without_a_secret_id_is_a_config_error(cli: Cli, sm: Any) -> None:
    result = cli("secrets", "rotate", "twilio-auth-token", input="0123456789abcdef0123")
    assert_one_line_error(result, contains="TWILIO_AUTH_TOKEN_SECRET_ARN")
    assert result.exit_code == 3


def test_rotate_unknown_secret_is_one_aws_line(cli: Cli, sm: Any) -> None:
    result = cli(
        "secrets", "rotate", "slack-signing-secret", "--secret-id", "nope", input=NEW_SIGNING
    )
    assert_one_line_error(result, contains="ResourceNotFoundException")
    _no_value_in(result.output, NEW_SIGNING)


def test_unknown_secret_name_is_a_usage_error(cli: Cli) -> None:
    assert_one_line_error(cli("secrets", "rotate", "aws-root-password"), contains="is not one of")


def test_status_shows_versions_and_unconfigured(
    cli: Cli, sm: Any, bot_token_arn: str, fake_slack: FakeSlackAPI
) -> None:
    assert cli("secrets", "rotate", "slack-bot-token", input=NEW_TOKEN).exit_code == 0
    result = cli("secrets", "status", "--json")
    assert result.exit_code == 0, result.output
    reports = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(reports) == {
        "slack-bot-token",
        "slack-signing-secret",
        "twilio-auth-token",
        "action-link-secret",
    }
    bot = reports["slack-bot-token"]
    assert sorted(s for v in bot["versions"] for s in v["stages"]) == ["AWSCURRENT", "AWSPREVIOUS"]
    assert all(v["created"] for v in bot["versions"])
    assert reports["twilio-auth-token"]["configured"] is False
    _no_value_in(result.output, NEW_TOKEN, OLD_TOKEN)

    table = cli("secrets", "status")
    assert "AWSPREVIOUS" in table.stdout
    assert "TWILIO_AUTH_TOKEN_SECRET_ARN" in table.stdout
    _no_value_in(table.output, NEW_TOKEN, OLD_TOKEN)
