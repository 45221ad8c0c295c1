"""SES email events from EventBridge: the delivery receipts of emails.

Lambda entry ``exec_assistant.workflows.email_events.lambda_handler``: an EventBridge rule on the
default bus (where SES publishes) with source ``aws.ses`` and the detail-types of
:data:`EMAIL_DETAIL_TYPES` targets it. The emails reach SES through the configuration set
``SES_CONFIGURATION_SET``, whose EventBridge event destination publishes these events. The
envelope is EventBridge's (``id``, ``source``, ``detail-type``, ``time``, ``resources``: the
configuration set) and ``detail`` is SES's event record (``eventType``, ``mail.messageId`` — the
``MessageId`` SendEmail returned, the attempt's provider id —, ``mail.tags`` — the message tags
the email was sent with, among them its cycle's ledger key and attempt
(:mod:`~exec_assistant.notifications.receipt_routing`) — and one object per type).

What each event means (:func:`email_receipt`), then :func:`exec_assistant.workflows.receipts.
apply_receipt` as for an SMS status callback:

==========================  ==============================================================
Bounce, ``Permanent``       failed, permanent (code: the bounce subtype): the cycle moves on
Bounce, ``Undetermined``    failed, unknown: the cycle moves on
Bounce, ``Transient``       delayed, transient: recorded, nothing else (SES may still deliver)
Complaint                   failed, permanent (code: the feedback type): the cycle moves on
Reject                      failed, permanent (code: the reason): the cycle moves on
Rendering Failure           failed, permanent
DeliveryDelay               delayed, transient (code: the delay type)
Delivery                    delivered: the receipt is complete
Send, Open, Click, other    nothing (logged)
==========================  ==============================================================

Error policy as the prep trigger's: an event that is not an SES event or is malformed is logged
with its id and *returned* (``rejected``: a retry cannot help); a store or bus outage *raises*, so
Lambda retries the asynchronous invocation. A repeated event changes nothing (the ledger keeps the
strongest receipt; the follow-up cycle is claimed once).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant import coldstart
from exec_assistant.components import Runtime
from exec_assistant.events.envelopes import describe_invalid, event_id
from exec_assistant.logs import configure_logging, log_event
from exec_assistant.models import (
    AwareDatetime,
    Channel,
    DeliveryReceipt,
    ErrorClass,
    EventEnvelope,
    ReceiptStatus,
)
from exec_assistant.notifications.receipt_routing import target_from_tags
from exec_assistant.workflows.receipts import apply_receipt

logger = logging.getLogger(__name__)

SES_EVENT_SOURCE = "aws.ses"
#: The detail-types of the email sending events SES publishes to EventBridge that are acted on.
EMAIL_DETAIL_TYPES = (
    "Email Bounced",
    "Email Complaint Received",
    "Email Delivered",
    "Email Delivery Delayed",
    "Email Rejected",
    "Email Rendering Failed",
)

EmailEventAction = Literal["recorded", "unchanged", "unknown", "parked", "ignored", "rejected"]

_Text = Field(default="", max_length=1000)


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)


class SesMail(_Part):
    message_id: str = Field(alias="messageId", min_length=1, max_length=256)
    #: The message tags the email was sent with (each name: its values).
    tags: dict[str, list[str]] = Field(default_factory=dict, max_length=50)


class SesBounce(_Part):
    bounce_type: str = Field(alias="bounceType", max_length=64)
    bounce_sub_type: str = Field(default="", alias="bounceSubType", max_length=64)
    timestamp: AwareDatetime | None = None


class SesComplaint(_Part):
    feedback_type: str | None = Field(default=None, alias="complaintFeedbackType", max_length=64)
    timestamp: AwareDatetime | None = None


class SesDelivery(_Part):
    timestamp: AwareDatetime | None = None


class SesDelay(_Part):
    delay_type: str = Field(default="", alias="delayType", max_length=64)
    timestamp: AwareDatetime | None = None


class SesReject(_Part):
    reason: str = _Text


class SesEventDetail(_Part):
    """SES's event record (the EventBridge ``detail``); unknown fields are ignored."""

    event_type: str = Field(alias="eventType", min_length=1, max_length=64)
    mail: SesMail
    bounce: SesBounce | None = None
    complaint: SesComplaint | None = None
    delivery: SesDelivery | None = None
    delivery_delay: SesDelay | None = Field(default=None, alias="deliveryDelay")
    reject: SesReject | None = None


