"""Least privilege: every statement of every function policy, its actions and its resources."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import ACCOUNT, REGION, Deployment

P = f"{REGION}:{ACCOUNT}"
TABLES = ("users", "meetings", "chat-sessions", "notifications", "feeds")
DYNAMODB = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
]
SECRETS = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:ListSecretVersionIds",
]


def table_resources(env: str) -> list[str]:
    resources = []
    for table in TABLES:
        arn = f"arn:aws:dynamodb:{P}:table/exec-assistant-{table}-{env}"
        resources += [arn, f"{arn}/index/*"]
    return resources


def secret_arn(name: str, env: str) -> str:
    return f"arn:aws:secretsmanager:{P}:secret:exec-assistant-{name}-{env}-AbCdEf"


def logs(component: str, env: str) -> dict[str, Any]:
    return {
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [f"arn:aws:logs:{P}:log-group:/aws/lambda/exec-assistant-{component}-{env}:*"],
    }


def scheduler(env: str) -> dict[str, dict[str, Any]]:
    return {
        "ManageStackSchedules": {
            "Action": [
                "scheduler:CreateSchedule",
                "scheduler:DeleteSchedule",
                "scheduler:GetSchedule",
                "scheduler:UpdateSchedule",
            ],
            "Resource": [f"arn:aws:scheduler:{P}:schedule/exec-assistant-reminders-{env}/*"],
        },
        "PassSchedulerRole": {
            "Action": ["iam:PassRole"],
            "Resource": [f"arn:aws:iam::{ACCOUNT}:role/exec-assistant-scheduler-role-{env}"],
            "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        },
    }


#: The one statement on "*": ListSchedules has no resource-level permission; the calendar monitor
#: finds a moved meeting's pending schedules by name prefix with it (docs/calendar.md).
LIST_SCHEDULES = {
    "ListSchedulesByPrefix": {"Action": ["scheduler:ListSchedules"], "Resource": ["*"]}
}


def expected(scenario: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Sid → {Action, Resource[, Condition]} per function, for each test scenario."""
    env = "prod" if scenario == "prod" else "dev"
    enabled = scenario != "disabled"
    full = scenario != "prod"  # dev and disabled configure Twilio and SES
    tables = {"Action": DYNAMODB, "Resource": table_resources(env)}
    schedules = scheduler(env) if enabled else {}
    slack = {
        "WriteOwnLogs": logs("slack-bot", env),
        "StackTables": tables,
        "ReadStackSecrets": {
            "Action": SECRETS,
            "Resource": [
                secret_arn("slack-bot-token", env),
                secret_arn("slack-signing-secret", env),
            ],
        },
        **schedules,
        "PostResponseFailuresToDlq": {
            "Action": ["sqs:SendMessage"],
            "Resource": [f"arn:aws:sqs:{P}:exec-assistant-slack-post-response-dlq-{env}"],
        },
    }
    monitor = {
        "WriteOwnLogs": logs("calendar-monitor", env),
        "StackTables": tables,
        "ReadStackSecrets": {"Action": SECRETS, "Resource": [secret_arn("slack-bot-token", env)]},
        "PublishToStackBus": {
            "Action": ["events:PutEvents"],
            "Resource": [f"arn:aws:events:{P}:event-bus/exec-assistant-bus-{env}"],
        },
        **schedules,
        **(LIST_SCHEDULES if enabled else {}),
    }
    result = {"slack-bot": slack, "calendar-monitor": monitor}
    if enabled:
        trigger_secrets = ["slack-bot-token"]
        if full:
            trigger_secrets += [
                "twilio-account-sid",
                "twilio-auth-token",
                "twilio-from-number",
                "action-link-secret",
            ]

        trigger: dict[str, dict[str, Any]] = {
            "WriteOwnLogs": logs("prep-trigger", env),
            "StackTables": tables,
            "ReadStackSecrets": {
                "Action": SECRETS,
                "Resource": [secret_arn(name, env) for name in trigger_secrets],
            },
            **schedules,
        }
        if full:
            trigger["SendFromConfiguredIdentity"] = {
                "Action": ["ses:SendEmail"],
                "Resource": [
                    f"arn:aws:ses:{P}:identity/assistant@example.com",
                    f"arn:aws:ses:{P}:identity/example.com",
                    f"arn:aws:ses:{P}:configuration-set/exec-assistant-email-{env}",
                ],
            }
        result["prep-trigger"] = {
            **trigger,
            "AsyncFailuresToDlq": {
                "Action": ["sqs:SendMessage"],
                "Resource": [f"arn:aws:sqs:{P}:exec-assistant-prep-dlq-{env}"],
            },
        }
        publish = {
            "Action": ["events:PutEvents"],
            "Resource": [f"arn:aws:events:{P}:event-bus/exec-assistant-bus-{env}"],
        }
        webhook_secrets = ["slack-bot-token"]
        if full:
            webhook_secrets += ["twilio-auth-token", "action-link-secret"]
        result["webhooks"] = {
            "WriteOwnLogs": logs("webhooks", env),
            "StackTables": tables,
            "ReadStackSecrets": {
                "Action": SECRETS,
                "Resource": [secret_arn(name, env) for name in webhook_secrets],
            },
            **schedules,
            "PublishToStackBus": publish,  # a failed SMS receipt's follow-up cycle
        }
        if full:
            result["email-events"] = {
                "WriteOwnLogs": logs("email-events", env),
                "StackTables": tables,
                "PublishToStackBus": publish,  # a bounce's follow-up cycle
                "AsyncFailuresToDlq": {
                    "Action": ["sqs:SendMessage"],
                    "Resource": [f"arn:aws:sqs:{P}:exec-assistant-email-events-dlq-{env}"],
                },
            }
        result["digest"] = {
            "WriteOwnLogs": logs("digest", env),
            "StackTables": tables,
            "ReadStackSecrets": {
                "Action": SECRETS,
                "Resource": [secret_arn("slack-bot-token", env)],
            },
        }
    return result


