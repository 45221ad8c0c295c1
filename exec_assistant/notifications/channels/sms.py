"""SMS channel: Twilio's ``Client`` (imported on the first send), ≤ 320 characters.

Pointing the client elsewhere (``TWILIO_API_URL``): twilio-python builds every Messages URL from
its ``Api`` domain's ``base_url`` (``https://api.twilio.com``), so the channel sets
``client.api.base_url``; regions and edges are untouched unless configured.

Retries use the machinery under twilio's ``TwilioHttpClient``: a requests ``HTTPAdapter`` with a
urllib3 ``Retry`` that retries connection failures and HTTP 429 (honouring ``Retry-After``),
a bounded number of times (waiting at most :data:`MAX_RETRY_AFTER_SECONDS`), and never a read
error nor a 5xx — once the request has left, a timeout, a dropped connection or a server error
may come with the message created: UNKNOWN. The notification service then reconciles:
:meth:`SmsChannel.find_sent` lists the Messages sent to the user's number from the sender (newest
first) and matches the body, client-side, since the attempt started — Twilio's ``DateSent``
filter is a GMT *date* and may be empty while a message is queued, so it is not relied on.

Delivery receipts: with ``status_callback`` (``PUBLIC_BASE_URL`` + :data:`STATUS_CALLBACK_PATH`,
set by ``build_channels``) every message asks Twilio to report its status changes there, the URL
carrying the cycle's ledger key and the attempt number (``?key=…&attempt=…``, signed by Twilio
with the rest of the URL) so that a receipt finds its record even before the delivery is
recorded (:mod:`exec_assistant.workflows.receipts` acts on them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from exec_assistant.errors import ExecAssistantError
from exec_assistant.logs import register_secret
from exec_assistant.models import Channel, DeliveryReceipt, ErrorClass, ReceiptStatus, User
from exec_assistant.notifications.receipt_routing import callback_query
from exec_assistant.notifications.rendering import sms_text
from exec_assistant.notifications.sms_opt_out import UNSUBSCRIBED_CODE
from exec_assistant.notifications.types import BeforeRequest, DeliveryError, PrepNotification

#: Twilio error codes after which the message was refused and will be refused again.
PERMANENT_CODES = frozenset({20003, 20404, 21211, 21408, 21606, 21608, 21610, 21612, 21614})
#: Twilio error codes that mean "slow down / try later".
TRANSIENT_CODES = frozenset({20429})
#: Statuses after which Twilio created nothing (a resend cannot duplicate): retried.
RETRY_STATUSES = frozenset({429})
#: The longest ``Retry-After`` honoured; a longer one is cut short (a second 429 then moves on).
MAX_RETRY_AFTER_SECONDS = 3.0
#: How many recent Messages a lookup reads before it gives up deciding.
MAX_LOOKUP_MESSAGES = 100
#: Allowance for the difference between this clock and Twilio's when looking back.
CLOCK_SKEW_SECONDS = 60

#: Where Twilio reports a message's status (the route ``serve`` and API Gateway share).
STATUS_CALLBACK_PATH = "/twilio/status"

#: A secret's value, or how to get it on first use (e.g. a Secrets Manager read).
Secret = str | Callable[[], str]

# twilio's HTTP client logs every request URL (which carries the account SID) at INFO.
_twilio_http_logger = logging.getLogger("exec_assistant.notifications.twilio_http")
_twilio_http_logger.setLevel(logging.WARNING)


def classify_twilio_error(code: int | None, status: int, *, writes: bool = True) -> ErrorClass:
    """The class of a Twilio REST error (its ``code``, HTTP ``status``). ``writes``: the call
    creates a message, so a 5xx may come with it created — UNKNOWN (a read: TRANSIENT)."""
    if status >= 500:
        return ErrorClass.UNKNOWN if writes else ErrorClass.TRANSIENT
    if code in TRANSIENT_CODES or status in RETRY_STATUSES:
        return ErrorClass.TRANSIENT
    # Any other 4xx (21211, 21610, 21614, 21608, 20003, …): the message was not created.
    return ErrorClass.PERMANENT


#: Delivery error codes (status callbacks' ``ErrorCode``) of a condition that may pass: queue
#: overflow, handset unreachable (switched off), missing segment, carrier congestion, rate and
#: daily limits. Any other code is permanent, except 30008 ("unknown error").
TRANSIENT_DELIVERY_CODES = frozenset({30001, 30003, 30009, 30017, 30022, 30023})
UNKNOWN_DELIVERY_CODES = frozenset({30008})
#: ``MessageStatus`` values that settle a message; the others (queued, sending, sent,
#: accepted, scheduled…) are progress and change nothing.
FINAL_STATUSES: dict[str, ReceiptStatus] = {
    "delivered": ReceiptStatus.DELIVERED,
    "read": ReceiptStatus.DELIVERED,
    "undelivered": ReceiptStatus.FAILED,
    "failed": ReceiptStatus.FAILED,
    "canceled": ReceiptStatus.FAILED,
}


def classify_delivery_error(code: str | None) -> ErrorClass:
    """The class of a status callback's ``ErrorCode`` (None or not a number: UNKNOWN)."""
    if code is None or not code.isdigit():
        return ErrorClass.UNKNOWN
    number = int(code)
    if number in TRANSIENT_DELIVERY_CODES:
        return ErrorClass.TRANSIENT
    if number in UNKNOWN_DELIVERY_CODES:
        return ErrorClass.UNKNOWN
    return ErrorClass.PERMANENT


