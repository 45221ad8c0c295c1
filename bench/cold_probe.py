"""One cold start in this fresh interpreter: ``python -m bench.cold_probe TARGET``.

A cold start is *import the handler module and serve one request*, timed from inside (the
interpreter's own start-up is left out for every target alike). Only the standard library is
imported before the clock starts; the request is prepared before it too.

Targets, each against the fair floor of issue 16 (no project code, no pydantic model):

* ``slack_bot`` — the handler answers a signed ``url_verification`` (API Gateway v2 event);
  ``slack_floor`` — a bare Bolt ``App`` + ``SlackRequestHandler`` answering the same request.
* ``prep_trigger`` — the handler gets a ``MeetingPrepRequired`` for a meeting the store does not
  have: it builds its runtime and reads the meeting (one DynamoDB ``GetItem``), then skips;
  ``trigger_floor`` — a bare boto3 DynamoDB client making the same ``GetItem`` and a slack_sdk
  ``WebClient``.
* ``create_tables`` — not timed: the harness's DynamoDB (moto server) gets the stack's tables.

Prints one JSON line: ``init_s``, the top-level packages loaded, every network attempt (an audit
hook on ``socket.connect`` / ``socket.getaddrinfo``), what the request answered, and ``error`` if
it raised.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from typing import Any

network: list[str] = []


class Context:
    """What a Lambda context offers the handlers."""

    function_name = "exec-assistant-bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:exec-assistant-bench"
    aws_request_id = "cold-probe"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


CONTEXT = Context()
CHALLENGE = "cold-probe-challenge"
UNKNOWN_MEETING = "mtg-cold-probe-unknown"


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        network.append(f"connect {args[1]!r}")
    elif event == "socket.getaddrinfo":
        network.append(f"getaddrinfo {args[0]!r}:{args[1]!r}")


def url_verification() -> dict[str, Any]:
    """A signed Slack ``url_verification`` as API Gateway (HTTP API v2) delivers it."""
    body = json.dumps({"token": "t", "challenge": CHALLENGE, "type": "url_verification"})
    timestamp = str(int(time.time()))
    secret = os.environ["BENCH_SIGNING_SECRET"].encode()  # as the harness configured it
    digest = hmac.new(secret, f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "version": "2.0",
        "rawPath": "/slack/webhook",
        "headers": {
            "content-type": "application/json",
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": f"v0={digest}",
        },
        "requestContext": {"http": {"method": "POST", "path": "/slack/webhook"}},
        "body": body,
        "isBase64Encoded": False,
    }


def prep_required() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "cold-probe-event",
        "detail-type": "MeetingPrepRequired",
        "source": "exec-assistant.calendar-monitor",
        "time": "2026-11-24T14:00:00Z",
        "detail": {"meeting_id": UNKNOWN_MEETING, "user_id": "usr-cold-probe"},
    }


def meetings_table() -> str:
    return f"exec-assistant-meetings-{os.environ['ENVIRONMENT']}"


def slack_bot(event: dict[str, Any]) -> Any:
    from exec_assistant.interfaces import slack_bot

    return slack_bot.lambda_handler(event, CONTEXT)["body"]


def slack_floor(event: dict[str, Any]) -> Any:
    from slack_bolt import App
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler

    app = App(
        token=os.environ["SLACK_BOT_TOKEN"],
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        token_verification_enabled=False,
        process_before_response=True,
    )
    return SlackRequestHandler(app).handle(event, CONTEXT)["body"]  # type: ignore[no-untyped-call]


def prep_trigger(event: dict[str, Any]) -> Any:
    from exec_assistant.workflows import prep_trigger_handler

    return prep_trigger_handler.lambda_handler(event, CONTEXT)["action"]


def trigger_floor(event: dict[str, Any]) -> Any:
    import boto3
    from botocore.config import Config
    from slack_sdk import WebClient

    dynamodb = boto3.session.Session().client(
        "dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 3})
    )
    WebClient(token=os.environ["SLACK_BOT_TOKEN"])
    item = dynamodb.get_item(
        TableName=meetings_table(),
        Key={"meeting_id": {"S": event["detail"]["meeting_id"]}},
        ConsistentRead=True,
    )
    return "skipped" if "Item" not in item else "found"


def create_tables(event: dict[str, Any]) -> Any:
    from exec_assistant.config import Settings
    from exec_assistant.store.dynamodb import DynamoDBStore

    DynamoDBStore.from_settings(Settings()).create_tables()
    return "created"


TARGETS = {
    "slack_bot": (slack_bot, url_verification),
    "slack_floor": (slack_floor, url_verification),
    "prep_trigger": (prep_trigger, prep_required),
    "trigger_floor": (trigger_floor, prep_required),
    "create_tables": (create_tables, prep_required),
}


def main() -> None:
    target, request = TARGETS[sys.argv[1]]
    event = request()
    before = set(sys.modules)
    sys.addaudithook(_audit)
    error = answer = None
    start = time.perf_counter()
    try:
        answer = target(event)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - start
    loaded = sorted({name.split(".")[0] for name in set(sys.modules) - before})
    print(
        json.dumps(
            {
                "init_s": elapsed,
                "packages": loaded,
                "network": network,
                "answer": answer,
                "error": error,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
