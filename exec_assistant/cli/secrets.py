"""``exec-assistant secrets rotate|status``: new secret versions in AWS Secrets Manager.

``rotate`` writes the new value with ``PutSecretValue``: Secrets Manager moves ``AWSCURRENT`` to
the new version and ``AWSPREVIOUS`` to the old one, which is what lets the Slack request check
accept the previous signing secret for a grace window. The value is read from a no-echo prompt
or from stdin, validated where the provider allows it (``auth.test`` for a bot token; for a Twilio
auth token, fetching the account ``TWILIO_ACCOUNT_SID`` with it), and never printed, logged or
put in an error message.
"""

from __future__ import annotations

import sys
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.table import Table

from exec_assistant.aws import client
from exec_assistant.cli.output import out, print_json, when
from exec_assistant.cli.params import JsonFlag
from exec_assistant.cli.slack_check import auth_test
from exec_assistant.config import SecretName, SettingsModel, get_settings
from exec_assistant.errors import ConfigurationError, PermanentError, TransientError
from exec_assistant.logs import register_secret

app = typer.Typer(
    help="Rotate and inspect the secrets kept in AWS Secrets Manager.", rich_markup_mode=None
)


class SecretKind(StrEnum):
    """The secrets ``rotate`` knows (names of secrets, not values)."""

    SLACK_BOT_TOKEN = "slack-bot-token"  # noqa: S105
    SLACK_SIGNING_SECRET = "slack-signing-secret"  # noqa: S105
    TWILIO_AUTH_TOKEN = "twilio-auth-token"  # noqa: S105
    ACTION_LINK_SECRET = "action-link-secret"  # noqa: S105

    @property
    def setting(self) -> SecretName:
        names: dict[SecretKind, SecretName] = {
            SecretKind.SLACK_BOT_TOKEN: "slack_bot_token",
            SecretKind.SLACK_SIGNING_SECRET: "slack_signing_secret",
            SecretKind.TWILIO_AUTH_TOKEN: "twilio_auth_token",
            SecretKind.ACTION_LINK_SECRET: "action_link_secret",
        }
        return names[self]

    @property
    def arn_variable(self) -> str:
        return f"{self.setting.upper()}_SECRET_ARN"

    def configured_id(self, settings: SettingsModel) -> str | None:
        value: str | None = getattr(settings, f"{self.setting}_secret_arn")
        return value


class SecretVersion(BaseModel):
    version_id: str
    stages: list[str]
    created: datetime | None = None
    last_accessed: datetime | None = None


class SecretReport(BaseModel):
    """What ``rotate`` and ``status`` tell: ids, labels and dates, never a value."""

    name: str
    secret_id: str | None
    configured: bool = True
    changed: bool = False
    new_version_id: str | None = None
    previous_version_id: str | None = None
    validation: str | None = None
    versions: list[SecretVersion] = []


def _versions(secret_id: str) -> list[SecretVersion]:
    response = client("secretsmanager").list_secret_version_ids(SecretId=secret_id)
    versions = [
        SecretVersion(
            version_id=v["VersionId"],
            stages=sorted(v.get("VersionStages", [])),
            created=v.get("CreatedDate"),
            last_accessed=v.get("LastAccessedDate"),
        )
        for v in response.get("Versions", [])
    ]
    return sorted(versions, key=lambda v: (v.created is None, v.created), reverse=True)


def _current(secret_id: str) -> tuple[str | None, str | None]:
    """The AWSCURRENT version id and value, or (None, None) for a secret without a value yet."""
    sm = client("secretsmanager")
    try:
        response: dict[str, Any] = sm.get_secret_value(SecretId=secret_id)
    except sm.exceptions.ResourceNotFoundException:
        sm.describe_secret(SecretId=secret_id)  # an unknown secret fails here, with AWS's message
        return None, None
    return response.get("VersionId"), response.get("SecretString")


def _interactive() -> bool:
    return sys.stdin.isatty()


def _read_value(kind: SecretKind) -> str:
    """The new value: a no-echo, confirmed prompt on a terminal, else all of stdin."""
    if _interactive():
        value = str(
            typer.prompt(f"New {kind.value}", hide_input=True, confirmation_prompt=True)
        ).strip()
    else:
        value = sys.stdin.read().strip()
    if not value:
        raise typer.BadParameter("no value given (type it at the prompt or pipe it on stdin)")
    if any(ch.isspace() for ch in value) or len(value) < 16:
        raise typer.BadParameter(f"that does not look like a {kind.value} (nothing was written)")
    return value


def _validate(kind: SecretKind, value: str, settings: SettingsModel, *, skip: bool = False) -> str:
    """Check the value with the provider where possible; returns what was checked."""
    if kind is SecretKind.SLACK_BOT_TOKEN:
        if not value.startswith("xoxb-"):
            raise typer.BadParameter("a Slack bot token starts with xoxb- (nothing was written)")
        if skip:
            return "format only (--skip-validation)"
        identity = auth_test(value, api_url=settings.slack_api_url)
        return f"auth.test ok: {identity.describe()}"
    if kind is SecretKind.TWILIO_AUTH_TOKEN:
        if skip:
            return "format only (--skip-validation)"
        account_sid = settings.secret("twilio_account_sid")
        if not account_sid:
            raise ConfigurationError(
                "TWILIO_ACCOUNT_SID is not set (nor TWILIO_ACCOUNT_SID_SECRET_ARN): Twilio checks "
                "an auth token with its account SID; set it, or pass --skip-validation "
                "(nothing was written)",
                code="missing_setting",
            )
        return _twilio_account_check(account_sid, value, api_url=settings.twilio_api_url)
    if kind is SecretKind.ACTION_LINK_SECRET and len(value) < 32:
        raise typer.BadParameter("a link-signing key needs 32+ characters (nothing was written)")
    return "format only (the provider offers no check for this secret)"


