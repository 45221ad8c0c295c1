"""Typed stack configuration from ``pulumi.Config("exec-assistant")``.

Keys (exactly these): ``enable_prep_notification`` (bool, default true), ``enable_snapstart``
(bool, default true: Lambda SnapStart on the Slack bot and the prep trigger), ``slack_bot_token``
and ``slack_signing_secret`` (required secrets), ``twilio_account_sid``, ``twilio_auth_token``,
``twilio_from_number`` (optional secrets) and ``ses_from_email`` (optional). The environment is
the stack name (``dev``, ``prod``, …).

The Bedrock brief writer (docs/brief.md; optional, off by default): ``bedrock_model_id`` (a
foundation-model id such as ``anthropic.claude-3-haiku-20240307-v1:0`` or a cross-Region
inference profile id such as ``us.anthropic.claude-3-haiku-20240307-v1:0``) turns it on for the
Slack bot, which then may invoke exactly that model; ``bedrock_region`` (default: the stack's
Region) is where it is called.

Alarms (all optional, see :class:`AlarmSettings` and docs/runbook.md): ``alarm_email`` (subscribed
to the alarm topic; AWS mails a confirmation link first), ``alarm_dlq_messages``,
``alarm_function_errors``, ``alarm_function_throttles``, ``alarm_slack_p99_ms`` and
``alarm_monitor_missed_runs``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi

from infra.naming import PROJECT

#: The secrets the stack stores in Secrets Manager, in the package's names (config.SecretName).
REQUIRED_SECRETS = ("slack_bot_token", "slack_signing_secret")
OPTIONAL_SECRETS = ("twilio_account_sid", "twilio_auth_token", "twilio_from_number")

PROD_ENVIRONMENTS = frozenset({"prod"})

#: A Bedrock model id (``vendor.model-name:version``), optionally with a cross-Region inference
#: profile's geography prefix (``us.``, ``eu.``, ``apac.``, ``global.`` …). Not an ARN.
_BEDROCK_MODEL_ID = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9._:-]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
#: The geography prefixes of system-defined cross-Region inference profiles.
INFERENCE_PROFILE_PREFIXES = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")


@dataclass(frozen=True)
class BedrockModel:
    """The model the Bedrock brief writer calls (config ``bedrock_model_id``)."""

    model_id: str
    #: where it is called; None: the stack's Region
    region: str | None = None

    @property
    def profile_prefix(self) -> str | None:
        """The geography of a cross-Region inference profile id; None for a foundation model."""
        prefix, _, rest = self.model_id.partition(".")
        return prefix if prefix in INFERENCE_PROFILE_PREFIXES and "." in rest else None

    @property
    def foundation_model_id(self) -> str:
        """The foundation model behind the id (the id itself unless it is a profile)."""
        prefix = self.profile_prefix
        return self.model_id.removeprefix(f"{prefix}.") if prefix else self.model_id


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
    #: the Bedrock brief writer's model; None: the built-in writer, nothing leaves the stack
    bedrock: BedrockModel | None = None

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
        bedrock=load_bedrock_model(config),
    )


def load_bedrock_model(config: pulumi.Config) -> BedrockModel | None:
    """``bedrock_model_id`` / ``bedrock_region``; a malformed value fails the preview."""
    model_id = (config.get("bedrock_model_id") or "").strip()
    region = (config.get("bedrock_region") or "").strip() or None
    if not model_id:
        if region is not None:
            raise pulumi.RunError("bedrock_region is set but bedrock_model_id is not")
        return None
    if not _BEDROCK_MODEL_ID.match(model_id):
        raise pulumi.RunError(
            f"bedrock_model_id {model_id!r} is not a Bedrock model or inference profile id "
            "(such as anthropic.claude-3-haiku-20240307-v1:0; not an ARN)"
        )
    if region is not None and not _REGION.match(region):
        raise pulumi.RunError(f"bedrock_region {region!r} is not an AWS Region such as us-east-1")
    return BedrockModel(model_id=model_id, region=region)


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
