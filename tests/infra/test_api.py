"""The HTTP API: ``POST /slack/webhook`` → the Slack bot (AWS_PROXY, 2.0), scoped permission.
(The webhooks' routes on the same API: tests/infra/test_answers.py.)"""

from __future__ import annotations

import json

from tests.infra.conftest import ACCOUNT, REGION, Deployment

API = "aws:apigatewayv2/api:Api"


def test_http_api_route_integration_and_stage(any_deployment: Deployment) -> None:
    env = any_deployment.env
    api = any_deployment.one(API, name=f"exec-assistant-api-{env}")
    assert api["protocolType"] == "HTTP"
    (integration,) = [
        i
        for i in any_deployment.of_type("aws:apigatewayv2/integration:Integration")
        if i["integrationUri"] == any_deployment.invoke_arn("slack-bot")
    ]
    assert integration["apiId"] == api.id
    assert integration["integrationType"] == "AWS_PROXY"
    assert integration["payloadFormatVersion"] == "2.0"
    assert integration["integrationUri"] == any_deployment.invoke_arn("slack-bot")
    (route,) = [
        r
        for r in any_deployment.of_type("aws:apigatewayv2/route:Route")
        if r["target"] == f"integrations/{integration.id}"
    ]
    assert route["routeKey"] == "POST /slack/webhook"
    assert route["apiId"] == api.id
    assert route["target"] == f"integrations/{integration.id}"
    (stage,) = any_deployment.of_type("aws:apigatewayv2/stage:Stage")
    assert (stage["name"], stage["autoDeploy"], stage["apiId"]) == ("$default", True, api.id)
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] > 0
    access_logs = any_deployment.one(
        "aws:cloudwatch/logGroup:LogGroup", name=f"/aws/apigateway/exec-assistant-api-{env}"
    )
    assert stage["accessLogSettings"]["destinationArn"] == access_logs.state["arn"]
    # JSON lines with the route and its latency (the runbook's per-route p99 query reads them)
    fields = json.loads(stage["accessLogSettings"]["format"])
    assert fields["routeKey"] == "$context.routeKey"
    assert fields["responseLatency"] == "$context.responseLatency"


def test_invoke_permission_scoped_to_the_api_route(dev: Deployment) -> None:
    api = dev.one(API, name="exec-assistant-api-dev")
    permission = dev.one(
        "aws:lambda/permission:Permission",
        function="exec-assistant-slack-bot-dev",
        principal="apigateway.amazonaws.com",
    )
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["sourceArn"] == f"{api.state['executionArn']}/*/POST/slack/webhook"
    assert permission["sourceArn"].startswith(f"arn:aws:execute-api:{REGION}:{ACCOUNT}:")


def test_webhook_url_export(dev: Deployment) -> None:
    api = dev.one(API, name="exec-assistant-api-dev")
    assert dev.outputs["slack_webhook_url"] == f"{api.state['apiEndpoint']}/slack/webhook"
