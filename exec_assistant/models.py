"""Domain model: users, meetings, chat sessions, events and delivery-ledger records.

Pydantic v2 only; no SDK imports, so every layer (and a Lambda cold start) can afford it.
Invalid data raises ``pydantic.ValidationError`` naming the field; nothing half-valid is built.

Why this module is over 400 lines: it is the project's one vocabulary. The models refer to each
other (a meeting's status rules, the ids a session and a ledger record derive from a meeting,
the channels a user and an attempt share), every layer imports them, and the public API
re-exports them; one file keeps each definition next to the ones it depends on.
"""

from __future__ import annotations

import functools
import re
import uuid
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only clock the model uses by default)."""
    return datetime.now(UTC)


def iso_utc(value: datetime) -> str:
    """Fixed-width UTC ISO-8601 string, so lexical order equals time order in both stores.
    (``isoformat``: the year is always 4 digits, and it is a few times cheaper than
    ``strftime``, which the store's writes call several times per event.)"""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_iso(value: str) -> datetime:
    """Inverse of :func:`iso_utc` (accepts any ISO-8601 string with an offset)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without timezone: {value!r}")
    return parsed.astimezone(UTC)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("must be timezone-aware (include an offset or Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00, 9999-12-31T23:59-05:00: no UTC equivalent
        raise ValueError("out of the representable range once converted to UTC") from None


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def _e164(value: str) -> str:
    compact = re.sub(r"[\s\-().]", "", value)
    if not _E164.match(compact):
        raise ValueError("must be an E.164 phone number such as +14155550123")
    return compact


def _iana_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


@functools.lru_cache(maxsize=1024)
def _email(value: str) -> str:
    """pydantic's ``EmailStr`` check (email-validator, no deliverability lookup), returning the
    same normalised address and error. pydantic imports email-validator on first use here,
    not at import as ``EmailStr`` does: ~40 ms off every cold start. Cached because the same
    few addresses are re-validated on every store read of a user."""
    from pydantic.networks import validate_email

    return validate_email(value)[1]


E164Phone = Annotated[str, AfterValidator(_e164)]
Email = Annotated[str, AfterValidator(_email), Field(json_schema_extra={"format": "email"})]
TimeZoneName = Annotated[str, AfterValidator(_iana_zone)]
NonEmptyStr = Annotated[str, Field(min_length=1, max_length=512)]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _storable(value: str) -> str:
    """Refuse what a key cannot hold: lone surrogates (no UTF-8 form: SQLite and DynamoDB reject
    them) and control characters (NUL ends C strings; none belongs in an id)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


#: An id that becomes part of a store key (ledger key = meeting id + cycle): bounded, so the
#: key stays within :data:`NonEmptyStr` and DynamoDB's 2,048-byte key limit.
KeyPart = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_storable)]
#: A reminder id or replay cycle: the short part of a ledger key.
CyclePart = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_storable)]


class Channel(StrEnum):
    """Delivery channels, in the order a user may prefer them."""

    SLACK = "slack"
    SMS = "sms"
    EMAIL = "email"
    CONSOLE = "console"


