"""Environments for the subprocesses: a clean copy of ours plus the settings of one scenario.

Variables that configure the package or the SDKs (``SLACK_``, ``TWILIO_``, ``SES_``, ``AWS_``,
``EXEC_ASSISTANT_``) are dropped from the inherited environment first, as the test suite does,
so a developer's own settings cannot change a figure.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.slack.harness import SECRET

ROOT = Path(__file__).resolve().parent.parent
BOT_TOKEN = "xoxb-bench-0000-exec-assistant"
SIGNING_SECRET = SECRET
#: A loopback port nothing listens on: an unexpected AWS call fails at once, on this machine.
NOWHERE = "http://127.0.0.1:9"
ACCOUNT = "123456789012"
REGION = "us-east-1"
_DROPPED = ("SLACK_", "TWILIO_", "SES_", "AWS_", "EXEC_ASSISTANT_", "PYTHON", "_HANDLER")
#: Lambda's ``_HANDLER`` of each benchmarked function (infra/lambdas.py).
HANDLERS = {
    "slack-bot": "exec_assistant.interfaces.slack_bot.lambda_handler",
    "prep-trigger": "exec_assistant.workflows.prep_trigger_handler.lambda_handler",
}


def clean() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_DROPPED)}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONHASHSEED"] = "0"
    return env


def _aws() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": NOWHERE,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def lambda_env(function: str, *, secret_arns: bool = False) -> dict[str, str]:
    """What the deployed function sees (infra/lambdas.py), with no AWS reachable.

    ``secret_arns=False`` gives the secrets as values (no Secrets Manager); ``True`` as ARNs,
    exactly as the stack passes them.
    """
    env = clean() | _aws()
    env |= {
        "AWS_LAMBDA_FUNCTION_NAME": f"exec-assistant-{function}-bench",
        "ENVIRONMENT": "bench",
        "EXEC_ASSISTANT_STORE": "dynamodb",
        "EVENT_BUS_NAME": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/exec-assistant-bench",
        "SCHEDULER_GROUP_NAME": "exec-assistant-bench",
        "SCHEDULER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/exec-assistant-scheduler-bench",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",  # as infra/stack.py sets it on every function
        "_HANDLER": HANDLERS[function],  # as Lambda sets it (exec_assistant.coldstart reads it)
    }
    if function == "prep-trigger":  # the only function that sends email (infra/lambdas.py)
        env["SES_FROM_EMAIL"] = "prep@example.com"
    secrets = {
        "slack-bot": {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET},
        "prep-trigger": {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
            "TWILIO_AUTH_TOKEN": "bench-twilio-token",
            "TWILIO_FROM_NUMBER": "+14155550100",
        },
    }[function]
    for name, value in secrets.items():
        if secret_arns:
            arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name.lower()}-AbCdEf"
            env[f"{name}_SECRET_ARN"] = arn
        else:
            env[name] = value
    return env


def embedded_env(db: Path, slack_url: str, runtime_api: str) -> dict[str, str]:
    """The embedded default (SQLite file, local bus and scheduler) with Slack on the fake, and
    the Lambda Extensions API on its fake (the Slack bot's post-response extension registers
    there, as on Lambda)."""
    return (
        clean()
        | _aws()
        | {
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            # the extension registers only in a process whose Lambda entry point is the bot's
            "_HANDLER": HANDLERS["slack-bot"],
            "EXEC_ASSISTANT_STORE": f"sqlite:///{db}",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_url,
        }
    )


def python() -> str:
    return sys.executable


def serve_env(db: Path, slack_url: str) -> dict[str, str]:
    """``exec-assistant serve`` on the embedded default, Slack on the fake; not on Lambda."""
    return (
        clean()
        | _aws()
        | {
            "EXEC_ASSISTANT_STORE": f"sqlite:///{db}",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_url,
        }
    )
