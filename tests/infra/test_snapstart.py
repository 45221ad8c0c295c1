"""SnapStart: the Slack bot, the prep trigger and the webhooks publish versions behind a ``live``
alias, and everything that invokes them targets that alias; ``enable_snapstart=false`` turns it
all off."""

from __future__ import annotations

import pytest

from tests.infra.conftest import ACCOUNT, REGION, Deployment, deployment

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
PERMISSION = "aws:lambda/permission:Permission"
SNAPSTART = ("slack-bot", "prep-trigger", "webhooks")


def _function_arn(deployed: Deployment, component: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:exec-assistant-{component}-{deployed.env}"


def _permission(deployed: Deployment, principal: str, component: str) -> dict[str, object]:
    (found,) = [
        p
        for p in deployed.of_type(PERMISSION)
        if p["principal"] == principal
        and p["function"] == f"exec-assistant-{component}-{deployed.env}"
    ]
    return found.inputs


@pytest.mark.parametrize("component", SNAPSTART)
def test_snapstart_functions_publish_versions_behind_the_live_alias(
    dev: Deployment, component: str
) -> None:
    function = dev.function(component)
    assert function["snapStart"] == {"applyOn": "PublishedVersions"}
    assert function["publish"] is True
    alias = dev.one(ALIAS, functionName=f"exec-assistant-{component}-{dev.env}")
    assert alias["name"] == "live"
    assert alias["functionVersion"] == "1"  # the version the function's publish created


@pytest.mark.parametrize("component", ["calendar-monitor", "digest", "email-events"])
def test_the_event_driven_functions_keep_plain_invocations(dev: Deployment, component: str) -> None:
    function = dev.function(component)
    assert function.get("snapStart") is None
    assert not function.get("publish")
    assert len(dev.of_type(ALIAS)) == len(SNAPSTART)


def test_api_gateway_invokes_the_slack_bot_alias(dev: Deployment) -> None:
    alias_arn = _function_arn(dev, "slack-bot") + ":live"
    dev.one("aws:apigatewayv2/integration:Integration", integrationUri=alias_arn)
    assert _permission(dev, "apigateway.amazonaws.com", "slack-bot")["qualifier"] == "live"
    assert dev.outputs["slack_bot_invoke_arn"] == alias_arn


def test_the_prep_rule_and_async_config_use_the_trigger_alias(dev: Deployment) -> None:
    alias_arn = _function_arn(dev, "prep-trigger") + ":live"
    target = dev.one("aws:cloudwatch/eventTarget:EventTarget", targetId="prep-trigger")
    assert target["arn"] == alias_arn
    assert _permission(dev, "events.amazonaws.com", "prep-trigger")["qualifier"] == "live"
    invoke_config = dev.one(
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        functionName="exec-assistant-prep-trigger-dev",
    )
    assert invoke_config["qualifier"] == "live"
    assert invoke_config["maximumRetryAttempts"] == 2
    assert dev.outputs["prep_trigger_invoke_arn"] == alias_arn


def test_reminder_schedules_reach_the_alias_through_the_bus(dev: Deployment) -> None:
    """Schedules target the bus (SCHEDULER_TARGET_ARN), whose rule targets the alias."""
    variables = dev.function("slack-bot")["environment"]["variables"]
    assert variables["SCHEDULER_TARGET_ARN"] == dev.outputs["event_bus_arn"]


def test_enable_snapstart_false_turns_it_all_off() -> None:
    off = deployment("no-snapstart")
    assert off.of_type(ALIAS) == []
    for component in SNAPSTART:
        function = off.function(component)
        assert function.get("snapStart") is None
        assert not function.get("publish")
    for component in ("slack-bot", "webhooks"):
        off.one(
            "aws:apigatewayv2/integration:Integration", integrationUri=_function_arn(off, component)
        )
    target = off.one("aws:cloudwatch/eventTarget:EventTarget", targetId="prep-trigger")
    assert target["arn"] == _function_arn(off, "prep-trigger")
    assert _permission(off, "apigateway.amazonaws.com", "slack-bot").get("qualifier") is None
    assert off.outputs["prep_trigger_invoke_arn"] == _function_arn(off, "prep-trigger")
