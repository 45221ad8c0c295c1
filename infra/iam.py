"""IAM: roles, and the least-privilege statements the program grants.

Every statement names its actions and the stack's own resource ARNs; none uses ``"*"`` as a
resource. Statements are plain dicts (possibly holding ``Output`` values) so tests can read back
exactly what was granted from the rendered policy JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import BedrockModel
from infra.naming import tags

Statement = dict[str, Any]

#: Exactly the operations the Lambdas' stores perform (exec_assistant/store/dynamodb*.py and the
#: feed store, store/feeds.py): Scan lists users and feeds; BatchGetItem reads a meeting with
#: its user and a feed's remembered series, BatchWriteItem writes those series.
DYNAMODB_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
#: GetSecretValue for the value; DescribeSecret + ListSecretVersionIds let the Slack bot find and
#: read the AWSPREVIOUS signing secret during the grace window after a rotation.
SECRETS_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:ListSecretVersionIds",
)
LOGS_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
SCHEDULER_ACTIONS = (
    "scheduler:CreateSchedule",
    "scheduler:DeleteSchedule",
    "scheduler:GetSchedule",
    "scheduler:UpdateSchedule",
)
#: ListSchedules supports no resource-level permission (Service Authorization Reference): it is
#: granted on "*" in its own statement, to the functions that re-plan a meeting's schedules.
LIST_SCHEDULES_ACTION = "scheduler:ListSchedules"
#: What the Converse API is authorised as (the brief writer calls nothing else on Bedrock).
BEDROCK_INVOKE_ACTION = "bedrock:InvokeModel"


@dataclass(frozen=True)
class AccountContext:
    """Partition, region and account of the deployment, for ARNs no resource exports."""

    partition: pulumi.Output[str]
    region: pulumi.Output[str]
    account_id: pulumi.Output[str]

    def arn(self, service: str, resource: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "arn:",
            self.partition,
            f":{service}:",
            self.region,
            ":",
            self.account_id,
            ":",
            resource,
        )


def account_context() -> AccountContext:
    return AccountContext(
        partition=aws.get_partition_output().partition,
        region=aws.get_region_output().region,
        account_id=aws.get_caller_identity_output().account_id,
    )


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    condition: dict[str, Any] | None = None,
) -> Statement:
    if not resources:
        raise ValueError(f"statement {sid} has no resources")
    rendered: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": list(resources),
    }
    if condition:
        rendered["Condition"] = condition
    return rendered


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_role(
    name: str, service: str, env: str, condition: dict[str, Any] | None = None
) -> aws.iam.Role:
    """A role only ``service`` (``lambda.amazonaws.com`` …) may assume."""
    trust: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        trust["Condition"] = condition
    return aws.iam.Role(
        name,
        name=name,
        assume_role_policy=pulumi.Output.json_dumps(
            {"Version": "2012-10-17", "Statement": [trust]}
        ),
        tags=tags(env),
    )


def attach_policy(
    role: aws.iam.Role, name: str, statements: Sequence[Statement]
) -> aws.iam.RolePolicy:
    return aws.iam.RolePolicy(
        name,
        name=name,
        role=role.id,
        policy=policy_document(statements),
        opts=pulumi.ResourceOptions(parent=role),
    )


# -- the statements ---------------------------------------------------------------------------


def logs_statement(log_group_arn: pulumi.Input[str]) -> Statement:
    """Write to the function's own, pre-created log group (no CreateLogGroup)."""
    return statement("WriteOwnLogs", LOGS_ACTIONS, [pulumi.Output.concat(log_group_arn, ":*")])


def dynamodb_statement(table_arns: Sequence[pulumi.Input[str]]) -> Statement:
    resources: list[pulumi.Input[str]] = []
    for arn in table_arns:
        resources.extend([arn, pulumi.Output.concat(arn, "/index/*")])
    return statement("StackTables", DYNAMODB_ACTIONS, resources)


def secrets_statement(secret_arns: Sequence[pulumi.Input[str]]) -> Statement:
    return statement("ReadStackSecrets", SECRETS_ACTIONS, secret_arns)


def put_events_statement(bus_arn: pulumi.Input[str]) -> Statement:
    return statement("PublishToStackBus", ("events:PutEvents",), [bus_arn])


def scheduler_statements(
    ctx: AccountContext, group_name: pulumi.Input[str], scheduler_role_arn: pulumi.Input[str]
) -> list[Statement]:
    """Create/delete one-time schedules in the stack's group; hand them the scheduler role only."""
    schedules = ctx.arn("scheduler", pulumi.Output.concat("schedule/", group_name, "/*"))
    return [
        statement("ManageStackSchedules", SCHEDULER_ACTIONS, [schedules]),
        statement(
            "PassSchedulerRole",
            ("iam:PassRole",),
            [scheduler_role_arn],
            {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        ),
    ]


def list_schedules_statement() -> Statement:
    """Find a moved or cancelled meeting's pending schedules by name prefix (docs/calendar.md)."""
    return statement("ListSchedulesByPrefix", (LIST_SCHEDULES_ACTION,), ["*"])


def ses_statement(
    ctx: AccountContext, from_email: str, configuration_set_arn: pulumi.Input[str] | None = None
) -> Statement:
    """Send from the configured identity, verified either as the address or as its domain;
    when the stack has a configuration set, SES also checks ``ses:SendEmail`` on that set."""
    domain = from_email.rsplit("@", 1)[1]
    resources: list[pulumi.Input[str]] = [
        ctx.arn("ses", f"identity/{from_email}"),
        ctx.arn("ses", f"identity/{domain}"),
    ]
    if configuration_set_arn is not None:
        resources.append(configuration_set_arn)
    return statement("SendFromConfiguredIdentity", ("ses:SendEmail",), resources)


def sqs_send_statement(sid: str, queue_arn: pulumi.Input[str]) -> Statement:
    return statement(sid, ("sqs:SendMessage",), [queue_arn])


def bedrock_statements(ctx: AccountContext, model: BedrockModel) -> list[Statement]:
    """Invoke exactly the brief writer's model (Converse needs ``bedrock:InvokeModel``).

    A foundation-model id: that model's ARN in the Bedrock Region. A cross-Region inference
    profile id: the profile's ARN, and the foundation model behind it in whichever Region the
    profile routes to (AWS does not say which: the Region is ``*``) but only when invoked through
    that profile (condition ``bedrock:InferenceProfileArn``)."""
    region: pulumi.Input[str] = model.region or ctx.region
    foundation = f"foundation-model/{model.foundation_model_id}"
    if model.profile_prefix is None:
        arn = pulumi.Output.concat("arn:", ctx.partition, ":bedrock:", region, "::", foundation)
        return [statement("InvokeBriefModel", (BEDROCK_INVOKE_ACTION,), [arn])]
    profile = pulumi.Output.concat(
        "arn:",
        ctx.partition,
        ":bedrock:",
        region,
        ":",
        ctx.account_id,
        f":inference-profile/{model.model_id}",
    )
    return [
        statement("InvokeBriefModelProfile", (BEDROCK_INVOKE_ACTION,), [profile]),
        statement(
            "InvokeBriefModelThroughProfile",
            (BEDROCK_INVOKE_ACTION,),
            [pulumi.Output.concat("arn:", ctx.partition, ":bedrock:*::", foundation)],
            {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
        ),
    ]
