"""Requests exactly as Slack sends them, and the two ways they reach the app in these tests.

* :class:`Payloads` builds the bodies: form-encoded slash commands, ``payload=``-encoded
  ``block_actions``, JSON event callbacks and ``url_verification``.
* :class:`LambdaTransport` wraps a body in an API Gateway event (HTTP API v2 or REST v1), signs it,
  and calls :func:`exec_assistant.interfaces.slack_bot.lambda_handler`; without the Lambda
  Extensions API the lazy work has run when it returns (``test_after_response`` covers the
  extension).
* :class:`HttpTransport` POSTs to the local server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Literal
from urllib.parse import urlencode

from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, TEAM_ID, FakeSlackAPI, dm_channel_for
from tests.slack.signing import signed_headers

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
OWNER_SLACK_ID = "U0EXEC001"
OTHER_SLACK_ID = "U0OTHER02"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APP_ID = "A0EXECAPP"


@dataclass(frozen=True)
class Body:
    text: str
    content_type: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


class Payloads:
    """Request bodies in Slack's shapes (fields as Slack documents and sends them)."""

    def __init__(self, response_url: str, team_id: str = TEAM_ID) -> None:
        self.response_url = response_url
        self.team_id = team_id
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def _user(self, user: str) -> dict[str, str]:
        """The ``user`` of an interaction payload."""
        return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": self.team_id}

    def command(
        self, text: str = "", *, user: str = OWNER_SLACK_ID, team: str | None = None
    ) -> Body:
        n = self._next()
        fields = {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": team or self.team_id,
            "team_domain": "fake-workspace",
            "channel_id": "C0GENERAL1",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/meetings",
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": f"{self.response_url}/commands/{n}",
            "trigger_id": f"1335.{n}.a1b2c3",
        }
        return Body(urlencode(fields), FORM)

    def block_action(
        self,
        action_id: str,
        *,
        value: str | None = None,
        selected: str | None = None,
        user: str = OWNER_SLACK_ID,
        channel: str | None = None,
        message_ts: str = "1700000001.000001",
        container: Literal["message", "ephemeral", "view"] = "message",
        action_ts: str | None = None,
        block_id: str = "prep_actions",
        message: dict[str, Any] | None = None,
    ) -> Body:
        """``message``: fields of the clicked message as Slack sends them (``text``,
        ``blocks``), merged into the payload's ``message``."""
        n = self._next()
        channel = channel or dm_channel_for(OWNER_SLACK_ID)
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": action_ts or f"1700000100.{n:06d}",
        }
        if selected is not None:
            action |= {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": "…"}, "value": selected},
            }
        else:
            action |= {
                "type": "button",
                "text": {"type": "plain_text", "text": "Start Prep", "emoji": True},
                "value": value,
            }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "trigger_id": f"1336.{n}.d4e5f6",
            "team": {"id": self.team_id, "domain": "fake-workspace"},
            "enterprise": None,
            "is_enterprise_install": False,
            "state": {"values": {}},
            "actions": [action],
        }
        if container == "view":
            payload["container"] = {"type": "view", "view_id": "V0FAKE0001"}
            payload["view"] = {"id": "V0FAKE0001", "type": "home", "blocks": []}
        else:
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": container == "ephemeral",
            }
            payload["channel"] = {"id": channel, "name": "directmessage"}
            payload["response_url"] = f"{self.response_url}/actions/{n}"
            if container == "message":
                payload["message"] = {
                    "type": "message",
                    "user": BOT_USER_ID,
                    "ts": message_ts,
                    "text": "…",
                    **(message or {}),
                }
        return Body(urlencode({"payload": json.dumps(payload)}), FORM)

    def view_submission(
        self, callback_id: str, values: dict[str, Any], *, user: str = OWNER_SLACK_ID
    ) -> Body:
        """A modal's submission; ``values`` is ``view.state.values`` (block → action → value)."""
        n = self._next()
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": "fake-workspace"},
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "trigger_id": f"1337.{n}.g7h8i9",
            "view": {
                "id": "V0MODAL001",
                "team_id": self.team_id,
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": "",
                "title": {"type": "plain_text", "text": "Your settings"},
                "blocks": [],
                "state": {"values": values},
                "hash": f"1700000400.{n:08d}",
                "app_id": APP_ID,
                "bot_id": BOT_ID,
            },
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return Body(urlencode({"payload": json.dumps(payload)}), FORM)

    def event(
        self, event: dict[str, Any], *, team: str | None = None, event_id: str | None = None
    ) -> Body:
        n = self._next()
        envelope = {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": team or self.team_id,
            "context_team_id": team or self.team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev0{n:08d}",
            "event_time": 1700000000 + n,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team or self.team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJ{n}",
        }
        return Body(json.dumps(envelope), JSON)

    def dm(
        self, text: str, *, user: str = OWNER_SLACK_ID, ts: str | None = None, **extra: Any
    ) -> Body:
        n = self._next()
        event = {
            "type": "message",
            "channel": dm_channel_for(user),
            "user": user,
            "text": text,
            "ts": ts or f"1700000200.{n:06d}",
            "event_ts": ts or f"1700000200.{n:06d}",
            "channel_type": "im",
            "client_msg_id": f"9b1e4c6a-0000-4000-8000-{n:012d}",
            "team": self.team_id,
        }
        event.update(extra)
        return self.event(event)

    def home_opened(self, *, user: str = OWNER_SLACK_ID, tab: str = "home") -> Body:
        return self.event(
            {
                "type": "app_home_opened",
                "user": user,
                "channel": dm_channel_for(user),
                "tab": tab,
                "event_ts": "1700000300.000100",
            }
        )

    @staticmethod
    def url_verification(challenge: str) -> Body:
        return Body(
            json.dumps(
                {
                    "token": "gIkuvaNzQIHg97ATvDxqgjtO",
                    "challenge": challenge,
                    "type": "url_verification",
                }
            ),
            JSON,
        )


