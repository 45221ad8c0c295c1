"""Composes the stack from the modules; ``__main__.py`` calls :func:`build` and exports.

What each Lambda may do (its one inline policy, besides writing its own log group):

=================  ==========================================================================
slack bot          stack tables; read the Slack token and signing secret; create/delete
                   schedules in the group + pass the scheduler role; send to its
                   post-response DLQ; with ``bedrock_model_id``, ``bedrock:InvokeModel`` on
                   that model (and its inference profile) only
calendar monitor   stack tables; ``events:PutEvents`` on the stack bus; read the Slack token;
                   create/get/update/delete schedules in the group + pass the scheduler role,
                   ``scheduler:ListSchedules`` (no resource-level permission exists for it)
prep trigger       stack tables; read the Slack token, Twilio secrets and link-signing key;
                   create/delete schedules + pass the scheduler role; send to its DLQ (async
                   failures); ``ses:SendEmail`` from the configured identity through the
                   stack's configuration set
digest             stack tables; read the Slack token (one morning digest per user and day)
webhooks           stack tables; read the Slack token, the Twilio auth token (signatures) and
                   the link-signing key; create/delete schedules + pass the scheduler role (an
                   answer cancels escalations or snoozes); ``events:PutEvents`` on the stack
                   bus (a failed SMS receipt publishes the follow-up cycle)
email events       stack tables; ``events:PutEvents`` on the stack bus (a bounce or complaint
                   publishes the follow-up cycle); send to its DLQ (async failures)
=================  ==========================================================================

The webhooks and the SES configuration set with its email events function exist with the prep
notifications (``enable_prep_notification``); the set, its function and the link-signing key
only when the stack sends email (``ses_from_email``).

Operations (infra/alarms.py, infra/dashboard.py): one SNS topic for every alarm, the alarms on the
dead-letter queues, the functions, the notifications, the monitor and the Slack latency, a log
metric filter per function, and the dashboard ``exec-assistant-ops-{env}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import iam, lambdas
from infra.alarms import Watched, create_alarms
from infra.api import HttpApi, create_http_api, route_answers, route_slack
from infra.app_secrets import create_secrets
from infra.bus import create_bus
from infra.config import StackConfig
from infra.dashboard import create_dashboard
from infra.digest import route_digest
from infra.email_events import create_configuration_set, route_email_events
from infra.monitor import schedule_monitor
from infra.post_response import create_post_response_alarm, create_post_response_dlq
from infra.prep_notification import (
    Scheduler,
    create_prep_trigger,
    create_scheduler,
    scheduler_environment,
)
from infra.tables import create_tables

LOG_LEVEL = "INFO"
#: pydantic looks for plugins (the ``pydantic`` entry-point group of every installed
#: distribution) when the first model is built, on every cold start; the functions use none
#: (issue 16: 21 ms of CPU per cold start of the prep trigger, measured, docs/benchmarks.md).
PYDANTIC_PLUGINS = "__all__"


def shared_environment(
    cfg: StackConfig,
    tables: Mapping[str, aws.dynamodb.Table],
    bus: aws.cloudwatch.EventBus,
    scheduler: Scheduler | None,
) -> dict[str, pulumi.Input[str]]:
    """The variables every function gets (exec_assistant/config.py); never AWS_REGION."""
    variables: dict[str, pulumi.Input[str]] = {
        "ENVIRONMENT": cfg.env,
        "EXEC_ASSISTANT_STORE": "dynamodb",
        "EVENT_BUS_NAME": bus.name,
        "LOG_LEVEL": LOG_LEVEL,
        "PYDANTIC_DISABLE_PLUGINS": PYDANTIC_PLUGINS,
    }
    for table, resource in tables.items():
        variables[f"{table.upper()}_TABLE_NAME"] = resource.name
    if scheduler is not None:
        variables.update(scheduler_environment(scheduler, bus))
    return variables


def build(cfg: StackConfig, code: pulumi.Archive) -> dict[str, pulumi.Output[Any]]:
    """Create every resource; returns the stack outputs by name."""
    ctx = iam.account_context()
    tables = create_tables(cfg)
    secrets = create_secrets(cfg)
    bus = create_bus(cfg)
    http = create_http_api(cfg)
    scheduler = create_scheduler(cfg, ctx, bus) if cfg.enable_prep_notification else None
    sends_email = scheduler is not None and cfg.ses_from_email is not None
    configuration_set = create_configuration_set(cfg) if sends_email else None
    endpoints = lambdas.Endpoints(
        public_base_url=http.endpoint,
        ses_configuration_set=(
            configuration_set.configuration_set_name if configuration_set is not None else None
        ),
    )
    shared = shared_environment(cfg, tables, bus, scheduler)
    table_statement = iam.dynamodb_statement([table.arn for table in tables.values()])
    schedule_statements = (
        iam.scheduler_statements(ctx, scheduler.group.name, scheduler.role.arn)
        if scheduler is not None
        else []
    )

    def environment(spec: lambdas.FunctionSpec) -> dict[str, pulumi.Input[str]]:
        return lambdas.function_environment(spec, cfg, shared, secrets, endpoints)

    def base_statements(spec: lambdas.FunctionSpec) -> list[iam.Statement]:
        """What every function gets: the stack's tables and read access to its own secrets."""
        statements = [table_statement]
        secret_arns = [secrets[name].arn for name in spec.secrets if name in secrets]
        if secret_arns:
            statements.append(iam.secrets_statement(secret_arns))
        if spec.writes_briefs and cfg.bedrock is not None:
            statements.extend(iam.bedrock_statements(ctx, cfg.bedrock))
        return statements

    def notifying_statements(spec: lambdas.FunctionSpec) -> list[iam.Statement]:
        """A function that may send a notification: its base, the schedules, SES."""
        statements = [*base_statements(spec), *schedule_statements]
        if cfg.ses_from_email and spec.sends_email:
            set_arn = configuration_set.arn if configuration_set is not None else None
            statements.append(iam.ses_statement(ctx, cfg.ses_from_email, set_arn))
        return statements

    spec = lambdas.SLACK_BOT
    post_response_dlq = create_post_response_dlq(cfg)
    slack_bot = lambdas.create_function(
        spec,
        cfg,
        code=code,
        environment={**environment(spec), "POST_RESPONSE_DLQ_URL": post_response_dlq.url},
    )
    lambdas.grant(
        slack_bot,
        cfg,
        [
            *base_statements(spec),
            *schedule_statements,
            iam.sqs_send_statement("PostResponseFailuresToDlq", post_response_dlq.arn),
        ],
    )
    slack_webhook_url = route_slack(cfg, http, slack_bot)

    spec = lambdas.CALENDAR_MONITOR
    monitor = lambdas.create_function(spec, cfg, code=code, environment=environment(spec))
    replan = [*schedule_statements, iam.list_schedules_statement()] if schedule_statements else []
    lambdas.grant(
        monitor, cfg, [*base_statements(spec), iam.put_events_statement(bus.arn), *replan]
    )
    schedule_monitor(cfg, monitor.function)

    outputs: dict[str, pulumi.Output[Any]] = {
        "environment": pulumi.Output.from_input(cfg.env),
        "api_endpoint": http.endpoint,
        "slack_webhook_url": slack_webhook_url,
        "slack_bot_function_arn": slack_bot.function.arn,
        "slack_bot_invoke_arn": slack_bot.invoke_arn,
        "calendar_monitor_function_arn": monitor.function.arn,
        "event_bus_name": bus.name,
        "event_bus_arn": bus.arn,
        "slack_post_response_dlq_url": post_response_dlq.url,
    }
    for table, resource in tables.items():
        outputs[f"{table}_table_name"] = resource.name
    functions = {d.spec.component: d for d in (slack_bot, monitor)}
    queues: dict[str, aws.sqs.Queue] = {}

    if scheduler is not None:
        spec = lambdas.PREP_TRIGGER
        trigger = create_prep_trigger(cfg, bus=bus, code=code, environment=environment(spec))
        trigger_statements = [
            *notifying_statements(spec),
            iam.sqs_send_statement("AsyncFailuresToDlq", trigger.dlq.arn),
        ]
        lambdas.grant(trigger.deployed, cfg, trigger_statements)
        outputs["prep_trigger_function_arn"] = trigger.deployed.function.arn
        outputs["prep_trigger_invoke_arn"] = trigger.deployed.invoke_arn
        outputs["prep_rule_name"] = trigger.rule.name
        outputs["prep_dlq_url"] = trigger.dlq.url
        outputs["scheduler_group_name"] = scheduler.group.name
        outputs["scheduler_dlq_url"] = scheduler.dlq.url
        functions[spec.component] = trigger.deployed
        queues["trigger"] = trigger.dlq
        queues["scheduler"] = scheduler.dlq

        spec = lambdas.DIGEST
        digest = lambdas.create_function(spec, cfg, code=code, environment=environment(spec))
        lambdas.grant(digest, cfg, base_statements(spec))
        route_digest(cfg, bus=bus, function=digest.function)
        outputs["digest_function_arn"] = digest.function.arn
        functions[spec.component] = digest

        publish = iam.put_events_statement(bus.arn)

        def webhook_statements(spec: lambdas.FunctionSpec) -> list[iam.Statement]:
            return [*base_statements(spec), *schedule_statements, publish]

        functions["webhooks"] = _webhooks(cfg, http, code, environment, webhook_statements)
        outputs["webhooks_function_arn"] = functions["webhooks"].function.arn
        outputs["twilio_sms_url"] = http.url("/twilio/sms")
        outputs["twilio_status_url"] = http.url("/twilio/status")

        if configuration_set is not None:
            spec = lambdas.EMAIL_EVENTS
            email = lambdas.create_function(spec, cfg, code=code, environment=environment(spec))
            routed = route_email_events(cfg, ctx, configuration_set, email)
            lambdas.grant(
                email,
                cfg,
                [
                    *base_statements(spec),
                    publish,
                    iam.sqs_send_statement("AsyncFailuresToDlq", routed.dlq.arn),
                ],
            )
            outputs["ses_configuration_set"] = configuration_set.configuration_set_name
            outputs["email_events_function_arn"] = email.function.arn
            outputs["email_events_dlq_url"] = routed.dlq.url
            functions[spec.component] = email
            queues["email-events"] = routed.dlq

    watched = Watched(functions=functions, queues=queues, api=http.api)
    alarms = create_alarms(cfg, watched)
    # the Slack edge's own alarm, on the same topic and dashboard
    alarms.alarms["slack-post-response-failures"] = create_post_response_alarm(
        cfg, post_response_dlq, alarms.topic.arn
    )
    dashboard = create_dashboard(cfg, watched, alarms, ctx.region)
    outputs["alarm_topic_arn"] = alarms.topic.arn
    outputs["dashboard_name"] = dashboard.dashboard_name
    return outputs


def _webhooks(
    cfg: StackConfig,
    http: HttpApi,
    code: pulumi.Archive,
    environment: Callable[[lambdas.FunctionSpec], dict[str, pulumi.Input[str]]],
    statements: Callable[[lambdas.FunctionSpec], list[iam.Statement]],
) -> lambdas.DeployedFunction:
    """The webhooks function (SMS replies and receipts, email links) and its routes."""
    spec = lambdas.WEBHOOKS
    webhooks = lambdas.create_function(spec, cfg, code=code, environment=environment(spec))
    lambdas.grant(webhooks, cfg, statements(spec))
    route_answers(cfg, http, webhooks)
    return webhooks
