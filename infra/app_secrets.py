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
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import resource_name, tags


def create_secrets(cfg: StackConfig) -> dict[str, aws.secretsmanager.Secret]:
    """One secret per configured value (``exec-assistant-slack-bot-token-{env}`` …)."""
    created: dict[str, aws.secretsmanager.Secret] = {}
    for name, value in cfg.secrets.items():
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
        created[name] = secret
    return created
