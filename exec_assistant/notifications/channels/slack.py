"""Slack channel: ``chat.postMessage`` to the user's DM, with Block Kit and a text fallback.

Retries use slack_sdk's own handlers, bounded:

* ``RateLimitErrorRetryHandler`` — HTTP 429 (``ratelimited``), sleeping ``Retry-After`` — unless
  Slack asks for more than :data:`MAX_RETRY_AFTER_SECONDS`: then the next channel is quicker;
* ``ServerErrorRetryHandler`` — HTTP 500/503;
* ``ConnectionErrorRetryHandler`` restricted to ``urllib.error.URLError``. The client's
  transport (:mod:`exec_assistant.slack_http`, as slack_sdk's urllib one) raises ``URLError``
  only for failures while connecting, before the request is sent; once the request may have
  left, a missing answer surfaces as ``TimeoutError`` / ``RemoteDisconnected`` /
  ``ConnectionResetError``.
  The default handler also retries the latter two — a possible double post — so it is configured
  to retry ``URLError`` alone, and everything after the send is classified UNKNOWN here and never
  resent on Slack.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from exec_assistant.logs import register_secret
from exec_assistant.models import Channel, ErrorClass, User
from exec_assistant.notifications.rendering import slack_message
from exec_assistant.notifications.types import DeliveryError, PrepNotification

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.http_retry import RetryHandler

#: The longest ``Retry-After`` the channel waits for before giving up on Slack for this send.
MAX_RETRY_AFTER_SECONDS = 10

#: Slack error strings after which a retry (later, or by the SDK) may succeed.
TRANSIENT_ERRORS = frozenset({"ratelimited", "internal_error", "service_unavailable"})
#: Slack error strings that say the message was not posted and will not be: next channel.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "user_not_found",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "is_archived",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "cannot_dm_bot",
        "user_disabled",
        "restricted_action",
        "msg_too_long",
        "invalid_blocks",
        "invalid_arguments",
    }
)
#: Slack error strings after which the message may or may not have been posted.
UNKNOWN_ERRORS = frozenset({"fatal_error"})


def classify_slack_error(error: str, status: int) -> ErrorClass:
    """The class of a Slack Web API error (``error`` string, HTTP ``status``)."""
    if error in UNKNOWN_ERRORS:
        return ErrorClass.UNKNOWN
    if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
        return ErrorClass.TRANSIENT
    # Any other ``ok: false`` is Slack refusing the call: nothing was posted.
    return ErrorClass.PERMANENT


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None


def slack_retry_handlers(
    *, max_retries: int = 2, backoff_factor: float = 0.5
) -> list[RetryHandler]:
    """Bounded slack_sdk retry handlers that never resend a request that may have arrived."""
    from urllib.error import URLError

    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )
    from slack_sdk.http_retry.builtin_interval_calculators import (
        BackoffRetryIntervalCalculator,
    )
    from slack_sdk.http_retry.request import HttpRequest
    from slack_sdk.http_retry.response import HttpResponse
    from slack_sdk.http_retry.state import RetryState

    class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
        """Retries a 429 only when the ``Retry-After`` it asks for is short enough."""

        def _can_retry(
            self,
            *,
            state: RetryState,
            request: HttpRequest,
            response: HttpResponse | None = None,
            error: Exception | None = None,
        ) -> bool:
            if not super()._can_retry(state=state, request=request, response=response, error=error):
                return False
            wait = _retry_after(response.headers) if response is not None else None
            return wait is None or wait <= MAX_RETRY_AFTER_SECONDS

    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff_factor)
    return [
        ConnectionErrorRetryHandler(
            max_retry_count=max_retries, interval_calculator=interval, error_types=[URLError]
        ),
        BoundedRateLimitRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
    ]


class SlackChannel:
    """Posts the prep message to the user's DM (``channel=<Slack user id>``).

    The ``WebClient`` is created once and reused (warm Lambdas keep it), and so are its
    connections (:class:`exec_assistant.slack_http.PooledWebClient`, which raises the same
    errors as slack_sdk's urllib transport, classified below). Returns ``channel:ts``.
    """

    name = Channel.SLACK

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        timeout: int = 10,
        max_retries: int = 2,
        backoff_factor: float = 0.5,
    ) -> None:
        from exec_assistant.slack_http import PooledWebClient

        register_secret(token)
        self.client: WebClient = PooledWebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,
            retry_handlers=slack_retry_handlers(
                max_retries=max_retries, backoff_factor=backoff_factor
            ),
        )

    def skip_reason(self, user: User) -> str | None:
        return None if user.slack_user_id else "user has no Slack user id"

    def send(self, notification: PrepNotification) -> str:
        from slack_sdk.errors import SlackApiError

        user_id = notification.user.slack_user_id
        if not user_id:
            raise DeliveryError(ErrorClass.PERMANENT, "no_slack_user_id", "user has no Slack id")
        message = slack_message(notification)
        try:
            response = self.client.chat_postMessage(
                channel=user_id,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise _api_error(exc.response) from exc
        except Exception as exc:
            raise _transport_error(exc) from exc
        return f"{response['channel']}:{response['ts']}"

    def update(self, provider_id: str, *, text: str, blocks: list[dict[str, Any]]) -> None:
        """``chat.update`` of a message this channel sent (``provider_id`` = ``channel:ts``)."""
        from slack_sdk.errors import SlackApiError

        channel, _, ts = provider_id.partition(":")
        if not channel or not ts:
            raise DeliveryError(ErrorClass.PERMANENT, "bad_provider_id", "not a Slack channel:ts")
        try:
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as exc:
            raise _api_error(exc.response) from exc
        except Exception as exc:
            raise _transport_error(exc) from exc


def _api_error(response: Any) -> DeliveryError:
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    error = str(data.get("error") or "") if isinstance(data, dict) else ""
    code = f"http_{status}" if status >= 500 or not error else error
    return DeliveryError(
        classify_slack_error(error, status), code, f"Slack answered HTTP {status} {error}".strip()
    )


def _transport_error(exc: Exception) -> DeliveryError:
    """Classify a failure without a Slack answer (see the module docstring)."""
    from urllib.error import URLError

    if isinstance(exc, URLError):  # raised before the request was fully sent
        return DeliveryError(
            ErrorClass.TRANSIENT, "connection_error", f"could not reach Slack: {exc.reason}"
        )
    if isinstance(exc, TimeoutError):
        return DeliveryError(ErrorClass.UNKNOWN, "timeout", "no answer from Slack in time")
    if isinstance(exc, OSError | http.client.HTTPException):
        return DeliveryError(
            ErrorClass.UNKNOWN, "connection_lost", f"connection lost after sending: {exc!r}"
        )
    return DeliveryError(ErrorClass.UNKNOWN, "client_error", f"{type(exc).__name__}")
