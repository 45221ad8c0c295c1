"""The stack's one HTTP API and its routes, each to the function that serves it.

=============================  ==================  =====================================
route                          function            who calls it
=============================  ==================  =====================================
``POST /slack/webhook``        slack bot           Slack (events, commands, buttons)
``POST /twilio/sms``           webhooks            Twilio (an SMS reply to the number)
``POST /twilio/status``        webhooks            Twilio (an SMS's delivery receipt)
``GET``/``POST /actions/{t}``  webhooks            the executive's browser (email links)
=============================  ==================  =====================================

HTTP API (apigatewayv2) with payload format 2.0 is what the handlers read
(``requestContext.http.method``). The ``$default`` stage auto-deploys, is throttled (the traffic
is one executive's, so a flood is not them) and writes JSON access logs. The API's endpoint is
the deployment's ``PUBLIC_BASE_URL``: Twilio signs that address, email links point to it.
Each function may be invoked by this API only on its own routes (one permission per route);
under SnapStart integrations and permissions name the function's ``live`` alias.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.lambdas import DeployedFunction
from infra.naming import resource_name, tags

WEBHOOK_PATH = "/slack/webhook"
ROUTE_KEY = f"POST {WEBHOOK_PATH}"
#: The webhooks function's routes (exec_assistant.interfaces.webhooks), by logical name.
ANSWER_ROUTES = {
    "twilio-sms": "POST /twilio/sms",
    "twilio-status": "POST /twilio/status",
    "actions-get": "GET /actions/{token}",
    "actions-post": "POST /actions/{token}",
}

ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","routeKey":"$context.routeKey",'
    '"status":"$context.status","responseLength":"$context.responseLength",'
    '"integrationError":"$context.integrationErrorMessage",'
    # per route (Slack's webhook, Twilio's, the email pages): the API's Latency metric mixes them
    '"responseLatency":"$context.responseLatency"}'
)


@dataclass(frozen=True)
class HttpApi:
    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage
    #: ``https://{id}.execute-api.{region}.amazonaws.com`` (the ``$default`` stage: no prefix)
    endpoint: pulumi.Output[str]

    def url(self, path: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.endpoint, path)


def create_http_api(cfg: StackConfig) -> HttpApi:
    """The API, its ``$default`` stage and the stage's access log group (no routes yet)."""
    name = resource_name("api", cfg.env)
    api = aws.apigatewayv2.Api(name, name=name, protocol_type="HTTP", tags=tags(cfg.env))
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
    return HttpApi(api=api, stage=stage, endpoint=api.api_endpoint)


def _source_arn(http: HttpApi, route_key: str) -> pulumi.Output[str]:
    """``{execution arn}/*/{METHOD}{path}``: any stage, this method and path (``{x}`` → ``*``)."""
    method, path = route_key.split(" ", 1)
    pattern = "/".join("*" if part.startswith("{") else part for part in path.split("/"))
    return pulumi.Output.concat(http.api.execution_arn, f"/*/{method}{pattern}")


def add_routes(
    http: HttpApi,
    function: DeployedFunction,
    *,
    integration_name: str,
    routes: Sequence[tuple[str, str, str]],
) -> aws.apigatewayv2.Integration:
    """Route each ``(route name, route key, permission name)`` to ``function`` (one proxy
    integration, payload 2.0); each route gets its own invoke permission."""
    api = http.api
    integration = aws.apigatewayv2.Integration(
        integration_name,
        api_id=api.id,
        integration_type="AWS_PROXY",
        integration_method="POST",
        integration_uri=function.invoke_arn,
        payload_format_version="2.0",
    )
    for route_name, route_key, permission_name in routes:
        aws.apigatewayv2.Route(
            route_name,
            api_id=api.id,
            route_key=route_key,
            target=pulumi.Output.concat("integrations/", integration.id),
        )
        aws.lambda_.Permission(
            permission_name,
            action="lambda:InvokeFunction",
            function=function.function.name,
            qualifier=function.qualifier,
            principal="apigateway.amazonaws.com",
            source_arn=_source_arn(http, route_key),
        )
    return integration


def route_slack(cfg: StackConfig, http: HttpApi, slack_bot: DeployedFunction) -> pulumi.Output[str]:
    """``POST /slack/webhook`` → the bot; returns the URL to give Slack."""
    name = resource_name("api", cfg.env)
    add_routes(
        http,
        slack_bot,
        integration_name=f"{name}-slack-bot",
        routes=[(f"{name}-slack-webhook", ROUTE_KEY, f"{name}-invoke-slack-bot")],
    )
    return http.url(WEBHOOK_PATH)


def route_answers(cfg: StackConfig, http: HttpApi, webhooks: DeployedFunction) -> None:
    """Twilio's webhooks and the email action links → the webhooks function."""
    name = resource_name("api", cfg.env)
    add_routes(
        http,
        webhooks,
        integration_name=f"{name}-webhooks",
        routes=[
            (f"{name}-{label}", key, f"{name}-invoke-webhooks-{label}")
            for label, key in ANSWER_ROUTES.items()
        ],
    )
