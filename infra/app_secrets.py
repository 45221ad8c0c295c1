"""Secrets Manager secrets seeded from the stack's config secrets.

(Not ``secrets.py``: Pulumi runs the program with ``infra/`` on ``sys.path``, where that name
would shadow the standard library's ``secrets`` for every library in the process.)

The Lambdas receive the secret ARNs (``SLACK_BOT_TOKEN_SECRET_ARN`` …) and read the values at
run time; the values never appear in a Lambda's configuration. Encryption uses the AWS managed
key ``aws/secretsmanager``.

The config *seeds* each secret: later changes go through ``exec-assistant secrets rotate``, which
keeps the previous value as AWSPREVIOUS (the Slack bot accepts the previous signing secret for a
grace window). Pulumi therefore ignores later changes of the seeded value, so a ``pulumi up``
with an older config can never roll a rotated secret back.

The key that signs the email's action links (``action_link_secret``, when the stack sends prep
emails) comes from no config: the first deployment seeds it with 64 random characters from
Secrets Manager's ``GetRandomPassword`` (a secret output, never in the program's logs); later runs
ignore the value like the others, and ``exec-assistant secrets rotate action-link-secret``
replaces it.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import resource_name, tags

#: The generated link-signing key's length (the package wants 32+ characters).
LINK_KEY_LENGTH = 64


def create_secret(
    cfg: StackConfig, name: str, value: pulumi.Input[str]
) -> aws.secretsmanager.Secret:
    """``exec-assistant-{name}-{env}`` seeded with ``value`` (later changes ignored)."""
    secret_name = resource_name(name.replace("_", "-"), cfg.env)
    secret = aws.secretsmanager.Secret(
        secret_name,
        name=secret_name,
        description=f"exec-assistant {name} ({cfg.env}); rotate: exec-assistant secrets rotate",
        recovery_window_in_days=30 if cfg.is_prod else 7,
        tags=tags(cfg.env),
    )
    aws.secretsmanager.SecretVersion(
        f"{secret_name}-value",
        secret_id=secret.id,
        secret_string=value,
        opts=pulumi.ResourceOptions(parent=secret, ignore_changes=["secretString"]),
    )
    return secret


def create_secrets(cfg: StackConfig) -> dict[str, aws.secretsmanager.Secret]:
    """One secret per configured value (``exec-assistant-slack-bot-token-{env}`` …), plus the
    generated link-signing key when the stack sends prep emails."""
    created = {name: create_secret(cfg, name, value) for name, value in cfg.secrets.items()}
    if cfg.ses_from_email and cfg.enable_prep_notification:
        generated = aws.secretsmanager.get_random_password_output(
            password_length=LINK_KEY_LENGTH, exclude_punctuation=True
        )
        created["action_link_secret"] = create_secret(
            cfg, "action_link_secret", pulumi.Output.secret(generated.random_password)
        )
    return created
