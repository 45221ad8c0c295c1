"""Issue 14's infrastructure: the webhooks function and its routes, the SES configuration set with
its EventBridge destination, the rule to the email events function, the link-signing key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.conftest import ACCOUNT, GENERATED_PASSWORD, REGION, Deployment

P = f"{REGION}:{ACCOUNT}"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
PERMISSION = "aws:lambda/permission:Permission"
CONFIG_SET = "aws:sesv2/configurationSet:ConfigurationSet"
DESTINATION = "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"

ANSWER_ROUTES = {
    "POST /twilio/sms": "/*/POST/twilio/sms",
    "POST /twilio/status": "/*/POST/twilio/status",
    "GET /actions/{token}": "/*/GET/actions/*",
    "POST /actions/{token}": "/*/POST/actions/*",
}


def _api(deployed: Deployment) -> Any:
    return deployed.one("aws:apigatewayv2/api:Api", name=f"exec-assistant-api-{deployed.env}")


def _env(deployed: Deployment, component: str) -> dict[str, str]:
    variables: dict[str, str] = deployed.function(component)["environment"]["variables"]
    return variables


@pytest.mark.parametrize("scenario", ["dev", "prod", "no-snapstart"])
def test_answer_routes_reach_the_webhooks_function(scenario: str) -> None:
    from tests.infra.conftest import deployment

    deployed = deployment(scenario)
    api = _api(deployed)
    target = deployed.invoke_arn("webhooks")  # the live alias under SnapStart
    integration = deployed.one(INTEGRATION, integrationUri=target)
    assert (integration["integrationType"], integration["payloadFormatVersion"]) == (
        "AWS_PROXY",
        "2.0",
    )
    routes = {
        r["routeKey"]: r
        for r in deployed.of_type(ROUTE)
        if r["target"] == f"integrations/{integration.id}"
    }
    assert set(routes) == set(ANSWER_ROUTES)
    assert all(r["apiId"] == api.id for r in routes.values())
    # the Slack route still goes to the bot, never to the webhooks function
    slack = deployed.one(ROUTE, routeKey="POST /slack/webhook")
    assert slack["target"] != f"integrations/{integration.id}"


def test_one_invoke_permission_per_route_scoped_to_it(dev: Deployment) -> None:
    api = _api(dev)
    permissions = [
        p for p in dev.of_type(PERMISSION) if p["function"] == "exec-assistant-webhooks-dev"
    ]
    assert sorted(p["sourceArn"] for p in permissions) == sorted(
        f"{api.state['executionArn']}{suffix}" for suffix in ANSWER_ROUTES.values()
    )
    for permission in permissions:
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["action"] == "lambda:InvokeFunction"
        assert permission["qualifier"] == "live"


def test_public_base_url_is_the_api_endpoint_where_it_is_needed(dev: Deployment) -> None:
    endpoint = _api(dev).state["apiEndpoint"]
    assert dev.outputs["api_endpoint"] == endpoint
    for component in ("webhooks", "prep-trigger"):
        assert _env(dev, component)["PUBLIC_BASE_URL"] == endpoint
    for component in ("slack-bot", "calendar-monitor", "digest", "email-events"):
        assert "PUBLIC_BASE_URL" not in _env(dev, component)
    assert dev.outputs["twilio_sms_url"] == f"{endpoint}/twilio/sms"
    assert dev.outputs["twilio_status_url"] == f"{endpoint}/twilio/status"


def test_webhooks_without_email_or_twilio_get_neither(prod: Deployment) -> None:
    env = _env(prod, "webhooks")
    assert not {k for k in env if k.startswith(("TWILIO_", "SES_", "ACTION_LINK"))}
    assert env["PUBLIC_BASE_URL"] == _api(prod).state["apiEndpoint"]
    assert prod.of_type(CONFIG_SET) == []
    functions = {f["name"] for f in prod.of_type("aws:lambda/function:Function")}
    assert "exec-assistant-email-events-prod" not in functions


def test_nothing_of_it_without_prep_notifications(disabled: Deployment) -> None:
    names = {f["name"] for f in disabled.of_type("aws:lambda/function:Function")}
    assert names == {"exec-assistant-slack-bot-dev", "exec-assistant-calendar-monitor-dev"}
    assert {r["routeKey"] for r in disabled.of_type(ROUTE)} == {"POST /slack/webhook"}
    assert disabled.of_type(CONFIG_SET) == []
    assert "exec-assistant-action-link-secret-dev" not in {
        s["name"] for s in disabled.of_type(SECRET)
    }


def test_ses_configuration_set_and_its_eventbridge_destination(dev: Deployment) -> None:
    config_set = dev.one(CONFIG_SET)
    assert config_set["configurationSetName"] == "exec-assistant-email-dev"
    assert config_set["sendingOptions"] == {"sendingEnabled": True}
    assert dev.outputs["ses_configuration_set"] == "exec-assistant-email-dev"
    destination = dev.one(DESTINATION)
    assert destination["configurationSetName"] == "exec-assistant-email-dev"
    event_destination = destination["eventDestination"]
    assert event_destination["enabled"] is True
    assert sorted(event_destination["matchingEventTypes"]) == [
        "BOUNCE",
        "COMPLAINT",
        "DELIVERY",
        "REJECT",
    ]
    assert event_destination["eventBridgeDestination"] == {
        "eventBusArn": f"arn:aws:events:{P}:event-bus/default"  # the only bus SES publishes to
    }
    assert _env(dev, "prep-trigger")["SES_CONFIGURATION_SET"] == "exec-assistant-email-dev"
    for component in ("slack-bot", "webhooks", "email-events"):  # they send no email
        assert "SES_CONFIGURATION_SET" not in _env(dev, component)


def test_the_rule_routes_only_this_sets_events_to_the_email_events_handler(
    dev: Deployment,
) -> None:
    rule = dev.one(RULE, name="exec-assistant-email-events-dev")
    assert rule.get("eventBusName") is None  # the default bus, where SES publishes
    pattern = json.loads(rule["eventPattern"])
    assert pattern == {
        "source": ["aws.ses"],
        "detail-type": [
            "Email Bounced",
            "Email Complaint Received",
            "Email Delivered",
            "Email Rejected",
        ],
        "detail": {"mail": {"tags": {"ses:configuration-set": ["exec-assistant-email-dev"]}}},
    }
    function = dev.function("email-events")
    assert function["handler"] == "exec_assistant.workflows.email_events.lambda_handler"
    target = dev.one(TARGET, targetId="email-events")
    assert target["rule"] == "exec-assistant-email-events-dev"
    assert target["arn"] == dev.invoke_arn("email-events")
    dlq_arn = f"arn:aws:sqs:{P}:exec-assistant-email-events-dlq-dev"
    assert target["deadLetterConfig"] == {"arn": dlq_arn}
    assert target["retryPolicy"]["maximumRetryAttempts"] > 0
    permission = dev.one(
        PERMISSION, function="exec-assistant-email-events-dev", principal="events.amazonaws.com"
    )
    assert permission["sourceArn"] == rule.state["arn"]
    invoke_config = dev.one(INVOKE_CONFIG, functionName="exec-assistant-email-events-dev")
    assert invoke_config["destinationConfig"] == {"onFailure": {"destination": dlq_arn}}
    (policy,) = [
        p.policy()
        for p in dev.of_type(QUEUE_POLICY)
        if p["queueUrl"].endswith("/exec-assistant-email-events-dlq-dev")
    ]
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Resource"] == dlq_arn
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.state["arn"]}}


def test_the_link_signing_key_is_a_generated_secret(dev: Deployment) -> None:
    secret = dev.one(SECRET, name="exec-assistant-action-link-secret-dev")
    assert "rotate" in secret["description"]
    version = dev.one(VERSION, secretId=secret.id)
    assert version["secretString"] == GENERATED_PASSWORD  # Secrets Manager's GetRandomPassword
    assert "secretString" in version.secret_inputs  # encrypted in the state, never exported
    assert GENERATED_PASSWORD not in json.dumps(dev.outputs)
    arn = f"arn:aws:secretsmanager:{P}:secret:exec-assistant-action-link-secret-dev-AbCdEf"
    for component in ("prep-trigger", "webhooks"):  # signs the links / reads them
        assert _env(dev, component)["ACTION_LINK_SECRET_SECRET_ARN"] == arn
    for component in ("slack-bot", "email-events"):
        assert "ACTION_LINK_SECRET_SECRET_ARN" not in _env(dev, component)


def test_the_rotate_command_knows_the_link_key_by_its_infra_name() -> None:
    """``exec-assistant secrets rotate action-link-secret`` finds it through the variable the
    stack sets (ACTION_LINK_SECRET_SECRET_ARN) and names it as the stack does."""
    from exec_assistant.cli.secrets import SecretKind

    kind = SecretKind.ACTION_LINK_SECRET
    assert kind.arn_variable == "ACTION_LINK_SECRET_SECRET_ARN"
    assert f"exec-assistant-{kind.value}-dev" == "exec-assistant-action-link-secret-dev"