def sms_receipt(
    message_status: str, error_code: str | None, *, now: datetime
) -> DeliveryReceipt | None:
    """The receipt a status callback stands for, or None for a progress status."""
    status = FINAL_STATUSES.get(message_status.strip().lower())
    if status is None:
        return None
    code = (error_code or "").strip()[:16] or None
    failed = status == ReceiptStatus.FAILED
    return DeliveryReceipt(
        status=status,
        provider_status=message_status.strip().lower(),
        error_class=classify_delivery_error(code) if failed else None,
        error_code=code if failed else None,
        at=now,
        received_at=now,
    )


def twilio_client(
    account_sid: str,
    auth_token: str,
    *,
    api_url: str | None = None,
    http_client: Any = None,
    timeout: float = 10.0,
) -> Any:
    """twilio's ``Client``, its ``api`` domain pointed at ``api_url`` (``TWILIO_API_URL``) when
    given. Without ``http_client``: twilio's own, with ``timeout`` and the quiet logger."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    if http_client is None:
        http_client = TwilioHttpClient(timeout=timeout, logger=_twilio_http_logger)
    client = Client(account_sid, auth_token, http_client=http_client)
    if api_url:
        client.api.base_url = api_url.rstrip("/")
    return client


class SmsChannel:
    """Sends the SMS from ``from_number`` to the user's E.164 phone. Returns the message SID."""

    name = Channel.SMS

    def __init__(
        self,
        *,
        account_sid: Secret,
        auth_token: Secret,
        from_number: Secret,
        api_url: str | None = None,
        timeout: float = 5.0,
        max_retries: int = 1,
        backoff_factor: float = 0.5,
        status_callback: str | None = None,
    ) -> None:
        self._secrets = (account_sid, auth_token, from_number)
        #: The URL Twilio posts the message's delivery status to (None: no receipts).
        self.status_callback = status_callback
        #: The longest one Messages request takes, its bounded retries and their waits included.
        self.request_seconds = (max_retries + 1) * timeout + max_retries * (
            MAX_RETRY_AFTER_SECONDS + backoff_factor * 2**max_retries
        )
        #: A lookup pages through at most :data:`MAX_LOOKUP_MESSAGES` (two requests of 50).
        self.lookup_seconds = 2 * self.request_seconds
        self._from = ""
        self._api_url = api_url
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff_factor
        self._client: Any = None
        self._lock = threading.Lock()

    def skip_reason(self, user: User) -> str | None:
        if not user.phone:
            return "user has no phone number"
        if user.sms_opted_out_at is not None:  # replied STOP (or Twilio said so: 21610)
            return "user opted out of SMS (replied STOP)"
        return None

    def _credentials(self) -> tuple[str, str, str]:
        """The account SID, auth token and sender, resolved on the first send: on Lambda they
        are Secrets Manager reads, which most invocations (Slack delivers) never need."""
        try:
            values = tuple(s() if callable(s) else s for s in self._secrets)
        except ExecAssistantError as exc:  # nothing was sent: transient or permanent, not unknown
            error_class = exc.error_class
            if error_class == ErrorClass.UNKNOWN:
                error_class = ErrorClass.TRANSIENT
            raise DeliveryError(error_class, exc.code or "secret_unavailable", str(exc)) from exc
        for value in values:
            register_secret(value)
        account_sid, auth_token, from_number = values
        return account_sid, auth_token, from_number

    def _twilio(self) -> Any:
        """The Twilio client, built on first use and reused."""
        with self._lock:
            if self._client is None:
                account_sid, auth_token, self._from = self._credentials()
                from requests.adapters import HTTPAdapter
                from twilio.http.http_client import TwilioHttpClient
                from urllib3.util.retry import Retry

                class CappedRetry(Retry):
                    def get_retry_after(self, response: Any) -> float | None:
                        wait = super().get_retry_after(response)
                        return None if wait is None else min(wait, MAX_RETRY_AFTER_SECONDS)

                retry = CappedRetry(
                    total=self._max_retries,
                    connect=self._max_retries,
                    status=self._max_retries,
                    read=False,  # never resend after the request left
                    allowed_methods=None,  # POST included: only unsent or refused requests retry
                    status_forcelist=RETRY_STATUSES,
                    backoff_factor=self._backoff,
                    respect_retry_after_header=True,
                    raise_on_status=False,  # hand the last answer to twilio, which raises
                )
                http = TwilioHttpClient(timeout=self._timeout, logger=_twilio_http_logger)
                adapter = HTTPAdapter(max_retries=retry)
                http.session.mount("https://", adapter)
                http.session.mount("http://", adapter)
                self._client = twilio_client(
                    account_sid, auth_token, api_url=self._api_url, http_client=http
                )
            return self._client

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        phone = notification.user.phone
        if not phone:
            raise DeliveryError(ErrorClass.PERMANENT, "no_phone", "user has no phone number")
        client = self._twilio()
        body = sms_text(notification)
        before_request(self.request_seconds)
        try:
            message = client.messages.create(
                to=phone,
                from_=self._from,
                body=body,
                **(
                    {"status_callback": self._callback(notification, attempt)}
                    if self.status_callback
                    else {}
                ),
            )
        except Exception as exc:
            raise _twilio_error(exc, writes=True) from exc
        return str(message.sid)

    def _callback(self, notification: PrepNotification, attempt: int) -> str:
        """The status callback URL, carrying the cycle's key and the attempt (signed by Twilio
        with the rest of the URL: :mod:`~exec_assistant.notifications.receipt_routing`)."""
        query = callback_query(notification.key, attempt)
        return f"{self.status_callback}?{query}" if query else str(self.status_callback)

    def find_sent(self, notification: PrepNotification, *, since: datetime) -> str | None:
        """The SID of an SMS with this notification's text sent to the user since ``since``."""
        phone = notification.user.phone
        if not phone:
            return None
        client = self._twilio()
        body = sms_text(notification)
        oldest = since - timedelta(seconds=CLOCK_SKEW_SECONDS)
        try:
            for message in client.messages.stream(
                to=phone, from_=self._from, limit=MAX_LOOKUP_MESSAGES, page_size=50
            ):
                created = message.date_created
                if created is not None and created < oldest:
                    return None  # newest first: everything further is older still
                if body in str(message.body or ""):  # trial accounts prefix the body
                    return str(message.sid)
        except Exception as exc:
            raise _twilio_error(exc, writes=False) from exc
        return None