class ErrorClass(StrEnum):
    """How a failure is treated: retried, moved past, or never resent on the same channel."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, frozen=False, defer_build=True
    )


class QuietHours(_Model):
    """A daily window (in the user's time zone) during which no SMS is sent."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # wraps midnight


class NotificationPreferences(_Model):
    """How a user wants to be reached (``exec-assistant users set`` changes them)."""

    channel_order: list[Channel] = Field(
        default_factory=lambda: [Channel.SLACK, Channel.SMS, Channel.EMAIL], min_length=1
    )
    """Channels to try, in order (default Slack, SMS, email); no repeats."""
    quiet_hours: QuietHours | None = None
    """No SMS inside this daily window; Slack and email still go."""
    escalation_delay_minutes: int = Field(default=30, ge=1, le=24 * 60)
    """Escalate to the next channel when a delivered notification is not acted on in time."""
    digest_time: time | None = time(7, 30)
    """The morning digest's local time (None: no digest)."""
    digest_days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5], max_length=7)
    """The digest's days, ISO weekdays (1 = Monday)."""

    @field_validator("digest_days")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(not 1 <= d <= 7 for d in value):
            raise ValueError("digest days are ISO weekdays, 1 (Monday) to 7 (Sunday)")
        return sorted(set(value))

    @field_validator("channel_order")
    @classmethod
    def _unique(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("channels must not repeat")
        return value


class User(_Model):
    """An executive who gets prep notifications."""

    user_id: NonEmptyStr
    """Your id for the executive (``usr-ceo``); the key of the users table."""
    slack_user_id: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,}$")
    """Slack member id (``U…``): the DM goes here. None: no Slack channel."""
    slack_team_id: str | None = Field(default=None, pattern=r"^[TE][A-Z0-9]{2,}$")
    """Slack workspace id (``T…``), when known."""
    name: NonEmptyStr
    """Display name, used in messages."""
    email: Email | None = None
    """Address for the email fallback (SES). None: no email channel."""
    phone: E164Phone | None = None
    """E.164 number for the SMS fallback (Twilio). None: no SMS channel."""
    timezone: TimeZoneName = "UTC"
    """IANA time zone: message times, quiet hours and reminder choices use it."""
    preferences: NotificationPreferences = Field(default_factory=NotificationPreferences)
    """Channel order, quiet hours and escalation delay."""
    #: When the user replied STOP to our SMS number (Twilio's opt-out): the SMS channel skips
    #: them until they reply START. None: not opted out.
    sms_opted_out_at: AwareDatetime | None = None
    created_at: AwareDatetime = Field(default_factory=utcnow)
    updated_at: AwareDatetime = Field(default_factory=utcnow)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class MeetingStatus(StrEnum):
    """Meeting lifecycle. Allowed moves are in :data:`ALLOWED_TRANSITIONS`, nowhere else."""

    DISCOVERED = "DISCOVERED"
    PREP_REQUIRED = "PREP_REQUIRED"
    PREP_SCHEDULED = "PREP_SCHEDULED"
    PREP_IN_PROGRESS = "PREP_IN_PROGRESS"
    PREP_COMPLETED = "PREP_COMPLETED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


_S = MeetingStatus
#: The one table of allowed status moves. A stale or duplicate update that is not listed here
#: (including anything that would move a status backwards) is refused by the stores.
ALLOWED_TRANSITIONS: dict[MeetingStatus, frozenset[MeetingStatus]] = {
    _S.DISCOVERED: frozenset(
        {_S.PREP_REQUIRED, _S.PREP_SCHEDULED, _S.PREP_IN_PROGRESS, _S.COMPLETED, _S.CANCELLED}
    ),
    _S.PREP_REQUIRED: frozenset(
        {_S.PREP_SCHEDULED, _S.PREP_IN_PROGRESS, _S.COMPLETED, _S.CANCELLED}
    ),
    _S.PREP_SCHEDULED: frozenset({_S.PREP_IN_PROGRESS, _S.COMPLETED, _S.CANCELLED}),
    _S.PREP_IN_PROGRESS: frozenset({_S.PREP_COMPLETED, _S.COMPLETED, _S.CANCELLED}),
    _S.PREP_COMPLETED: frozenset({_S.COMPLETED, _S.CANCELLED}),
    _S.COMPLETED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def allowed_sources(target: MeetingStatus) -> frozenset[MeetingStatus]:
    """Statuses from which ``target`` may be reached (used for conditional writes)."""
    return frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if target in targets)


class MeetingSource(StrEnum):
    ICS = "ics"
    MANUAL = "manual"
    API = "api"


class NotificationStatus(StrEnum):
    NONE = "none"
    DELIVERED = "delivered"
    FAILED = "failed"


#: Fields that come from the calendar. Re-import updates exactly these; workflow fields
#: (status, chat session, notification state) are never touched by an import.
CALENDAR_FIELDS: tuple[str, ...] = (
    "source",
    "external_id",
    "title",
    "description",
    "location",
    "start_time",
    "end_time",
    "attendees",
    "organizer",
    "meeting_type",
    "prep_hours_before",
    "feed_id",
    "join_url",
    "attendee_names",
)


def meeting_id_for(user_id: str, source: str, external_id: str) -> str:
    """Deterministic id for a calendar occurrence, so re-import finds the same meeting."""
    return "mtg-" + uuid.uuid5(uuid.NAMESPACE_URL, f"{user_id}|{source}|{external_id}").hex[:20]


