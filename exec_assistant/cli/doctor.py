"""``exec-assistant doctor``: one table of what is ready, missing or broken.

"missing" is not a failure (an unconfigured channel is simply off); "error" is, and makes the
command exit non-zero. Secrets are reported as set or not, never shown. ``--aws STACK_ENV`` checks
a deployed stack instead (:mod:`exec_assistant.cli.aws_doctor`); its "warning" rows need a look
but are not failures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, NamedTuple

import typer
from pydantic import ValidationError

from exec_assistant.cli.checks import Check, Status, show
from exec_assistant.cli.errors import classify
from exec_assistant.cli.params import JsonFlag, store_location
from exec_assistant.cli.slack_check import auth_test
from exec_assistant.config import SecretName, SettingsModel, get_settings
from exec_assistant.errors import ConfigurationError
from exec_assistant.store import open_store


class Result(NamedTuple):
    status: Status
    detail: str


def _store(settings: SettingsModel) -> Result:
    store = open_store(settings)
    try:
        users = len(store.list_users())
    finally:
        store.close()
    return Result(Status.READY, f"{store_location(settings)}, {users} user(s)")


def _store_indexes(settings: SettingsModel) -> Result:
    """Items from older versions that an index does not list (one bounded Scan page per
    DynamoDB table; :func:`~exec_assistant.cli.store_upgrade.index_check`)."""
    from exec_assistant.cli.store_upgrade import index_check

    check = index_check(settings)
    return Result(check.status, check.detail)


def _slack_token(settings: SettingsModel) -> Result:
    if not settings.has_secret("slack_bot_token"):
        return Result(
            Status.MISSING,
            "SLACK_BOT_TOKEN not set: Slack channel off",
        )
    identity = auth_test(settings.require_secret("slack_bot_token"), api_url=settings.slack_api_url)
    return Result(Status.READY, f"auth.test ok: {identity.describe()}")


def _slack_signing(settings: SettingsModel) -> Result:
    if not settings.has_secret("slack_signing_secret"):
        return Result(
            Status.MISSING,
            "SLACK_SIGNING_SECRET not set: needed to receive Slack requests",
        )
    settings.require_secret("slack_signing_secret")  # reads it from Secrets Manager if an ARN
    return Result(Status.READY, "set")


def _slack_ingress(settings: SettingsModel) -> Result:
    if settings.slack_app_token is not None and settings.slack_app_token.get_secret_value():
        detail = "Socket Mode (SLACK_APP_TOKEN set)"
    else:
        detail = "HTTP POST /slack/webhook (:3000 locally, API Gateway on AWS)"
    return Result(Status.READY, detail)


def _twilio(settings: SettingsModel) -> Result:
    parts: tuple[SecretName, ...] = (
        "twilio_account_sid",
        "twilio_auth_token",
        "twilio_from_number",
    )
    present = [p for p in parts if settings.has_secret(p)]
    if not present:
        return Result(Status.MISSING, "not configured: SMS off")
    absent = [p.upper() for p in parts if p not in present]
    if absent:
        return Result(Status.ERROR, f"{', '.join(absent)} not set")
    api = f", API {settings.twilio_api_url}" if settings.twilio_api_url else ""
    return Result(Status.READY, f"account SID, token, sender set{api}")


def _ses(settings: SettingsModel) -> Result:
    if not settings.ses_from_email:
        return Result(Status.MISSING, "SES_FROM_EMAIL not set: email off")
    return Result(Status.READY, f"sender {settings.ses_from_email}")


def _bus_and_scheduler(settings: SettingsModel) -> Result:
    from exec_assistant.runtime import uses_aws

    bus = f"EventBridge bus {settings.event_bus_name}" if uses_aws(settings) else "in-process bus"
    if settings.scheduler_group_name:
        if not settings.scheduler_role_arn:
            return Result(
                Status.ERROR,
                "SCHEDULER_ROLE_ARN is required with SCHEDULER_GROUP_NAME",
            )
        scheduler = f"EventBridge Scheduler group {settings.scheduler_group_name}"
    elif uses_aws(settings):
        return Result(
            Status.ERROR,
            f"{bus}; SCHEDULER_GROUP_NAME is required on AWS",
        )
    else:
        scheduler = "local scheduler (SQLite)"
    return Result(Status.READY, f"{bus}; {scheduler}")


def _fallback(settings: SettingsModel) -> Result:
    """The console channel is built exactly when no provider is (``build_channels``)."""
    twilio = _twilio(settings).status is Status.READY
    if settings.has_secret("slack_bot_token") or twilio or settings.ses_from_email:
        return Result(Status.READY, "off (a provider is configured)")
    return Result(Status.READY, "on: no provider configured, notifications are printed")


CHECKS: tuple[tuple[str, Callable[[SettingsModel], Result]], ...] = (
    ("store", _store),
    ("store indexes", _store_indexes),
    ("Slack bot token", _slack_token),
    ("Slack signing secret", _slack_signing),
    ("Slack ingress", _slack_ingress),
    ("Twilio (SMS)", _twilio),
    ("SES (email)", _ses),
    ("bus / scheduler", _bus_and_scheduler),
    ("console channel", _fallback),
)


def run_checks() -> list[Check]:
    """Every check; a failing one becomes an ``error`` row instead of stopping the rest."""
    try:
        get_settings.cache_clear()
        settings = get_settings()
    except (ValidationError, ConfigurationError) as exc:
        return [Check(check="configuration", status=Status.ERROR, detail=classify(exc)[0])]
    checks = [
        Check(
            check="configuration",
            status=Status.READY,
            detail=f"environment {settings.environment}",
        )
    ]
    for name, check in CHECKS:
        try:
            status, detail = check(settings)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error row
            status, detail = Status.ERROR, classify(exc)[0]
        checks.append(Check(check=name, status=status, detail=detail))
    return checks


def doctor(
    as_json: JsonFlag = False,
    aws: Annotated[
        str | None,
        typer.Option(
            "--aws",
            metavar="STACK_ENV",
            help="Check the deployed stack of this environment (DLQs, alarms, monitor, secrets, "
            "Slack, Twilio, SES) with your AWS credentials.",
        ),
    ] = None,
    max_secret_age_days: Annotated[
        int, typer.Option(min=1, help="With --aws: a secret older than this needs rotating.")
    ] = 90,
) -> None:
    """Check configuration, the store, Slack (auth.test), Twilio, SES, bus and scheduler; with
    --aws, the deployed stack. Exits 1 when something needs action."""
    if aws is None:
        checks = run_checks()
        title = "exec-assistant doctor"
    else:
        from exec_assistant.cli.aws_doctor import run_aws_checks

        get_settings.cache_clear()
        checks = run_aws_checks(aws, get_settings(), max_secret_age_days=max_secret_age_days)
        title = f"exec-assistant doctor --aws {aws}"
    show(checks, title=title, as_json=as_json)


EPILOG = (
    "Examples: exec-assistant doctor --json | jq '.[] | select(.status != \"ready\")'; "
    "exec-assistant doctor --aws prod"
)