def _twilio_error(exc: Exception, *, writes: bool) -> DeliveryError:
    from twilio.base.exceptions import TwilioRestException, TwilioServiceException

    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = int(exc.status)
        # Without a Twilio error body the SDK reports the HTTP status as the code.
        code = int(exc.code) if exc.code is not None and int(exc.code) != status else None
        return DeliveryError(
            classify_twilio_error(code, status, writes=writes),
            str(code) if code is not None else f"http_{status}",
            f"Twilio answered HTTP {status}",
            unsubscribed=str(code) == UNSUBSCRIBED_CODE,
        )
    error = _transport_error(exc)
    if not writes and error.error_class == ErrorClass.UNKNOWN:
        return DeliveryError(ErrorClass.TRANSIENT, error.code, error.message)
    return error


def _transport_error(exc: Exception) -> DeliveryError:
    """Classify a failure without a Twilio answer: before the send → transient, after → unknown."""
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ConnectTimeout, ReadTimeout
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    if isinstance(exc, ConnectTimeout):
        return DeliveryError(ErrorClass.TRANSIENT, "connection_error", "Twilio connect timeout")
    if isinstance(exc, ReadTimeout):
        return DeliveryError(ErrorClass.UNKNOWN, "timeout", "no answer from Twilio in time")
    if isinstance(exc, RequestsConnectionError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError):
            return DeliveryError(ErrorClass.TRANSIENT, "connection_error", "Twilio unreachable")
        return DeliveryError(ErrorClass.UNKNOWN, "connection_lost", "connection lost after send")
    return DeliveryError(ErrorClass.UNKNOWN, "client_error", type(exc).__name__)