LAMBDA_CONTEXT = SimpleNamespace(
    function_name="exec-assistant-slack-bot-test",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:exec-assistant-slack-bot-test",
    aws_request_id="c6af9ac6-7b61-11e6-9a41-93e812345678",
)


@dataclass
class Signing:
    """How to sign: which secret, which timestamp (default: the test clock's now)."""

    clock: Callable[[], datetime]
    secret: str = SECRET

    def headers(
        self,
        body: Body,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        retry_num: int | None = None,
        unsigned: bool = False,
    ) -> dict[str, str]:
        ts = timestamp if timestamp is not None else int(self.clock().timestamp())
        headers = signed_headers(
            secret or self.secret, ts, body.text, content_type=body.content_type
        )
        if unsigned:
            del headers["X-Slack-Signature"]
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return headers


def v2_event(body: Body, headers: dict[str, str], *, b64: bool = False) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event; its header names are lower case."""
    text = base64.b64encode(body.text.encode()).decode() if b64 else body.text
    return {
        "version": "2.0",
        "routeKey": "POST /slack/webhook",
        "rawPath": "/slack/webhook",
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()}
        | {"content-length": str(len(body.text))},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": "POST",
                "path": "/slack/webhook",
                "protocol": "HTTP/1.1",
                "sourceIp": "54.209.100.10",
                "userAgent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "POST /slack/webhook",
            "stage": "$default",
            "time": "02/Mar/2026:09:00:00 +0000",
            "timeEpoch": 1772442000000,
        },
        "body": text,
        "isBase64Encoded": b64,
    }


def v1_event(
    body: Body, headers: dict[str, str], *, b64: bool = False, omit_b64_flag: bool = False
) -> dict[str, Any]:
    """An API Gateway REST API proxy (payload format 1.0) event, headers as the client sent them."""
    text = base64.b64encode(body.text.encode()).decode() if b64 else body.text
    event: dict[str, Any] = {
        "resource": "/slack/webhook",
        "path": "/slack/webhook",
        "httpMethod": "POST",
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/slack/webhook",
            "httpMethod": "POST",
            "path": "/prod/slack/webhook",
            "accountId": "123456789012",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "54.209.100.10", "userAgent": "Slackbot 1.0"},
        },
        "body": text,
        "isBase64Encoded": b64,
    }
    if omit_b64_flag:
        del event["isBase64Encoded"]
    return event


class LambdaTransport:
    """Deliver signed bodies through ``lambda_handler``. Off Lambda (no Extensions API) the lazy
    work a request queued has run when the handler returns."""

    def __init__(self, signing: Signing) -> None:
        self.signing = signing
        self.version: Literal["v1", "v2"] = "v2"

    def send(self, body: Body, *, b64: bool = False, **sign: Any) -> Reply:
        headers = self.signing.headers(body, **sign)
        event = (
            v2_event(body, headers, b64=b64)
            if self.version == "v2"
            else v1_event(body, headers, b64=b64)
        )
        return self.deliver(event)

    def deliver(self, event: dict[str, Any]) -> Reply:
        from exec_assistant.interfaces.slack_bot import lambda_handler

        raw = lambda_handler(event, LAMBDA_CONTEXT)
        return Reply(int(raw["statusCode"]), str(raw["body"]), dict(raw.get("headers") or {}))


def blocks_of(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``blocks`` of a Web API call's parameters (a JSON string in a form body)."""
    blocks = params.get("blocks") or []
    return list(json.loads(blocks) if isinstance(blocks, str) else blocks)


def responded(fake_slack: FakeSlackAPI) -> dict[str, Any]:
    """The last message posted to a command's ``response_url`` (how ``/meetings`` answers):
    ``.../response/commands/N`` reaches the fake as method ``N``."""
    return [c for c in fake_slack.calls if c.method.isdigit()][-1].params


class HttpTransport:
    """POST signed bodies to the local server (lazy work runs in its threads)."""

    def __init__(self, signing: Signing, url: str) -> None:
        self.signing = signing
        self.url = url

    def send(self, body: Body, **sign: Any) -> Reply:
        headers = self.signing.headers(body, **sign)
        request = urllib.request.Request(
            self.url, data=body.text.encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Reply(response.status, response.read().decode(), dict(response.headers))
        except urllib.error.HTTPError as err:
            return Reply(err.code, err.read().decode(), dict(err.headers))


def wait_for(condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Poll until ``condition()`` holds (bounded; for work done in background threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
