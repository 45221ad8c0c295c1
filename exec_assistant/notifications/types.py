"""The notification contract: what a channel does, what a send returns, how failure is told.

Channels raise :class:`DeliveryError` with an :class:`~exec_assistant.models.ErrorClass` and the
provider's raw code; the service decides what to do next from the class alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.models import (
    AttemptStatus,
    Channel,
    DeliveryAttempt,
    ErrorClass,
    Meeting,
    ParkedReceipt,
    User,
)


class NotificationKind(StrEnum):
    INITIAL = "initial"
    REMINDER = "reminder"
    ESCALATION = "escalation"


class PrepNotification(BaseModel):
    """Everything a channel needs to render and send one prep notification."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    meeting: Meeting
    user: User
    kind: NotificationKind = NotificationKind.INITIAL
    key: str


class DeliveryError(Exception):
    """A failed provider call. ``code`` is the provider's raw code (``ratelimited``, ``21211``).

    ``unsubscribed``: the provider refused because the recipient opted out of this channel with
    the provider itself (Twilio 21610: the number replied STOP): the service records the opt-out
    on the user, so later cycles skip the channel."""

    def __init__(
        self, error_class: ErrorClass, code: str, message: str = "", *, unsubscribed: bool = False
    ) -> None:
        super().__init__(f"{error_class.value}:{code} {message}".strip())
        self.error_class = error_class
        self.code = code
        self.message = message
        self.unsubscribed = unsubscribed


#: Called by a channel immediately before its provider request may leave (after secrets,
#: clients and rendering are ready), with the longest the request can take. The service
#: checks the deadline and records the attempt STARTED there; if it raises, nothing is sent.
BeforeRequest = Callable[[float], None]


class NotificationChannel(Protocol):
    """One way of reaching a user (Slack DM, SMS, email, console)."""

    name: Channel

    def skip_reason(self, user: User) -> str | None:
        """Why this user cannot be reached here (``"user has no phone"``), or None."""
        ...

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        """Send once; return the provider id (Slack ``channel:ts``, Twilio SID, SES MessageId).

        ``before_request(seconds)`` is called exactly once, right before the request that
        delivers, with the longest that request (its bounded retries and their waits included)
        can take; whatever fails before it leaves the channel untried. Bounded retries happen
        inside, only where a resend cannot duplicate; what escapes is a :class:`DeliveryError`
        (or whatever ``before_request`` raised). ``attempt`` is the ledger's attempt number,
        which a channel that can be reconciled tags its message with.
        """
        ...


@runtime_checkable
class MessageEditor(Protocol):
    """A channel whose delivered messages can be edited afterwards (Slack's ``chat.update``)."""

    def update(self, provider_id: str, *, text: str, blocks: list[dict[str, Any]]) -> None:
        """Replace the message ``provider_id`` (as ``send`` returned it); raises
        :class:`DeliveryError` like ``send``. Editing the same content twice is harmless."""
        ...


@runtime_checkable
class DirectMessenger(Protocol):
    """A channel that can post plain text into the user's direct conversation (Slack's DM)."""

    def post_dm(self, user: User, text: str) -> str:
        """Post ``text`` to ``user``'s DM and return its provider id (Slack ``channel:ts``);
        raises :class:`DeliveryError` like ``send`` (``no_slack_user_id`` when unreachable)."""
        ...


@runtime_checkable
class Reconcilable(Protocol):
    """A channel whose provider can be asked what it delivered (Slack, Twilio; SES cannot)."""

    #: The longest :meth:`find_sent` can take.
    lookup_seconds: float

    def find_sent(self, notification: PrepNotification, *, since: datetime) -> str | None:
        """The provider id of a message for ``notification.key`` sent at or after ``since``,
        or None when the provider has none. Raises :class:`DeliveryError` when it cannot tell."""
        ...


@runtime_checkable
class BlockMessenger(Protocol):
    """A channel that can post a Block Kit DM that is not a prep notification (the digest)."""

    def post(self, slack_user_id: str, *, text: str, blocks: list[dict[str, Any]]) -> str:
        """Post; return the provider id; raise :class:`DeliveryError` like ``send``."""
        ...


class NotificationOutcome(StrEnum):
    DELIVERED = "delivered"  # a channel delivered (possibly in an earlier, duplicate call)
    EXHAUSTED = "exhausted"  # every channel failed permanently/unknown or was skipped: final
    RETRYABLE = "retryable"  # nothing delivered, some channel failed transiently: claim released
    IN_PROGRESS = "in_progress"  # another worker holds the claim: nothing was sent by this call


class NotificationResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    key: str
    meeting_id: str
    outcome: NotificationOutcome
    delivered_channel: Channel | None = None
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    duplicate: bool = False  # True when this call found the key already claimed or done
    reason: str = ""  # why a RETRYABLE or IN_PROGRESS result is so (for the caller's log line)
    #: Seqs of the attempts that had already failed when this call took the claim over (from an
    #: earlier, released or crashed call, which saw and counted them): the rest are this call's.
    failed_earlier: list[int] = Field(default_factory=list)
    #: When the cycle's outcome was recorded on the meeting (the ledger record's
    #: ``meeting_recorded_at``): set, the steps after the delivery are done — by an earlier
    #: call, or by this one's finish when ``notify`` was given a ``meeting_mark``.
    meeting_recorded_at: datetime | None = None
    #: Receipts that arrived before the delivery was recorded (the ledger record's
    #: ``early_receipts``): the caller applies them once the cycle is DELIVERED.
    early_receipts: list[ParkedReceipt] = Field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return self.outcome == NotificationOutcome.DELIVERED

    @property
    def delivered_at(self) -> datetime | None:
        """When the delivering attempt completed (or started); None if none delivered."""
        for attempt in reversed(self.attempts):
            if attempt.status == AttemptStatus.DELIVERED:
                return attempt.completed_at or attempt.started_at
        return None