class Meeting(_Model):
    """A meeting that needs prep; its status tracks the prep workflow."""

    meeting_id: NonEmptyStr
    """Unique id (``mtg-…``; imported meetings derive it from the calendar event)."""
    user_id: NonEmptyStr
    """The owner: the executive who prepares and gets the notification."""
    source: MeetingSource = MeetingSource.MANUAL
    """Where it came from: added by hand, or an ICS import."""
    external_id: str | None = None
    title: NonEmptyStr
    """Meeting title."""
    description: str = Field(default="", max_length=20_000)
    location: str = Field(default="", max_length=2_000)
    start_time: AwareDatetime
    """Start, timezone-aware."""
    end_time: AwareDatetime
    """End, timezone-aware; after ``start_time``."""
    attendees: list[str] = Field(default_factory=list)
    """Attendee emails or names."""
    #: Display names the calendar gives (address → name), for the brief.
    attendee_names: dict[str, str] = Field(default_factory=dict)
    organizer: str | None = None
    #: The video-call link (X-GOOGLE-CONFERENCE, Teams/Zoom/Meet/Webex links in the event).
    join_url: str = Field(default="", max_length=2_000)
    meeting_type: str = Field(default="general", min_length=1, max_length=64)
    """Free-form type (``board``, ``one_on_one``…), set by import rules."""
    prep_hours_before: float = Field(default=24.0, ge=0, le=24 * 14)
    """The prep window opens this many hours before the start (at most 14 days)."""
    #: The calendar feed the meeting was imported from ("" for meetings added by hand): an
    #: import cancels only what disappeared from its own feed.
    feed_id: str = Field(default="", max_length=64)
    status: MeetingStatus = MeetingStatus.DISCOVERED
    """Lifecycle status; moves only along ``ALLOWED_TRANSITIONS``."""
    chat_session_id: str | None = None
    notification_status: NotificationStatus = NotificationStatus.NONE
    """Outcome of the prep notification (none, delivered, failed)."""
    notification_channel: Channel | None = None
    """The channel that delivered it."""
    notified_at: AwareDatetime | None = None
    notification_cycle: str | None = None
    #: The prep brief (JSON of ``workflows.brief.Brief``), saved when the prep conversation ends
    #: (``Store.save_meeting_brief``); "since last time" reads the previous occurrence's here.
    brief: str | None = Field(default=None, max_length=200_000)
    created_at: AwareDatetime = Field(default_factory=utcnow)
    updated_at: AwareDatetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _end_after_start(self) -> Meeting:
        if self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time")
        return self

    @property
    def duration(self) -> timedelta:
        return self.end_time - self.start_time

    @property
    def prep_window_start(self) -> datetime:
        return self.start_time - timedelta(hours=self.prep_hours_before)

    def in_prep_window(self, now: datetime) -> bool:
        return self.prep_window_start <= now < self.start_time


