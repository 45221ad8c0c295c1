"""The Bolt middleware every Slack request passes before anything else runs.

It replaces Bolt's built-in ``RequestVerification`` (the app is built with
``request_verification_enabled=False`` and this guard as ``before_authorize``, which puts it in
exactly the same place of the chain: after the SSL check, before authorization, url_verification
and every listener). Differences from Bolt's: it accepts each secret of a
:class:`~exec_assistant.interfaces.signing_secrets.SigningSecretSource` (the previous one inside
the rotation grace window), it uses the injected clock for the 5-minute replay window, a
malformed timestamp is a refusal rather than a crash, and a refusal is logged without the
signature or the body.

Refusals are Bolt's: HTTP 401 ``{"error": "invalid request"}``, and no listener runs.

The HTTP doors (Lambda handler, local server) check the same signature once more *before* Bolt
parses the body (:mod:`exec_assistant.interfaces.slack_ingress`, with :class:`SignatureCheck`);
this guard is what protects the app when it is served some other way.

Workspace check: with ``SLACK_TEAM_ID`` set, a correctly signed request from another workspace is
acknowledged with 200 and ignored (no listener runs). Not 401: Slack counts non-2xx answers to
event deliveries as failures, retries them and eventually disables the app's event
subscriptions, which would punish the real workspace for someone else's install. A slash command
from another workspace gets a one-line explanation instead of an empty answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import Clock as SdkClock
from slack_sdk.signature import SignatureVerifier

from exec_assistant import metrics
from exec_assistant.interfaces.signing_secrets import SigningSecretSource
from exec_assistant.logs import log_event

logger = logging.getLogger(__name__)

FOREIGN_TEAM_TEXT = "exec-assistant is not set up for this workspace."


class _InjectedClock(SdkClock):
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock().timestamp()


def _header(req: BoltRequest, name: str) -> str | None:
    values = req.headers.get(name)
    return values[0] if values else None


class SignatureCheck:
    """Slack's request signature (``v0=HMAC-SHA256(v0:{timestamp}:{body})``, 5-minute window),
    checked against every accepted secret with slack_sdk's :class:`SignatureVerifier`.

    ``secrets=None`` (Socket Mode without a signing secret) accepts nothing.
    """

    def __init__(
        self,
        secrets: SigningSecretSource | None,
        *,
        grace: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._secrets = secrets
        self._grace = grace
        self._clock = clock
        self._sdk_clock = _InjectedClock(clock)

    def valid(self, body: str, timestamp: str | None, signature: str | None) -> bool:
        if self._secrets is None or not timestamp or not signature or not timestamp.isdigit():
            return False
        for secret in self._secrets.load().accepted(self._clock(), self._grace):
            verifier = SignatureVerifier(secret, clock=self._sdk_clock)
            if verifier.is_valid(body, timestamp, signature):
                return True
        return False


def log_refusal(**fields: object) -> None:
    """The one line a refused request leaves (never its signature or body)."""
    log_event(
        logger, logging.WARNING, "slack.request.refused", reason="invalid signature", **fields
    )
    metrics.emit(metrics.Metric.SLACK_REQUEST_REFUSED, reason="invalid signature")


class SlackRequestGuard(Middleware):
    """Signature check (a :class:`SignatureCheck`), then the workspace check."""

    def __init__(self, signature: SignatureCheck, *, team_id: str | None = None) -> None:
        self.signature = signature
        self._team_id = team_id

    def process(
        self,
        *,
        req: BoltRequest,
        resp: BoltResponse,
        next: Callable[[], BoltResponse],
    ) -> BoltResponse | None:
        if req.mode != "socket_mode" and not self.signature.valid(
            req.raw_body,
            _header(req, "x-slack-request-timestamp"),
            _header(req, "x-slack-signature"),
        ):
            log_refusal(lazy_only=req.lazy_only)
            return BoltResponse(status=401, body={"error": "invalid request"})
        team_id = req.context.team_id
        if self._team_id and team_id and team_id != self._team_id:
            log_event(logger, logging.WARNING, "slack.request.foreign_team", team_id=team_id)
            return BoltResponse(status=200, body=FOREIGN_TEAM_TEXT if "command" in req.body else "")
        retry_num = _header(req, "x-slack-retry-num")
        if retry_num is not None and not req.lazy_only:
            log_event(
                logger,
                logging.INFO,
                "slack.request.retry",
                retry_num=retry_num,
                retry_reason=_header(req, "x-slack-retry-reason"),
            )
        return next()