class EmailEventResult(BaseModel):
    """What the handler did with one event (also the Lambda's return value)."""

    model_config = ConfigDict(defer_build=True)

    event_id: str | None
    action: EmailEventAction
    message_id: str | None = None
    reason: str = ""
    follow_up: str | None = None


def email_receipt(
    detail: SesEventDetail, *, happened: datetime | None, now: datetime
) -> DeliveryReceipt | None:
    """The receipt an SES event stands for (see the module docstring), or None."""

    def receipt(
        status: ReceiptStatus,
        provider_status: str,
        error_class: ErrorClass | None = None,
        code: str | None = None,
        at: datetime | None = None,
    ) -> DeliveryReceipt:
        return DeliveryReceipt(
            status=status,
            provider_status=provider_status[:64],
            error_class=error_class,
            error_code=(code or None) and code[:64],
            at=at or happened or now,
            received_at=now,
        )

    kind = detail.event_type
    if kind == "Bounce" and detail.bounce is not None:
        bounce = detail.bounce
        name = f"Bounce/{bounce.bounce_type}"
        code = bounce.bounce_sub_type or bounce.bounce_type
        if bounce.bounce_type == "Transient":
            return receipt(
                ReceiptStatus.DELAYED, name, ErrorClass.TRANSIENT, code, bounce.timestamp
            )
        error_class = (
            ErrorClass.PERMANENT if bounce.bounce_type == "Permanent" else ErrorClass.UNKNOWN
        )
        return receipt(ReceiptStatus.FAILED, name, error_class, code, bounce.timestamp)
    if kind == "Complaint":
        complaint = detail.complaint or SesComplaint()
        code = complaint.feedback_type or "complaint"
        return receipt(ReceiptStatus.FAILED, kind, ErrorClass.PERMANENT, code, complaint.timestamp)
    if kind == "Reject":
        reason = detail.reject.reason if detail.reject else ""
        return receipt(ReceiptStatus.FAILED, kind, ErrorClass.PERMANENT, reason or "rejected")
    if kind == "Rendering Failure":
        return receipt(ReceiptStatus.FAILED, kind, ErrorClass.PERMANENT, "rendering_failure")
    if kind == "DeliveryDelay":
        delay = detail.delivery_delay or SesDelay()
        return receipt(
            ReceiptStatus.DELAYED, kind, ErrorClass.TRANSIENT, delay.delay_type, delay.timestamp
        )
    if kind == "Delivery":
        at = detail.delivery.timestamp if detail.delivery else None
        return receipt(ReceiptStatus.DELIVERED, kind, at=at)
    return None


@coldstart.lambda_entry
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """EventBridge → Lambda entry point (the contract string names this function)."""
    from exec_assistant.runtime import get_runtime  # the entry reaches the root

    configure_logging()
    return handle_email_event(event, get_runtime()).model_dump(mode="json")


def handle_email_event(envelope: Mapping[str, Any], runtime: Runtime) -> EmailEventResult:
    """Record one SES event's receipt and act on it; see the module docstring."""
    eid = event_id(envelope)
    try:
        env = EventEnvelope.model_validate(envelope)
        detail = SesEventDetail.model_validate(env.detail)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        return _finish(eid, "rejected", None, f"invalid event: {describe_invalid(exc)[:500]}")
    if env.source != SES_EVENT_SOURCE:
        return _finish(eid, "rejected", None, f"unexpected source {env.source[:64]!r}")
    message_id = detail.mail.message_id
    receipt = email_receipt(detail, happened=env.time, now=runtime.clock())
    if receipt is None:
        return _finish(eid, "ignored", message_id, f"{detail.event_type[:64]}: no receipt")
    target = target_from_tags(detail.mail.tags)
    outcome = apply_receipt(runtime, Channel.EMAIL, message_id, receipt, target)
    return _finish(
        eid,
        outcome.action,
        message_id,
        f"{receipt.provider_status}: {outcome.standing.status.value if outcome.standing else '-'}",
        follow_up=outcome.follow_up,
    )


def _finish(
    event_id: str | None,
    action: EmailEventAction,
    message_id: str | None,
    reason: str,
    *,
    follow_up: str | None = None,
) -> EmailEventResult:
    log_event(
        logger,
        logging.WARNING if action == "rejected" else logging.INFO,
        f"email_event.{action}",
        event_id=event_id,
        message_id=message_id,
        reason=reason,
        follow_up=follow_up,
    )
    return EmailEventResult(
        event_id=event_id,
        action=action,
        message_id=message_id,
        reason=reason,
        follow_up=follow_up,
    )
