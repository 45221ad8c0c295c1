"""``exec-assistant doctor --aws STACK_ENV``: the deployed stack's state on one screen.

Reads (with the operator's AWS credentials; nothing is written): the dead-letter queues' depths,
the stack's alarms in ALARM, the calendar monitor's last completed run (its EMF metric), each
secret's last change or rotation, the Slack bot token (``auth.test``), the Twilio account's status,
SES's sending status and sandbox, and whether the tables hold items from older versions that an
index does not list (one bounded Scan page per table). A row is ``error`` when something needs
action (the command then exits 1) and says which command recovers it; ``warning`` needs a look
but is not a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from exec_assistant.aws import client
from exec_assistant.cli.checks import Check, Status
from exec_assistant.cli.deployed import (
    ALARM_PREFIX,
    QUEUES,
    REQUIRED_SECRETS,
    SECRETS,
    is_stack_alarm,
    queue_name,
    secret_name,
)
from exec_assistant.cli.errors import classify
from exec_assistant.config import SecretName, SettingsModel

#: The monitor runs every 5 minutes; the alarm fires after 3 missed intervals (infra/alarms.py).
MONITOR_INTERVAL = timedelta(minutes=5)
MONITOR_MISSED = 3
MONITOR_LOOKBACK = timedelta(hours=6)
DEFAULT_MAX_SECRET_AGE_DAYS = 90


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def dlq_checks(env: str) -> list[Check]:
    sqs = client("sqs")
    checks = []
    for queue in QUEUES:
        name = queue_name(queue, env)
        row = f"DLQ {queue}"
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except Exception as exc:
            if "NonExistentQueue" in _code(exc) or "QueueDoesNotExist" in _code(exc):
                checks.append(Check(check=row, status=Status.MISSING, detail=f"{name}: none"))
                continue
            raise
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depth = sum(int(value) for value in attributes.values())
        if depth:
            drain = f"exec-assistant dlq drain --queue {queue} --env {env}"
            detail = f"{name}: {depth} message(s); {drain}"
            checks.append(Check(check=row, status=Status.ERROR, detail=detail))
        else:
            checks.append(Check(check=row, status=Status.READY, detail=f"{name}: empty"))
    return checks


def alarm_check(env: str) -> Check:
    pages = client("cloudwatch").get_paginator("describe_alarms")
    alarms = [
        alarm
        for page in pages.paginate(AlarmNamePrefix=ALARM_PREFIX, AlarmTypes=["MetricAlarm"])
        for alarm in page["MetricAlarms"]
        if is_stack_alarm(alarm["AlarmName"], env)
    ]
    if not alarms:
        return Check(
            check="alarms", status=Status.MISSING, detail=f"no {ALARM_PREFIX}*-{env} alarms found"
        )
    firing = sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")
    if firing:
        return Check(
            check="alarms",
            status=Status.ERROR,
            detail=f"{len(firing)} in ALARM: {', '.join(firing)} (docs/runbook.md)",
        )
    waiting = sum(a["StateValue"] == "INSUFFICIENT_DATA" for a in alarms)
    more = f", {waiting} with insufficient data" if waiting else ""
    return Check(check="alarms", status=Status.READY, detail=f"{len(alarms)}, none in ALARM{more}")


def monitor_check(env: str, now: datetime) -> Check:
    points = client("cloudwatch").get_metric_statistics(
        Namespace="ExecAssistant",
        MetricName="CalendarMonitorRun",
        Dimensions=[{"Name": "environment", "Value": env}],
        StartTime=now - MONITOR_LOOKBACK,
        EndTime=now,
        Period=int(MONITOR_INTERVAL.total_seconds()),
        Statistics=["Sum"],
    )["Datapoints"]
    runs = [p["Timestamp"] for p in points if p.get("Sum", 0) >= 1]
    if not runs:
        return Check(
            check="calendar monitor",
            status=Status.ERROR,
            detail=f"no completed run in the last {MONITOR_LOOKBACK.total_seconds() / 3600:.0f} h",
        )
    last = max(runs)
    age = now - last
    late = age > MONITOR_INTERVAL * MONITOR_MISSED
    return Check(
        check="calendar monitor",
        status=Status.ERROR if late else Status.READY,
        detail=f"last run in the 5 minutes from {last.isoformat(timespec='minutes')} "
        f"({age.total_seconds() / 60:.0f} min ago)",
    )


def secret_checks(env: str, now: datetime, max_age_days: int) -> list[Check]:
    secrets = client("secretsmanager")
    checks = []
    for secret in SECRETS:
        name = secret_name(secret, env)
        row = f"secret {secret}"
        try:
            described = secrets.describe_secret(SecretId=name)
        except Exception as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            status = Status.ERROR if secret in REQUIRED_SECRETS else Status.MISSING
            checks.append(Check(check=row, status=status, detail=f"{name}: not found"))
            continue
        rotated = described.get("LastRotatedDate")
        changed = rotated or described.get("LastChangedDate") or described.get("CreatedDate")
        if changed is None:
            checks.append(Check(check=row, status=Status.READY, detail=f"{name}: never changed"))
            continue
        days = (now - changed).days
        what = "rotated" if rotated else "changed"
        detail = f"{name}: last {what} {changed.date().isoformat()} ({days} d ago)"
        if days > max_age_days:
            detail += f"; rotate it: exec-assistant secrets rotate {secret.replace('_', '-')}"
            checks.append(Check(check=row, status=Status.ERROR, detail=detail))
        else:
            checks.append(Check(check=row, status=Status.READY, detail=detail))
    return checks


def _secret_value(secret: SecretName, env: str) -> str | None:
    try:
        response = client("secretsmanager").get_secret_value(SecretId=secret_name(secret, env))
    except Exception as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise
    return str(response.get("SecretString") or "") or None


def slack_check(env: str, settings: SettingsModel) -> Check:
    from exec_assistant.cli.slack_check import auth_test
    from exec_assistant.logs import register_secret

    token = _secret_value("slack_bot_token", env)
    if token is None:
        return Check(check="Slack token", status=Status.ERROR, detail="no slack_bot_token secret")
    register_secret(token)
    identity = auth_test(token, api_url=settings.slack_api_url)
    return Check(
        check="Slack token", status=Status.READY, detail=f"auth.test ok: {identity.describe()}"
    )


def twilio_check(env: str, settings: SettingsModel) -> Check:
    from exec_assistant.logs import register_secret
    from exec_assistant.notifications.channels.sms import twilio_client

    sid = _secret_value("twilio_account_sid", env)
    token = _secret_value("twilio_auth_token", env)
    if sid is None and token is None:
        return Check(check="Twilio", status=Status.MISSING, detail="not configured: SMS off")
    if sid is None or token is None:
        return Check(check="Twilio", status=Status.ERROR, detail="account SID or token missing")
    register_secret(sid)
    register_secret(token)
    from twilio.base.exceptions import TwilioRestException

    account = twilio_client(sid, token, api_url=settings.twilio_api_url)
    try:
        status = str(account.api.v2010.accounts(sid).fetch().status)
    except TwilioRestException as exc:
        return Check(
            check="Twilio",
            status=Status.ERROR,
            detail=f"Twilio refused the account fetch (HTTP {exc.status}, error {exc.code}); "
            "exec-assistant secrets rotate twilio-auth-token",
        )
    return Check(
        check="Twilio",
        status=Status.READY if status == "active" else Status.ERROR,
        detail=f"account status {status}",
    )


def ses_check() -> Check:
    account = client("sesv2").get_account()
    enforcement = str(account.get("EnforcementStatus") or "HEALTHY")
    problems = []
    if not account.get("SendingEnabled", False):
        problems.append("sending is disabled")
    if enforcement == "SHUTDOWN":
        problems.append("account shut down by AWS")
    if problems:
        return Check(check="SES", status=Status.ERROR, detail="; ".join(problems))
    notes = []
    if not account.get("ProductionAccessEnabled", False):
        notes.append("sandbox: mail only reaches verified addresses (request production access)")
    if enforcement != "HEALTHY":
        notes.append(f"enforcement status {enforcement}")
    if notes:
        return Check(check="SES", status=Status.WARNING, detail="; ".join(notes))
    return Check(check="SES", status=Status.READY, detail="sending enabled, production access")


def store_index_check(env: str) -> Check:
    """The stack's tables: items from older versions that an index does not list yet."""
    from exec_assistant.cli.deployed import deployed_settings
    from exec_assistant.cli.store_upgrade import index_check

    return index_check(deployed_settings(env), aws=env)


def run_aws_checks(
    env: str,
    settings: SettingsModel,
    *,
    now: datetime | None = None,
    max_secret_age_days: int = DEFAULT_MAX_SECRET_AGE_DAYS,
) -> list[Check]:
    """Every check of the deployed stack; a check that raises becomes an ``error`` row."""
    moment = now or datetime.now(UTC)
    groups: list[tuple[str, Callable[[], Any]]] = [
        ("DLQs", lambda: dlq_checks(env)),
        ("alarms", lambda: alarm_check(env)),
        ("calendar monitor", lambda: monitor_check(env, moment)),
        ("secrets", lambda: secret_checks(env, moment, max_secret_age_days)),
        ("Slack token", lambda: slack_check(env, settings)),
        ("Twilio", lambda: twilio_check(env, settings)),
        ("SES", ses_check),
        ("store indexes", lambda: store_index_check(env)),
    ]
    checks = [Check(check="stack", status=Status.READY, detail=f"environment {env}")]
    for name, run in groups:
        try:
            found = run()
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error row
            checks.append(Check(check=name, status=Status.ERROR, detail=classify(exc)[0]))
            continue
        checks.extend(found if isinstance(found, list) else [found])
    return checks
