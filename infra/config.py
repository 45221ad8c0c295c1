"""Typed stack configuration from ``pulumi.Config("exec-assistant")``.

Keys (exactly these): ``enable_prep_notification`` (bool, default true), ``enable_snapstart``
(bool, default true: Lambda SnapStart on the Slack bot and the prep trigger), ``slack_bot_token``
and ``slack_signing_secret`` (required secrets), ``twilio_account_sid``, ``twilio_auth_token``,
``twilio_from_number`` (optional secrets) and ``ses_from_email`` (optional). The environment is
the stack name (``dev``, ``prod``, …).

Alarms (all optional, see :class:`AlarmSettings` and docs/runbook.md): ``alarm_email`` (subscribed
to the alarm topic; AWS mails a confirmation link first), ``alarm_dlq_messages``,
``alarm_function_errors``, ``alarm_function_throttles``, ``alarm_slack_p99_ms`` and
``alarm_monitor_missed_runs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from infra.naming import PROJECT

#: The secrets the stack stores in Secrets Manager, in the package's names (config.SecretName).
REQUIRED_SECRETS = ("slack_bot_token", "slack_signing_secret")
OPTIONAL_SECRETS = ("twilio_account_sid", "twilio_auth_token", "twilio_from_number")

PROD_ENVIRONMENTS = frozenset({"prod"})


@dataclass(frozen=True)
class AlarmSettings:
    """Thresholds of the alarms (infra/alarms.py); each is a config key ``alarm_<field>``."""

    #: subscribed to the alarm topic when set
    email: str | None = None
    #: messages visible in any dead-letter queue
    dlq_messages: int = 1
    #: Lambda errors of the prep trigger or the Slack bot within 5 minutes
    function_errors: int = 1
    #: Lambda throttles of the prep trigger or the Slack bot within 5 minutes
    function_throttles: int = 1
    #: the Slack webhook's p99 latency (API Gateway), milliseconds; Slack gives up at 3000
    slack_p99_ms: int = 2500
    #: consecutive 5-minute monitor intervals without a completed run
    monitor_missed_runs: int = 3


@dataclass(frozen=True)
class StackConfig:
    """Everything the program reads from the stack; secret values stay ``Output`` secrets."""

    env: str
    enable_prep_notification: bool
    enable_snapstart: bool = True
    secrets: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    ses_from_email: str | None = None
    alarms: AlarmSettings = field(default_factory=AlarmSettings)

    @property
    def is_prod(self) -> bool:
        return self.env in PROD_ENVIRONMENTS

    @property
    def log_retention_days(self) -> int:
        return 30 if self.is_prod else 7


def load_config() -> StackConfig:
    """Read and validate the stack configuration (fails the preview on a bad combination)."""
    config = pulumi.Config(PROJECT)
    secrets: dict[str, pulumi.Output[str]] = {
        name: config.require_secret(name) for name in REQUIRED_SECRETS
    }
    for name in OPTIONAL_SECRETS:
        value = config.get_secret(name)
        if value is not None:
            secrets[name] = value
    twilio = [name for name in OPTIONAL_SECRETS if name in secrets]
    if twilio and len(twilio) != len(OPTIONAL_SECRETS):
        # The SMS channel needs all three; a partial set would silently leave SMS off.
        raise pulumi.RunError(
            f"set all of {', '.join(OPTIONAL_SECRETS)} or none (got only {', '.join(twilio)})"
        )
    ses_from_email = config.get("ses_from_email") or None
    if ses_from_email is not None and "@" not in ses_from_email:
        raise pulumi.RunError(f"ses_from_email is not an email address: {ses_from_email!r}")
    enabled = config.get_bool("enable_prep_notification")
    snapstart = config.get_bool("enable_snapstart")
    return StackConfig(
        env=pulumi.get_stack(),
        enable_prep_notification=True if enabled is None else enabled,
        enable_snapstart=True if snapstart is None else snapstart,
        secrets=secrets,
        ses_from_email=ses_from_email,
        alarms=load_alarm_settings(config),
    )


def load_alarm_settings(config: pulumi.Config) -> AlarmSettings:
    """The ``alarm_*`` keys; a threshold below its minimum fails the preview."""
    defaults = AlarmSettings()
    email = config.get("alarm_email") or None
    if email is not None and "@" not in email:
        raise pulumi.RunError(f"alarm_email is not an email address: {email!r}")
    minimum = {
        "dlq_messages": 1,
        "function_errors": 1,
        "function_throttles": 1,
        "slack_p99_ms": 100,
        "monitor_missed_runs": 1,
    }
    values: dict[str, int] = {}
    for name, lowest in minimum.items():
        value = config.get_int(f"alarm_{name}")
        if value is None:
            value = getattr(defaults, name)
        elif value < lowest:
            raise pulumi.RunError(f"alarm_{name} must be at least {lowest} (got {value})")
        values[name] = value
    return AlarmSettings(email=email, **values)