def _without_effect(statement: dict[str, Any]) -> dict[str, Any]:
    assert statement["Effect"] == "Allow"
    return {k: v for k, v in statement.items() if k not in ("Sid", "Effect")}


@pytest.mark.parametrize("scenario", ["dev", "prod", "disabled"])
def test_each_function_policy_is_exactly_what_it_needs(scenario: str) -> None:
    from tests.infra.conftest import deployment

    deployed = deployment(scenario)
    want = expected(scenario)
    policies = {r["name"] for r in deployed.of_type("aws:iam/rolePolicy:RolePolicy")} - {
        f"exec-assistant-scheduler-policy-{deployed.env}"
    }
    assert policies == {f"exec-assistant-{c}-policy-{deployed.env}" for c in want}
    for component, statements in want.items():
        got = {sid: _without_effect(s) for sid, s in deployed.statements(component).items()}
        assert got == statements, component


def test_no_wildcard_resources_or_actions_anywhere(any_deployment: Deployment) -> None:
    documents = [r.policy() for r in any_deployment.of_type("aws:iam/rolePolicy:RolePolicy")]
    documents += [r.policy() for r in any_deployment.of_type("aws:sqs/queuePolicy:QueuePolicy")]
    assert documents
    for document in documents:
        for statement in document["Statement"]:
            resources = statement["Resource"]
            if statement["Action"] == ["scheduler:ListSchedules"]:
                assert resources == ["*"]  # no resource-level permission exists for it
                continue
            for resource in resources if isinstance(resources, list) else [resources]:
                assert resource != "*"
                assert resource.startswith("arn:aws:")
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                assert "*" not in action


def test_each_policy_is_attached_to_its_own_role(any_deployment: Deployment) -> None:
    roles = {r.id: r["name"] for r in any_deployment.of_type("aws:iam/role:Role")}
    for policy in any_deployment.of_type("aws:iam/rolePolicy:RolePolicy"):
        role_name = roles[policy["role"]]
        assert role_name == policy["name"].replace("-policy-", "-role-")


@pytest.mark.parametrize(
    "component", ["slack-bot", "calendar-monitor", "prep-trigger", "webhooks", "email-events"]
)
def test_function_roles_trust_only_lambda(dev: Deployment, component: str) -> None:
    (trust,) = dev.role(component).policy()["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
