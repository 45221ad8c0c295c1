"""Slack channel: ``chat.postMessage`` to the user's DM, with Block Kit and a text fallback.

Every prep message carries Slack message metadata (:data:`METADATA_EVENT_TYPE`, payload: the
ledger key and attempt number). That is what makes an unknown outcome decidable:
:meth:`SlackChannel.find_sent` looks for the key in the DM's ``conversations.history``
(``include_all_metadata``; needs the ``im:history`` scope) since the attempt started.

Retries use slack_sdk's own handlers, bounded, and only where a resend cannot duplicate:

* ``RateLimitErrorRetryHandler`` — HTTP 429 (``ratelimited``: Slack posted nothing), sleeping
  ``Retry-After`` — unless Slack asks for more than :data:`MAX_RETRY_AFTER_SECONDS`: then the
  next channel is quicker;
* ``ConnectionErrorRetryHandler`` restricted to ``urllib.error.URLError``. The client's
  transport (:mod:`exec_assistant.slack_http`, as slack_sdk's urllib one) raises ``URLError``
  only for failures while connecting, before the request is sent; once the request may have
  left, a missing answer surfaces as ``TimeoutError`` / ``RemoteDisconnected`` /
  ``ConnectionResetError``. The default handler also retries the latter two — a possible double
  post — so it is configured to retry ``URLError`` alone.

No ``ServerErrorRetryHandler``: a 5xx (or ``internal_error``) after ``chat.postMessage`` arrived
may come with the message posted. Such outcomes, and every failure after the request left, are
UNKNOWN here; the notification service reconciles them with :meth:`SlackChannel.find_sent`
before it ever posts again.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from exec_assistant.logs import register_secret
from exec_assistant.models import Channel, ErrorClass, User
from exec_assistant.notifications.rendering import slack_message
from exec_assistant.notifications.types import BeforeRequest, DeliveryError, PrepNotification

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.http_retry import RetryHandler

#: The longest ``Retry-After`` the channel waits for before giving up on Slack for this send.
MAX_RETRY_AFTER_SECONDS = 3
#: ``metadata.event_type`` of every prep message (what reconciliation looks for).
METADATA_EVENT_TYPE = "exec_assistant_prep_notification"
#: How many ``conversations.history`` pages a lookup reads before it gives up deciding.
MAX_HISTORY_PAGES = 3
#: Allowance for the difference between this clock and Slack's when looking back.
CLOCK_SKEW_SECONDS = 60

#: Slack error strings after which a retry (later, or by the SDK) may succeed.
TRANSIENT_ERRORS = frozenset({"ratelimited"})
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
UNKNOWN_ERRORS = frozenset({"fatal_error", "internal_error", "service_unavailable"})


def classify_slack_error(error: str, status: int, *, writes: bool = True) -> ErrorClass:
    """The class of a Slack Web API error (``error`` string, HTTP ``status``).

    ``writes``: the call posts something (``chat.postMessage``), so a server-side failure may
    have posted it anyway — UNKNOWN; for a read the same failure is TRANSIENT."""
    if error in UNKNOWN_ERRORS or status >= 500:
        return ErrorClass.UNKNOWN if writes else ErrorClass.TRANSIENT
    if status == 429 or error in TRANSIENT_ERRORS:
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
    *, max_retries: int = 1, backoff_factor: float = 0.5
) -> list[RetryHandler]:
    """Bounded slack_sdk retry handlers that never resend a request that may have arrived."""
    from urllib.error import URLError

    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
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
        timeout: int = 4,
        max_retries: int = 1,
        backoff_factor: float = 0.5,
    ) -> None:
        from exec_assistant.slack_http import web_client

        register_secret(token)
        self.client: WebClient = web_client(
            token=token,
            base_url=base_url,
            timeout=timeout,
            retry_handlers=slack_retry_handlers(
                max_retries=max_retries, backoff_factor=backoff_factor
            ),
        )
        #: The longest one Web API call takes, its bounded retries and their waits included.
        self.request_seconds = (max_retries + 1) * timeout + max_retries * (
            MAX_RETRY_AFTER_SECONDS + backoff_factor * 2**max_retries
        )
        #: A lookup: ``conversations.open`` and up to :data:`MAX_HISTORY_PAGES` history pages.
        self.lookup_seconds = (1 + MAX_HISTORY_PAGES) * self.request_seconds

    def skip_reason(self, user: User) -> str | None:
        return None if user.slack_user_id else "user has no Slack user id"

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        user_id = notification.user.slack_user_id
        if not user_id:
            raise DeliveryError(ErrorClass.PERMANENT, "no_slack_user_id", "user has no Slack id")
        message = slack_message(notification)
        metadata = {
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {"key": notification.key, "attempt": attempt},
        }
        before_request(self.request_seconds)
        return self._post(user_id, message.text, message.blocks, metadata=metadata)

    def post(self, slack_user_id: str, *, text: str, blocks: list[dict[str, Any]]) -> str:
        """A DM to ``slack_user_id`` that is not a prep notification (the morning digest);
        returns ``channel:ts``; errors classified as for ``send``."""
        return self._post(slack_user_id, text, blocks)

    def _post(self, channel: str, text: str, blocks: list[dict[str, Any]], **extra: Any) -> str:
        from slack_sdk.errors import SlackApiError

        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
                **extra,
            )
        except SlackApiError as exc:
            raise _api_error(exc.response, writes=True) from exc
        except Exception as exc:
            raise _transport_error(exc, writes=True) from exc
        return f"{response['channel']}:{response['ts']}"

    def post_dm(self, user: User, text: str) -> str:
        """``chat.postMessage`` of plain ``text`` to the user's DM (the prep conversation opened
        from SMS or email). Not retried on an unknown outcome: it could post twice."""
        from slack_sdk.errors import SlackApiError

        if not user.slack_user_id:
            raise DeliveryError(ErrorClass.PERMANENT, "no_slack_user_id", "user has no Slack id")
        try:
            response = self.client.chat_postMessage(channel=user.slack_user_id, text=text)
        except SlackApiError as exc:
            raise _api_error(exc.response, writes=True) from exc
        except Exception as exc:
            raise _transport_error(exc, writes=True) from exc
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
            raise _api_error(exc.response, writes=False) from exc
        except Exception as exc:
            raise _transport_error(exc, writes=False) from exc

    def find_sent(self, notification: PrepNotification, *, since: datetime) -> str | None:
        """Look for this key's message in the DM since ``since`` (see the module docstring)."""
        from slack_sdk.errors import SlackApiError

        user_id = notification.user.slack_user_id
        if not user_id:
            return None  # nothing can have been posted to nobody
        oldest = f"{since.timestamp() - CLOCK_SKEW_SECONDS:.6f}"
        try:
            channel_id = str(self.client.conversations_open(users=user_id)["channel"]["id"])
            cursor: str | None = None
            for _ in range(MAX_HISTORY_PAGES):
                page = self.client.conversations_history(
                    channel=channel_id,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
                for message in page.get("messages") or []:
                    if _carries_key(message, notification.key):
                        return f"{channel_id}:{message.get('ts')}"
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    return None
        except SlackApiError as exc:
            raise _api_error(exc.response, writes=False) from exc
        except Exception as exc:
            raise _transport_error(exc, writes=False) from exc
        raise DeliveryError(
            ErrorClass.TRANSIENT,
            "lookup_incomplete",
            f"more than {MAX_HISTORY_PAGES} pages of DM history since the attempt",
        )


def _carries_key(message: Any, key: str) -> bool:
    if not isinstance(message, Mapping):
        return False
    metadata = message.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != METADATA_EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, Mapping) and payload.get("key") == key


def _api_error(response: Any, *, writes: bool) -> DeliveryError:
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    error = str(data.get("error") or "") if isinstance(data, dict) else ""
    code = f"http_{status}" if status >= 500 or not error else error
    return DeliveryError(
        classify_slack_error(error, status, writes=writes),
        code,
        f"Slack answered HTTP {status} {error}".strip(),
    )


def _transport_error(exc: Exception, *, writes: bool) -> DeliveryError:
    """Classify a failure without a Slack answer (see the module docstring): before the
    request left, TRANSIENT; after, UNKNOWN for a write and TRANSIENT for a read."""
    from urllib.error import URLError

    after = ErrorClass.UNKNOWN if writes else ErrorClass.TRANSIENT
    if isinstance(exc, URLError):  # raised before the request was fully sent
        return DeliveryError(
            ErrorClass.TRANSIENT, "connection_error", f"could not reach Slack: {exc.reason}"
        )
    if isinstance(exc, TimeoutError):
        return DeliveryError(after, "timeout", "no answer from Slack in time")
    if isinstance(exc, OSError | http.client.HTTPException):
        return DeliveryError(after, "connection_lost", f"connection lost after sending: {exc!r}")
    return DeliveryError(after, "client_error", f"{type(exc).__name__}")
