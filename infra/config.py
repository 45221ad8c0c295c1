"""Typed stack configuration from ``pulumi.Config("exec-assistant")``.

Keys (exactly these): ``enable_prep_notification`` (bool, default true), ``enable_snapstart``
(bool, default true: Lambda SnapStart on the Slack bot and the prep trigger), ``slack_bot_token``
and ``slack_signing_secret`` (required secrets), ``twilio_account_sid``, ``twilio_auth_token``,
``twilio_from_number`` (optional secrets) and ``ses_from_email`` (optional). The environment is
the stack name (``dev``, ``prod``, …).
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
class StackConfig:
    """Everything the program reads from the stack; secret values stay ``Output`` secrets."""

    env: str
    enable_prep_notification: bool
    enable_snapstart: bool = True
    secrets: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    ses_from_email: str | None = None

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
    )
