"""The HTTP API Slack calls: ``POST /slack/webhook`` → the Slack bot Lambda.

Slack sends events, slash commands and interactivity to one request URL; Bolt routes them. HTTP
API (apigatewayv2) with payload format 2.0 is what Bolt's Lambda adapter reads
(``requestContext.http.method``). The ``$default`` stage auto-deploys, is throttled (Slack's own
traffic is tiny, so a flood is not Slack) and writes JSON access logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.lambdas import DeployedFunction
from infra.naming import resource_name, tags

WEBHOOK_PATH = "/slack/webhook"
ROUTE_KEY = f"POST {WEBHOOK_PATH}"

ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","routeKey":"$context.routeKey",'
    '"status":"$context.status","responseLength":"$context.responseLength",'
    '"integrationError":"$context.integrationErrorMessage"}'
)


@dataclass(frozen=True)
class SlackApi:
    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage
    webhook_url: pulumi.Output[str]


def create_slack_api(cfg: StackConfig, slack_bot: DeployedFunction) -> SlackApi:
    """The API; its integration and invoke permission target the bot's alias under SnapStart."""
    name = resource_name("api", cfg.env)
    api = aws.apigatewayv2.Api(name, name=name, protocol_type="HTTP", tags=tags(cfg.env))
    integration = aws.apigatewayv2.Integration(
        f"{name}-slack-bot",
        api_id=api.id,
        integration_type="AWS_PROXY",
        integration_method="POST",
        integration_uri=slack_bot.invoke_arn,
        payload_format_version="2.0",
    )
    aws.apigatewayv2.Route(
        f"{name}-slack-webhook",
        api_id=api.id,
        route_key=ROUTE_KEY,
        target=pulumi.Output.concat("integrations/", integration.id),
    )
    access_logs = aws.cloudwatch.LogGroup(
        f"{name}-access-logs",
        name=f"/aws/apigateway/{name}",
        retention_in_days=cfg.log_retention_days,
        tags=tags(cfg.env),
    )
    stage = aws.apigatewayv2.Stage(
        f"{name}-default",
        api_id=api.id,
        name="$default",
        auto_deploy=True,
        default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
            throttling_burst_limit=50, throttling_rate_limit=20
        ),
        access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
            destination_arn=access_logs.arn, format=ACCESS_LOG_FORMAT
        ),
        tags=tags(cfg.env),
    )
    aws.lambda_.Permission(
        f"{name}-invoke-slack-bot",
        action="lambda:InvokeFunction",
        function=slack_bot.function.name,
        qualifier=slack_bot.qualifier,
        principal="apigateway.amazonaws.com",
        # Only this API, only the webhook route (any stage).
        source_arn=pulumi.Output.concat(api.execution_arn, f"/*/POST{WEBHOOK_PATH}"),
    )
    webhook_url = pulumi.Output.concat(api.api_endpoint, WEBHOOK_PATH)
    return SlackApi(api=api, stage=stage, webhook_url=webhook_url)