class ChatState(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    EXPIRED = "expired"


class ChatMessage(_Model):
    role: Literal["user", "assistant"]
    text: str = Field(max_length=40_000)
    ts: AwareDatetime = Field(default_factory=utcnow)
    slack_ts: str | None = None
    #: The prep brief (JSON of ``workflows.brief.Brief``) on the message that delivered it.
    brief: str | None = Field(default=None, max_length=200_000)


def chat_session_id_for(meeting_id: str) -> str:
    """One chat session per meeting: the id is derived, so creation is naturally idempotent."""
    return f"chat-{meeting_id}"


class ChatSession(_Model):
    session_id: NonEmptyStr
    meeting_id: NonEmptyStr
    user_id: NonEmptyStr
    slack_user_id: str | None = None
    slack_channel_id: str | None = None
    state: ChatState = ChatState.ACTIVE
    step: int = Field(default=0, ge=0)
    messages: list[ChatMessage] = Field(default_factory=list)
    prep_answers: dict[str, str] = Field(default_factory=dict)
    created_at: AwareDatetime = Field(default_factory=utcnow)
    updated_at: AwareDatetime = Field(default_factory=utcnow)
    expires_at: AwareDatetime

    @classmethod
    def for_meeting(
        cls, meeting: Meeting, user: User, *, now: datetime, channel_id: str | None = None
    ) -> ChatSession:
        return cls(
            session_id=chat_session_id_for(meeting.meeting_id),
            meeting_id=meeting.meeting_id,
            user_id=user.user_id,
            slack_user_id=user.slack_user_id,
            slack_channel_id=channel_id,
            created_at=now,
            updated_at=now,
            expires_at=max(meeting.end_time, now) + timedelta(days=7),
        )


# --- events -------------------------------------------------------------------------------

PREP_EVENT_SOURCE = "exec-assistant.calendar-monitor"
REMINDER_EVENT_SOURCE = "exec-assistant.reminders"
PREP_EVENT_DETAIL_TYPE = "MeetingPrepRequired"
PREP_EVENT_SOURCES = frozenset({PREP_EVENT_SOURCE, REMINDER_EVENT_SOURCE})


class MeetingPrepRequired(BaseModel):
    """Detail of the MeetingPrepRequired event (the contract: meeting_id and user_id required).

    Unknown extra fields are ignored so older and newer producers interoperate.
    ``reminder_id`` marks a reminder or escalation cycle; ``cycle`` lets replay start a new one.
    """

    model_config = ConfigDict(extra="ignore", defer_build=True)

    meeting_id: KeyPart
    user_id: KeyPart
    reminder_id: CyclePart | None = None
    escalation: bool = False
    cycle: CyclePart | None = None
    #: On an escalation: the ledger key of the delivery it follows up (read by key, consistently).
    #: On a receipt follow-up: the ledger key of the cycle whose delivery failed.
    source_key: Annotated[str, Field(max_length=512), AfterValidator(_storable)] | None = None
    #: A receipt follow-up: the provider id (Twilio SID, SES MessageId) whose delivery receipt
    #: said it failed; the cycle moves on to the channels after that one. Needs ``source_key``.
    receipt_for: CyclePart | None = None

    @model_validator(mode="after")
    def _receipt_follow_up(self) -> MeetingPrepRequired:
        if self.receipt_for is not None and not (
            self.source_key and self.source_key.startswith(f"{self.meeting_id}#")
        ):
            raise ValueError("receipt_for needs the source_key of one of the meeting's cycles")
        return self

    @property
    def cycle_key(self) -> str:
        """The prep-cycle part of the idempotency key: a reminder/escalation is its own cycle,
        and so is a receipt follow-up (``<source cycle>#receipt:<provider id>``)."""
        if self.receipt_for is not None and self.source_key is not None:
            source_cycle = self.source_key.removeprefix(f"{self.meeting_id}#")
            return f"{source_cycle}#receipt:{self.receipt_for}"
        if self.reminder_id:
            return f"reminder:{self.reminder_id}"
        return f"prep:{self.cycle}" if self.cycle else "prep"

    def idempotency_key(self) -> str:
        return f"{self.meeting_id}#{self.cycle_key}"


class EventEnvelope(BaseModel):
    """The EventBridge envelope as AWS hands it to a Lambda target."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    id: KeyPart
    source: str
    detail_type: str = Field(alias="detail-type")
    time: AwareDatetime | None = None
    detail: dict[str, Any]


def parse_prep_event(envelope: Any) -> tuple[EventEnvelope, MeetingPrepRequired]:
    """Validate an EventBridge envelope carrying MeetingPrepRequired.

    Raises ``pydantic.ValidationError`` for a malformed envelope or detail and ``ValueError``
    for a well-formed event of the wrong source or type; both are permanent errors.
    """
    env = EventEnvelope.model_validate(envelope)
    if env.detail_type != PREP_EVENT_DETAIL_TYPE:
        raise ValueError(f"unexpected detail-type {env.detail_type!r}")
    if env.source not in PREP_EVENT_SOURCES:
        raise ValueError(f"unexpected source {env.source!r}")
    return env, MeetingPrepRequired.model_validate(env.detail)


# --- delivery ledger ----------------------------------------------------------------------


class AttemptStatus(StrEnum):
    STARTED = "started"  # written before the provider call; if it stays so, the outcome is unknown
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class ReceiptStatus(StrEnum):
    """What a provider reported after it accepted a message (a delivery receipt)."""

    DELAYED = "delayed"  # not delivered yet, still being tried (an SES transient bounce or delay)
    DELIVERED = "delivered"  # reached the handset, or the recipient's mail server
    FAILED = "failed"  # will not arrive: undelivered, failed, bounced, complained of, rejected


#: Which receipt stands when several arrive, in any order: a stronger one replaces a weaker one,
#: never the reverse. A failure is strongest: it is what moved the cycle on (a late
#: ``delivered`` after it changes nothing), and a complaint after a delivery still counts.
RECEIPT_RANK: dict[ReceiptStatus, int] = {
    ReceiptStatus.DELAYED: 1,
    ReceiptStatus.DELIVERED: 2,
    ReceiptStatus.FAILED: 3,
}


class DeliveryReceipt(_Model):
    """The provider's word on a delivered attempt, after the fact (Twilio status callback, SES
    event). ``provider_status`` is the provider's own (``undelivered``, ``Bounce/Permanent``)."""

    status: ReceiptStatus
    provider_status: str = Field(min_length=1, max_length=64)
    error_class: ErrorClass | None = None
    error_code: str | None = Field(default=None, max_length=64)
    #: When it happened, as the provider says (else when it arrived).
    at: AwareDatetime
    received_at: AwareDatetime


class ReceiptResult(_Model):
    """What recording a receipt did: ``recorded`` only for the call that changed the standing
    receipt; ``receipt`` is the one that stands (this one, or a stronger earlier one)."""

    recorded: bool
    receipt: DeliveryReceipt


