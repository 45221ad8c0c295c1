"""The request guard: Slack's documented signature example, the rotation grace window (environment
and Secrets Manager through moto), the replay window and the workspace check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from exec_assistant.config import Settings
from exec_assistant.errors import ConfigurationError
from exec_assistant.interfaces.signing_secrets import (
    SecretsManagerSigningSecrets,
    SigningSecrets,
    StaticSigningSecrets,
    signing_secret_source,
)
from exec_assistant.interfaces.slack_guard import (
    FOREIGN_TEAM_TEXT,
    SignatureCheck,
    SlackRequestGuard,
)
from tests.slack.signing import signed_headers

VECTOR = Path(__file__).parent.parent / "fixtures" / "slack-signature-vector.txt"
GRACE = timedelta(hours=1)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _vector() -> dict[str, str]:
    lines = VECTOR.read_text().splitlines()
    fields = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines[:3])}
    fields["body"] = lines[4]
    return fields


def _run(guard: SlackRequestGuard, body: str, headers: dict[str, str]) -> tuple[bool, Any]:
    ran: list[bool] = []
    passed = BoltResponse(status=200)

    def next_() -> BoltResponse:
        ran.append(True)
        return passed

    req = BoltRequest(body=body, headers={k.lower(): v for k, v in headers.items()})
    resp = guard.process(req=req, resp=passed, next=next_)
    return bool(ran), resp


def _guard(secrets: Any, clock: Clock, team_id: str | None = None) -> SlackRequestGuard:
    return SlackRequestGuard(SignatureCheck(secrets, grace=GRACE, clock=clock), team_id=team_id)


# --- Slack's documented example ------------------------------------------------------------


def test_slacks_documented_example_is_accepted() -> None:
    v = _vector()
    clock = Clock(datetime.fromtimestamp(int(v["X-Slack-Request-Timestamp"]), UTC))
    guard = _guard(StaticSigningSecrets(SigningSecrets(current=v["signing_secret"])), clock)
    headers = {
        "X-Slack-Request-Timestamp": v["X-Slack-Request-Timestamp"],
        "X-Slack-Signature": v["X-Slack-Signature"],
    }
    ran, _ = _run(guard, v["body"], headers)
    assert ran


@pytest.mark.parametrize("case", ["tampered", "other_secret", "stale", "no_signature", "bad_ts"])
def test_documented_example_altered_is_refused(case: str) -> None:
    v = _vector()
    ts = int(v["X-Slack-Request-Timestamp"])
    clock = Clock(datetime.fromtimestamp(ts, UTC))
    secret = "not-the-secret-xyz" if case == "other_secret" else v["signing_secret"]
    guard = _guard(StaticSigningSecrets(SigningSecrets(current=secret)), clock)
    body = v["body"].replace("roadrunner", "coyote") if case == "tampered" else v["body"]
    if case == "stale":
        clock.now += timedelta(minutes=5, seconds=1)
    headers = {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": v["X-Slack-Signature"]}
    if case == "no_signature":
        del headers["X-Slack-Signature"]
    if case == "bad_ts":
        headers["X-Slack-Request-Timestamp"] = "1531420618.5"
    ran, resp = _run(guard, body, headers)
    assert not ran
    assert resp.status == 401
    assert resp.body == '{"error": "invalid request"}'


# --- grace window, environment ---------------------------------------------------------------


def _env_settings(**extra: Any) -> Settings:
    return Settings(slack_signing_secret=SecretStr("new-secret-123"), **extra)


def test_env_previous_secret_accepted_inside_grace_window_refused_after() -> None:
    settings = _env_settings(
        slack_signing_secret_previous=SecretStr("old-secret-123"),
        slack_signing_secret_rotated_at=T0,
        slack_signing_secret_grace_seconds=3600,
    )
    clock = Clock(T0 + timedelta(minutes=59))
    guard = _guard(signing_secret_source(settings, clock=clock), clock)
    body = "token=x&command=%2Fmeetings&text="

    def signed_with(secret: str) -> bool:
        ts = int(clock.now.timestamp())
        return _run(guard, body, signed_headers(secret, ts, body, content_type=FORM))[0]

    assert signed_with("new-secret-123")
    assert signed_with("old-secret-123")
    clock.now = T0 + timedelta(hours=1, seconds=1)
    assert signed_with("new-secret-123")
    assert not signed_with("old-secret-123")


def test_env_previous_without_rotation_time_is_a_configuration_error() -> None:
    settings = _env_settings(slack_signing_secret_previous=SecretStr("old-secret-123"))
    with pytest.raises(ConfigurationError, match="SLACK_SIGNING_SECRET_ROTATED_AT"):
        signing_secret_source(settings)


def test_no_signing_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="SLACK_SIGNING_SECRET"):
        signing_secret_source(Settings())


def test_secrets_never_in_repr() -> None:
    secrets = SigningSecrets(current="new-secret-123", previous="old-secret-123", rotated_at=T0)
    assert "secret-123" not in repr(secrets)


# --- grace window, Secrets Manager (moto) ------------------------------------------------------


@pytest.fixture
def secretsmanager() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        from exec_assistant.aws import client

        yield client("secretsmanager")


def test_secrets_manager_grace_window_and_ttl(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(Name="slack-signing", SecretString="old-secret-123")["ARN"]
    secretsmanager.put_secret_value(SecretId=arn, SecretString="new-secret-123")
    versions = secretsmanager.list_secret_version_ids(SecretId=arn)["Versions"]
    rotated_at = next(v["CreatedDate"] for v in versions if "AWSCURRENT" in v["VersionStages"])

    clock = Clock(rotated_at + timedelta(minutes=10))
    source = SecretsManagerSigningSecrets(arn, grace=GRACE, clock=clock)
    assert source.load().accepted(clock.now, GRACE) == ["new-secret-123", "old-secret-123"]

    # after the grace window (and the cache TTL) only the current secret is accepted
    clock.now = rotated_at + GRACE + timedelta(seconds=1)
    assert source.load().accepted(clock.now, GRACE) == ["new-secret-123"]

    # a rotation is picked up once the TTL has passed, without a new process
    secretsmanager.put_secret_value(SecretId=arn, SecretString="newest-secret-123")
    clock.now += timedelta(minutes=1)
    assert source.load().current == "new-secret-123"  # still cached
    clock.now += timedelta(minutes=5)
    assert source.load().current == "newest-secret-123"


def test_secrets_manager_refresh_failure_keeps_last_good_values(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(Name="slack-signing", SecretString="only-secret-123")["ARN"]
    clock = Clock(datetime.now(UTC))
    source = SecretsManagerSigningSecrets(arn, grace=GRACE, clock=clock)
    assert source.load().current == "only-secret-123"
    secretsmanager.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    clock.now += timedelta(minutes=6)
    assert source.load().current == "only-secret-123"


def test_secrets_manager_unreadable_at_first_is_a_configuration_error(secretsmanager: Any) -> None:
    source = SecretsManagerSigningSecrets(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope", grace=GRACE
    )
    with pytest.raises(ConfigurationError, match="Secrets Manager"):
        source.load()


def test_settings_with_arn_use_secrets_manager(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(Name="slack-signing", SecretString="arn-secret-123")["ARN"]
    source = signing_secret_source(Settings(slack_signing_secret_secret_arn=arn))
    assert source.load().current == "arn-secret-123"


# --- workspace check -----------------------------------------------------------------------


@pytest.mark.parametrize(("team", "expected_run"), [("T0FAKE001", True), ("T0OTHER99", False)])
def test_other_workspace_is_acknowledged_and_ignored(team: str, expected_run: bool) -> None:
    clock = Clock(T0)
    guard = _guard(StaticSigningSecrets(SigningSecrets(current="s3cret-abc")), clock, "T0FAKE001")
    body = f"team_id={team}&user_id=U0EXEC001&command=%2Fmeetings&text="
    ran, resp = _run(
        guard, body, signed_headers("s3cret-abc", int(T0.timestamp()), body, content_type=FORM)
    )
    assert ran is expected_run
    if not expected_run:
        assert resp.status == 200
        assert resp.body == FOREIGN_TEAM_TEXT


@pytest.mark.parametrize(("team", "expected_run"), [("T0FAKE001", True), ("T0OTHER99", False)])
def test_socket_mode_requests_skip_the_signature_but_not_the_workspace_check(
    team: str, expected_run: bool
) -> None:
    guard = _guard(None, Clock(T0), "T0FAKE001")
    ran: list[bool] = []
    passed = BoltResponse(status=200)

    def next_() -> BoltResponse:
        ran.append(True)
        return passed

    body = {"type": "event_callback", "team_id": team, "event": {"type": "app_home_opened"}}
    guard.process(req=BoltRequest(body=body, mode="socket_mode"), resp=passed, next=next_)
    assert bool(ran) is expected_run


def test_without_a_secret_source_http_requests_are_refused() -> None:
    guard = _guard(None, Clock(T0))
    body = "command=%2Fmeetings"
    ran, resp = _run(
        guard, body, signed_headers("s3cret-abc", int(T0.timestamp()), body, content_type=FORM)
    )
    assert not ran
    assert resp.status == 401
