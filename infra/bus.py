"""The stack's own EventBridge bus, ``exec-assistant-bus-{env}``.

A dedicated bus (rather than the account's default bus) keeps the prep events, the rule and the
Scheduler role's ``events:PutEvents`` grant scoped to this stack and this environment.
"""

from __future__ import annotations

import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import resource_name, tags


def create_bus(cfg: StackConfig) -> aws.cloudwatch.EventBus:
    name = resource_name("bus", cfg.env)
    return aws.cloudwatch.EventBus(name, name=name, tags=tags(cfg.env))
