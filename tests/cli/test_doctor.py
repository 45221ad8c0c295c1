"""doctor: one table of ready/missing/error, with the real Slack client against the fake."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, FakeSlackAPI


def _rows(cli: Cli) -> tuple[int, dict[str, dict[str, str]]]:
    result = cli("doctor", "--json")
    return result.exit_code, {row["check"]: row for row in json.loads(result.stdout)}


def test_nothing_configured_is_ready_with_channels_missing(cli: Cli) -> None:
    code, rows = _rows(cli)
    assert code == 0
    assert rows["configuration"]["status"] == "ready"
    assert rows["store"]["status"] == "ready"
    assert "SQLite" in rows["store"]["detail"]
    for name in ("Slack bot token", "Slack signing secret", "Twilio (SMS)", "SES (email)"):
        assert rows[name]["status"] == "missing", name
    assert rows["bus / scheduler"]["detail"] == "in-process bus; local scheduler (SQLite)"
    assert "printed" in rows["console channel"]["detail"]

    table = cli("doctor")
    assert table.exit_code == 0
    for word in ("store", "Slack bot token", "missing", "ready"):
        assert word in table.stdout


def test_slack_token_checked_with_auth_test(
    cli: Cli, fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "xoxb-doctor-123456789"
    fake_slack.token = token
    monkeypatch.setenv("SLACK_BOT_TOKEN", token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "e3b0c44298fc1c149afbf4c8996fb924")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    code, rows = _rows(cli)
    assert code == 0
    assert rows["Slack bot token"]["status"] == "ready"
    assert TEAM_ID in rows["Slack bot token"]["detail"]
    assert BOT_USER_ID in rows["Slack bot token"]["detail"]
    assert rows["Slack signing secret"]["status"] == "ready"
    assert rows["console channel"]["detail"].startswith("off")
    assert [c.token for c in fake_slack.calls_to("auth.test")] == [token]
    assert token not in cli("doctor").output


def test_refused_token_and_partial_twilio_are_errors(
    cli: Cli, fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_slack.token = "xoxb-the-right-one"
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked-token-0001")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    code, rows = _rows(cli)
    assert code == 1
    assert rows["Slack bot token"]["status"] == "error"
    assert "invalid_auth" in rows["Slack bot token"]["detail"]
    assert rows["Twilio (SMS)"]["status"] == "error"
    assert "TWILIO_AUTH_TOKEN" in rows["Twilio (SMS)"]["detail"]
    assert rows["store"]["status"] == "ready"  # one failure does not stop the other checks
    assert "revoked" not in json.dumps(rows)


def test_scheduler_config_error(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_GROUP_NAME", "exec-assistant-dev")
    code, rows = _rows(cli)
    assert code == 1
    assert rows["bus / scheduler"]["status"] == "error"
    assert "SCHEDULER_ROLE_ARN" in rows["bus / scheduler"]["detail"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://nope", "use sqlite:////absolute/path/file.db"),
        ("sqlite:///tmp/x.db", "relative to the working directory"),
    ],
)
def test_bad_store_url_is_the_configuration_row(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("EXEC_ASSISTANT_STORE", url)
    code, rows = _rows(cli)
    assert code == 1
    assert list(rows) == ["configuration"]
    assert "EXEC_ASSISTANT_STORE" in rows["configuration"]["detail"]
    assert message in rows["configuration"]["detail"]


def test_store_row_shows_the_resolved_database_file(cli: Cli) -> None:
    _code, rows = _rows(cli)
    assert f"SQLite file {cli.db.resolve()}" in rows["store"]["detail"]


def test_invalid_settings_are_one_error_row(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFICATION_LEASE_SECONDS", "-5")
    code, rows = _rows(cli)
    assert code == 1
    assert list(rows) == ["configuration"]
    assert "NOTIFICATION_LEASE_SECONDS" in rows["configuration"]["detail"]
    assert "notification_lease_seconds" not in rows["configuration"]["detail"]