class DeliveryAttempt(_Model):
    seq: int = Field(ge=0)
    channel: Channel
    #: The claim owner (one notify call) that recorded it: a write whose answer was lost is
    #: recognised as one's own when read back.
    owner: str | None = None
    status: AttemptStatus = AttemptStatus.STARTED
    error_class: ErrorClass | None = None
    error_code: str | None = None
    reason: str | None = None
    provider_id: str | None = None
    started_at: AwareDatetime = Field(default_factory=utcnow)
    completed_at: AwareDatetime | None = None
    #: The provider's delivery receipt for a delivered SMS or email (``Store.record_receipt``).
    receipt: DeliveryReceipt | None = None


class ParkedReceipt(_Model):
    """A delivery receipt that arrived before its attempt was recorded as delivered (the message
    carries its cycle's ledger key and attempt number: Twilio's status callback URL, SES message
    tags). Kept on the record (``Store.park_receipt``) and applied, as if it had just arrived,
    once the cycle is DELIVERED (:func:`exec_assistant.workflows.receipts.apply_parked_receipts`)
    — only to the attempt that turns out to carry ``provider_id``."""

    seq: int = Field(ge=0)
    channel: Channel
    provider_id: str = Field(min_length=1, max_length=256)
    receipt: DeliveryReceipt


class LedgerState(StrEnum):
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    EXHAUSTED = "exhausted"
    RELEASED = "released"  # given back after a transient failure so a retry may claim it again


LEDGER_FINAL_STATES = frozenset({LedgerState.DELIVERED, LedgerState.EXHAUSTED})


class AckAction(StrEnum):
    """What the executive answered to a prep notification."""

    START_PREP = "start_prep"
    REMIND_LATER = "remind_later"


#: The channels an executive can answer on (the console only prints).
ACK_CHANNELS = frozenset({Channel.SLACK, Channel.SMS, Channel.EMAIL})


def _ack_channel(value: Channel) -> Channel:
    if value not in ACK_CHANNELS:
        raise ValueError("an acknowledgement comes from slack, sms or email")
    return value


class Acknowledgement(_Model):
    """The executive's answer to one prep cycle: recorded once, from whichever channel was first."""

    #: Unique per answer, so a write resent after a lost answer is recognised as its own.
    ack_id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=64)
    channel: Annotated[Channel, AfterValidator(_ack_channel)]
    action: AckAction
    at: AwareDatetime
    #: Remind Later: when the reminder comes back.
    remind_at: AwareDatetime | None = None
    #: Free detail for the timeline (``"LATER 30"``, the Slack user id), never a secret.
    detail: str = Field(default="", max_length=200)


class AckResult(_Model):
    """What recording an acknowledgement did: ``recorded`` is True only for the call that set it;
    ``acknowledgement`` is the one that stands (this call's or the earlier one)."""

    recorded: bool
    acknowledgement: Acknowledgement


class LedgerRecord(_Model):
    key: NonEmptyStr
    meeting_id: NonEmptyStr
    state: LedgerState
    owner: str
    lease_expires_at: AwareDatetime
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    delivered_channel: Channel | None = None
    #: The executive's answer to this cycle, set once (``Store.acknowledge_notification``).
    acknowledgement: Acknowledgement | None = None
    #: When the cycle's outcome was recorded on the meeting (``record_meeting_notification``
    #: with this key): the steps after the delivery are done, so a redelivered event that finds
    #: this set has nothing left to do. None: not yet (or a record from before this field).
    meeting_recorded_at: AwareDatetime | None = None
    #: Receipts that arrived before the delivery was recorded (``Store.park_receipt``), oldest
    #: first; applied once the record is DELIVERED, and left in place (they expire with it).
    early_receipts: list[ParkedReceipt] = Field(default_factory=list)
    created_at: AwareDatetime = Field(default_factory=utcnow)
    updated_at: AwareDatetime = Field(default_factory=utcnow)
    expires_at: AwareDatetime

    @property
    def final(self) -> bool:
        return self.state in LEDGER_FINAL_STATES


class ClaimOutcome(StrEnum):
    WON = "won"  # a fresh claim
    RECOVERED = "recovered"  # an expired lease or a released claim taken over; see attempts
    DONE = "done"  # already delivered or exhausted: return the stored result
    BUSY = "busy"  # someone else holds a live lease: do not send


class Claim(_Model):
    outcome: ClaimOutcome
    record: LedgerRecord

    @property
    def owned(self) -> bool:
        return self.outcome in (ClaimOutcome.WON, ClaimOutcome.RECOVERED)
