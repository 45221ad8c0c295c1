"""Email channel: SES v2 ``SendEmail`` with an HTML and a plain-text body.

The client is ``exec_assistant.aws.client("sesv2")`` — cached per process, botocore's
``standard`` retry mode (throttling and 5xx are retried with backoff), :data:`RETRIES` retry at
most, with a :data:`READ_TIMEOUT` s read timeout. Standard mode also
retries a *read timeout*, i.e. a request that may already have been accepted; for SendEmail that
would be a second email, so a ``needs-retry`` hook stops retries of errors raised after the
request left, and the channel reports them as UNKNOWN.

SES cannot be asked what it sent (no lookup by recipient or content), so an UNKNOWN email is
never reconciled: the service never resends it and goes on to the next channel. A 5xx that
botocore retries may, rarely, have been accepted the first time: the one duplicate window left
on this channel (README, "Delivery guarantees").

Delivery receipts: with ``configuration_set`` (``SES_CONFIGURATION_SET``) the email is sent
through that configuration set, whose event destination (EventBridge) reports bounces,
complaints, rejections and deliveries (:mod:`exec_assistant.workflows.email_events`); the
email's message tags carry the cycle's ledger key and the attempt number, which SES echoes in
every event, so that a receipt finds its record even before the delivery is recorded
(:mod:`~exec_assistant.notifications.receipt_routing`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exec_assistant.models import Channel, ErrorClass, User
from exec_assistant.notifications.receipt_routing import ses_tags
from exec_assistant.notifications.rendering import email_message
from exec_assistant.notifications.types import BeforeRequest, DeliveryError, PrepNotification

if TYPE_CHECKING:
    from exec_assistant.notifications.action_links import ActionLinks

#: SES v2 error codes that mean "try again later" (botocore has already retried them).
TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
    }
)
#: SES v2 error codes that mean the message was refused (listed for the docs and tests; any
#: other 4xx is treated the same way).
PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "SendingPausedException",
        "AccountSuspendedException",
        "NotFoundException",
        "BadRequestException",
        "AccessDeniedException",
    }
)
_NO_RESEND_HOOK_ID = "exec-assistant-sesv2-no-resend-after-send"
#: Retries of one SendEmail (botocore's ``max_attempts`` counts retries) and each try's read
#: timeout.
RETRIES = 1
READ_TIMEOUT = 5
#: The longest standard mode waits between two tries (``random() * 2**attempt``, attempt 1).
_MAX_BACKOFF = 2.0


def classify_ses_error(code: str, status: int) -> ErrorClass:
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        return ErrorClass.TRANSIENT
    return ErrorClass.PERMANENT


def _stop_retry_after_send(caught_exception: Exception | None = None, **_: Any) -> None:
    """``needs-retry`` hook: re-raise errors that happen after the request left, unretried."""
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    if isinstance(caught_exception, ReadTimeoutError | ConnectionClosedError):
        raise caught_exception


class EmailChannel:
    """Sends from ``sender`` (a verified SES identity) to the user's email. Returns MessageId."""

    name = Channel.EMAIL

    def __init__(
        self,
        *,
        sender: str,
        links: ActionLinks | None = None,
        configuration_set: str | None = None,
    ) -> None:
        from exec_assistant.aws import CONNECT_TIMEOUT

        self.sender = sender
        #: The SES configuration set whose events report on the email (None: no receipts).
        self.configuration_set = configuration_set
        #: Builds the Start Prep / Remind Later links (None: emails without links).
        self.links = links
        #: The longest one SendEmail takes, botocore's bounded retries included.
        self.request_seconds = (RETRIES + 1) * (CONNECT_TIMEOUT + READ_TIMEOUT) + _MAX_BACKOFF

    def skip_reason(self, user: User) -> str | None:
        return None if user.email else "user has no email address"

    @staticmethod
    def ses_client() -> Any:
        """The process-wide SES v2 client as this channel configures it (tests script it)."""
        from exec_assistant.aws import client

        ses = client("sesv2", max_attempts=RETRIES, read_timeout=READ_TIMEOUT)
        ses.meta.events.register_first(
            "needs-retry.sesv2.SendEmail", _stop_retry_after_send, unique_id=_NO_RESEND_HOOK_ID
        )
        return ses

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            EndpointConnectionError,
            NoCredentialsError,
            ParamValidationError,
            ReadTimeoutError,
        )

        address = notification.user.email
        if not address:
            raise DeliveryError(ErrorClass.PERMANENT, "no_email", "user has no email address")
        links = self.links.for_notification(notification) if self.links else None
        content = email_message(notification, links)

        def part(data: str) -> dict[str, str]:
            return {"Data": data, "Charset": "UTF-8"}

        ses = self.ses_client()
        before_request(self.request_seconds)
        try:
            response = ses.send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [address]},
                Content={
                    "Simple": {
                        "Subject": part(content.subject),
                        "Body": {"Text": part(content.text), "Html": part(content.html)},
                    }
                },
                **(
                    {
                        "ConfigurationSetName": self.configuration_set,
                        "EmailTags": ses_tags(notification.key, attempt),
                    }
                    if self.configuration_set
                    else {}
                ),
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code") or "Unknown")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            raise DeliveryError(
                classify_ses_error(code, status), code, f"SES answered HTTP {status}"
            ) from exc
        except (ReadTimeoutError, ConnectionClosedError) as exc:
            raise DeliveryError(
                ErrorClass.UNKNOWN, type(exc).__name__, "no answer from SES after sending"
            ) from exc
        except EndpointConnectionError as exc:
            raise DeliveryError(
                ErrorClass.TRANSIENT, "EndpointConnectionError", "SES unreachable"
            ) from exc
        except (NoCredentialsError, ParamValidationError) as exc:
            raise DeliveryError(ErrorClass.PERMANENT, type(exc).__name__) from exc
        except BotoCoreError as exc:
            raise DeliveryError(ErrorClass.UNKNOWN, type(exc).__name__, "SES client error") from exc
        return str(response["MessageId"])
