"""Every Slack HTTP request, from any door (the Lambda handler, the local server), passes here.

Order, and why: Bolt parses the body (JSON, form, ``payload=``) when it builds its request,
before any middleware, so garbage raises before Bolt's or our guard's signature check could run.
Here the signature is checked first, on the bytes as received, and nothing parses the body of a
request that fails it.

* not a POST → 405 (``Allow: POST``);
* not signed with an accepted secret (or undecodable: invalid base64, not UTF-8 — Slack signs
  UTF-8 only), timestamp outside the 5-minute window → **401** ``{"error": "invalid request"}``;
* signed, but not a Slack request at all (not a JSON object / form, no ``type`` or
  ``command``) → **400** ``{"error": "not a Slack request"}``;
* signed, Slack-shaped, but malformed where Bolt or a listener looks (``"actions": "x"``,
  ``"event": null``, …), or no listener for it → **200**, nothing done;
* otherwise Bolt's answer.

Never a 5xx for anything a client sends: Slack retries 5xx and eventually disables the app's
event subscriptions. Each refusal or drop leaves one WARNING line, without the body or the
signature. Listeners then read what they use through
:mod:`exec_assistant.interfaces.slack_payloads`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from exec_assistant.interfaces.slack_guard import SignatureCheck, log_refusal
from exec_assistant.interfaces.slack_payloads import envelope_problems
from exec_assistant.interfaces.web import MAX_BODY_BYTES, HttpReply, HttpRequest
from exec_assistant.logs import log_event

if TYPE_CHECKING:
    from slack_bolt import App

logger = logging.getLogger(__name__)

INVALID = HttpReply.error(401, "invalid request")
NOT_SLACK = HttpReply.error(400, "not a Slack request")
NOT_ALLOWED = HttpReply.error(405, "method not allowed", allow="POST")
TOO_LARGE = HttpReply.error(413, "request too large")
IGNORED = HttpReply(200)


def _slack_shaped(body: Any) -> bool:
    """What every Slack request body has: a JSON object with ``type`` (events, interactions,
    url_verification) or ``command`` (slash commands), or an ``ssl_check``."""
    if not isinstance(body, dict):
        return False
    return any(isinstance(body.get(key), str) and body[key] for key in ("type", "command")) or (
        body.get("ssl_check") == "1"
    )


def _dropped(reason: str, status: int, exc: BaseException | None = None, **extra: object) -> None:
    fields: dict[str, Any] = {"reason": reason, "status": status, **extra}
    if exc is not None:  # the exception's type only: its message may quote the body
        fields["error"] = type(exc).__name__
    log_event(logger, logging.WARNING, "slack.request.dropped", **fields)


class SlackIngress:
    """The Bolt app behind the raw-bytes signature check (see the module docstring)."""

    def __init__(self, app: App, signature: SignatureCheck) -> None:
        self.app = app
        self.signature = signature

    def handle(
        self, method: str, raw_body: bytes | None, headers: Mapping[str, str], query: str = ""
    ) -> HttpReply:
        """``raw_body=None``: the door could not decode the body (e.g. invalid base64).
        ``headers``: lower-case names."""
        if method.upper() != "POST":
            return NOT_ALLOWED
        if raw_body is not None and len(raw_body) > MAX_BODY_BYTES:
            return TOO_LARGE
        text = _utf8(raw_body)
        if text is None or not self.signature.valid(
            text, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
        ):
            log_refusal(door="http")
            return INVALID
        return self._dispatch(text, headers, query)

    def serve(self, request: HttpRequest) -> HttpReply:
        """As a :class:`~exec_assistant.interfaces.web.Router` handler."""
        return self.handle(request.method, request.body, request.headers, request.query)

    def _dispatch(self, text: str, headers: Mapping[str, str], query: str) -> HttpReply:
        from slack_bolt import BoltRequest

        try:
            request = BoltRequest(body=text, query=query, headers=dict(headers))
        except Exception as exc:  # noqa: BLE001 - a signed body Bolt cannot parse: bad input
            _dropped("unparseable body", 400, exc)
            return NOT_SLACK
        if not _slack_shaped(request.body):
            _dropped("not a Slack request", 400)
            return NOT_SLACK
        problems = envelope_problems(request.body)
        if problems:  # Bolt's own matchers would index these and fail
            _dropped("malformed payload", 200, fields=problems)
            return IGNORED
        try:
            response = self.app.dispatch(request)
        except Exception as exc:  # noqa: BLE001 - a malformed payload Bolt's matchers tripped on
            _dropped("malformed payload", 200, exc)
            return IGNORED
        if response.status == 404:  # Bolt's "unhandled request": nothing here listens for it
            _dropped("no listener", 200)
            return IGNORED
        if response.status >= 500:
            log_event(logger, logging.ERROR, "slack.request.failed", status=response.status)
            return IGNORED
        return HttpReply(response.status, response.body, dict(response.first_headers()))


def _utf8(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