def _twilio_account_check(account_sid: str, auth_token: str, *, api_url: str | None) -> str:
    """Fetch the account with the new token (200 for a valid pair, 401 / 20003 otherwise).

    The answer carries the account's auth token, so only its name and status are kept.
    """
    from twilio.base.exceptions import TwilioRestException

    from exec_assistant.notifications.channels.sms import twilio_client

    register_secret(account_sid)
    client = twilio_client(account_sid, auth_token, api_url=api_url)
    try:
        account = client.api.v2010.accounts(account_sid).fetch()
    except TwilioRestException as exc:
        status = int(exc.status)
        code = str(exc.code) if exc.code is not None else f"http_{status}"
        if status == 429 or status >= 500:
            raise TransientError(
                f"Twilio could not check the auth token now (HTTP {status}); nothing was written",
                code=code,
            ) from None
        raise PermanentError(
            f"Twilio refused the auth token for TWILIO_ACCOUNT_SID (HTTP {status}, error {code}); "
            "nothing was written",
            code=code,
        ) from None
    except OSError as exc:
        raise TransientError(
            f"Twilio API unreachable: {type(exc).__name__}; nothing was written"
        ) from None
    return f"Twilio account fetch ok: {account.friendly_name} ({account.status})"


@app.command(
    "rotate",
    epilog="Example: pbpaste | exec-assistant secrets rotate slack-bot-token "
    "--secret-id arn:aws:secretsmanager:us-east-1:111122223333:secret:slack-bot-token-AbCdEf",
)
def rotate(
    name: Annotated[SecretKind, typer.Argument(help="Which secret to rotate.")],
    secret_id: Annotated[
        str | None,
        typer.Option(help="Secret ARN or name (default: from <NAME>_SECRET_ARN)."),
    ] = None,
    skip_validation: Annotated[
        bool,
        typer.Option(
            "--skip-validation",
            help="Write without asking the provider first (the format is still checked); "
            "e.g. a Twilio token when TWILIO_ACCOUNT_SID is not available here.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write a new version of a secret; the old one stays as AWSPREVIOUS.

    Reads the value from a no-echo prompt, or from stdin when piped. A Slack bot token is checked
    with auth.test first, a Twilio auth token by fetching the account TWILIO_ACCOUNT_SID with it
    (which needs that SID); nothing is written if the check fails. The value is never printed.
    """
    settings = get_settings()
    target = secret_id or name.configured_id(settings)
    if not target:
        raise ConfigurationError(f"{name.arn_variable} is not set; pass --secret-id")
    value = _read_value(name)
    register_secret(value)
    validation = _validate(name, value, settings, skip=skip_validation)
    previous_id, previous_value = _current(target)
    report = SecretReport(name=name.value, secret_id=target, validation=validation)
    if previous_value == value:
        report.previous_version_id = previous_id
    else:
        response = client("secretsmanager").put_secret_value(
            SecretId=target, SecretString=value, ClientRequestToken=str(uuid.uuid4())
        )
        report.changed = True
        report.new_version_id = response["VersionId"]
        report.previous_version_id = previous_id
    report.versions = _versions(target)
    if as_json:
        print_json(report)
        return
    console = out()
    if not report.changed:
        console.print(f"[yellow]unchanged[/]: the value given is already the current {name.value}")
    else:
        console.print(
            f"[green]rotated[/] {name.value}: version {report.new_version_id} is AWSCURRENT, "
            f"{report.previous_version_id or '(none)'} is AWSPREVIOUS"
        )
    console.print(f"checked: {validation}")
    if name is SecretKind.SLACK_SIGNING_SECRET and report.changed:
        console.print(
            "the previous signing secret stays accepted for "
            f"{settings.slack_signing_secret_grace_seconds} s (SLACK_SIGNING_SECRET_GRACE_SECONDS)"
        )
    console.print(_table([report]))


def _table(reports: list[SecretReport]) -> Table:
    table = Table(title="Secrets Manager versions")
    for column in ("secret", "secret id", "version", "stages", "created", "last accessed"):
        table.add_column(column, overflow="fold")
    for report in reports:
        if not report.configured:
            table.add_row(report.name, "[yellow]not configured[/]", "-", "-", "-", "-")
            continue
        for version in report.versions or [SecretVersion(version_id="-", stages=[])]:
            table.add_row(
                report.name,
                report.secret_id,
                version.version_id,
                ",".join(version.stages) or "-",
                when(version.created),
                when(version.last_accessed),
            )
    return table


@app.command("status", epilog="Example: exec-assistant secrets status --json")
def status(
    name: Annotated[
        list[SecretKind] | None, typer.Argument(help="Secrets to show (default: all).")
    ] = None,
    secret_id: Annotated[
        str | None, typer.Option(help="Show this secret ARN or name instead (one NAME).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show each secret's versions, staging labels and dates (never the values)."""
    settings = get_settings()
    kinds = name or list(SecretKind)
    if secret_id and len(kinds) != 1:
        raise typer.BadParameter("--secret-id needs exactly one NAME")
    reports = []
    for kind in kinds:
        target = secret_id or kind.configured_id(settings)
        report = SecretReport(name=kind.value, secret_id=target, configured=bool(target))
        if target:
            report.versions = _versions(target)
        reports.append(report)
    if as_json:
        print_json(reports)
        return
    out().print(_table(reports))
    missing = [r.name for r in reports if not r.configured]
    if missing:
        hints = ", ".join(SecretKind(m).arn_variable for m in missing)
        out().print(f"not configured: set {hints}")
