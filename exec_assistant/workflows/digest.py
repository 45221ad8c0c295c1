"""The morning digest: at the executive's chosen local time, a DM listing the day's meetings.

Each meeting shows its time, title and prep state; one still to prepare gets a **Start Prep**
button (the same action as the prep notification's; the message itself is
:mod:`~exec_assistant.workflows.digest_blocks`). No digest on a day without meetings, none for
a user without a Slack id or with the digest turned off (``preferences.digest_time = None``). A
digest time inside the user's quiet hours moves to the end of them.

Scheduling (:func:`plan_digest`): on AWS one EventBridge Scheduler **recurring** schedule per user,
``cron(M H ? * MON-FRI *)`` in the user's own time zone (Scheduler applies DST); locally the
scheduler loop holds the next one-time event, and firing it plans the one after. Either way the
event is ``exec-assistant.digest`` / ``MorningDigestDue`` with ``{"user_id"}``.

Exactly once per user and local day: the send is claimed in the notification ledger
(``digest#<user>#<date>``, its attempt recorded before the Slack call), so a duplicated or retried
event sends nothing twice.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from exec_assistant import coldstart
from exec_assistant.components import Runtime
from exec_assistant.errors import ExecAssistantError
from exec_assistant.events.base import BusEvent, ScheduledEvent
from exec_assistant.logs import log_event
from exec_assistant.models import (
    AttemptStatus,
    Channel,
    ClaimOutcome,
    DeliveryAttempt,
    LedgerState,
    User,
)
from exec_assistant.notifications.types import BlockMessenger, DeliveryError
from exec_assistant.workflows.digest_blocks import DigestMessage, compose_digest

logger = logging.getLogger(__name__)

DIGEST_EVENT_SOURCE = "exec-assistant.digest"
DIGEST_DETAIL_TYPE = "MorningDigestDue"
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@runtime_checkable
class RecurringScheduler(Protocol):
    """A scheduler that keeps recurring schedules itself (EventBridge Scheduler)."""

    def schedule_recurring(
        self, name: str, expression: str, timezone: str, event: BusEvent
    ) -> None: ...


def digest_schedule_name(user_id: str) -> str:
    return "digest-" + hashlib.sha256(user_id.encode()).hexdigest()[:24]


def digest_time(user: User) -> time | None:
    """The local time the digest goes out: the chosen one, or the end of quiet hours if the
    chosen one falls inside them; None when the digest is off or no day is chosen."""
    prefs = user.preferences
    chosen = prefs.digest_time
    if chosen is None or not prefs.digest_days:
        return None
    quiet = prefs.quiet_hours
    return quiet.end if quiet is not None and quiet.contains(chosen) else chosen


def cron_expression(user: User) -> str | None:
    """EventBridge Scheduler's cron for the user's digest (in the user's time zone)."""
    at = digest_time(user)
    if at is None:
        return None
    days = ",".join(_WEEKDAYS[d - 1] for d in user.preferences.digest_days)
    return f"cron({at.minute} {at.hour} ? * {days} *)"


def next_digest_at(user: User, after: datetime) -> datetime | None:
    """The first digest strictly after ``after`` (aware), as a UTC instant. A local time that a
    DST change skips is taken as the same wall time after the change (zoneinfo's fold=0)."""
    at = digest_time(user)
    if at is None:
        return None
    zone = user.zone
    today = after.astimezone(zone).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if day.isoweekday() not in user.preferences.digest_days:
            continue
        local = datetime.combine(day, at, tzinfo=zone)
        instant = local.astimezone(zone).astimezone(after.tzinfo)
        if instant > after:
            return instant
    return None


def day_bounds(user: User, day: date) -> tuple[datetime, datetime]:
    zone = user.zone
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


class DigestResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    user_id: str
    action: str  # sent, none, skipped, duplicate, failed
    reason: str = ""
    provider_id: str | None = None


def send_digest(runtime: Runtime, user_id: str, now: datetime | None = None) -> DigestResult:
    """Send ``user_id``'s digest for the local day of ``now`` (once per day; see the module)."""
    now = now or runtime.clock()
    user = runtime.store.get_user(user_id)
    if user is None:
        return _done(DigestResult(user_id=user_id, action="skipped", reason="unknown user"))
    if digest_time(user) is None:
        return _done(DigestResult(user_id=user_id, action="skipped", reason="digest turned off"))
    quiet = user.preferences.quiet_hours
    if quiet is not None and quiet.contains(now.astimezone(user.zone).time()):
        return _done(DigestResult(user_id=user_id, action="skipped", reason="quiet hours"))
    messenger = runtime.channels.get(Channel.SLACK)
    if not user.slack_user_id or not isinstance(messenger, BlockMessenger):
        return _done(DigestResult(user_id=user_id, action="skipped", reason="no Slack DM"))
    day = now.astimezone(user.zone).date()
    start, end = day_bounds(user, day)
    message = compose_digest(runtime.store.list_meetings_for_user(user_id, start, end), user, now)
    if message is None:
        return _done(DigestResult(user_id=user_id, action="none", reason="no meetings today"))
    return _deliver(
        runtime,
        user,
        slack_user_id=user.slack_user_id,
        messenger=messenger,
        message=message,
        day=day,
        now=now,
    )


def _deliver(
    runtime: Runtime,
    user: User,
    *,
    slack_user_id: str,
    messenger: BlockMessenger,
    message: DigestMessage,
    day: date,
    now: datetime,
) -> DigestResult:
    key = f"digest#{user.user_id}#{day.isoformat()}"
    owner = f"digest-{uuid.uuid4().hex[:12]}"
    claim = runtime.store.claim_notification(
        key,
        f"digest-{user.user_id}",
        owner=owner,
        now=now,
        lease_seconds=runtime.settings.notification_lease_seconds,
    )
    if claim.outcome != ClaimOutcome.WON or claim.record.attempts:
        # delivered already, in flight elsewhere, or an earlier attempt's outcome is unknown:
        # a digest is not worth a second copy
        return _done(DigestResult(user_id=user.user_id, action="duplicate", reason=claim.outcome))
    attempt = DeliveryAttempt(seq=0, channel=Channel.SLACK, owner=owner, started_at=now)
    runtime.store.record_attempt(key, owner=owner, attempt=attempt)  # before the Slack call
    try:
        provider_id = messenger.post(slack_user_id, text=message.text, blocks=message.blocks)
    except DeliveryError as exc:
        failed = attempt.model_copy(
            update={
                "status": AttemptStatus.FAILED,
                "error_class": exc.error_class,
                "error_code": exc.code,
                "completed_at": runtime.clock(),
            }
        )
        runtime.store.finish_notification(
            key,
            owner=owner,
            state=LedgerState.EXHAUSTED,
            delivered_channel=None,
            now=runtime.clock(),
            completed=failed,
        )
        result = DigestResult(user_id=user.user_id, action="failed", reason=f"{exc.code}")
        return _done(result, logging.ERROR, error_class=exc.error_class.value)
    delivered = attempt.model_copy(
        update={
            "status": AttemptStatus.DELIVERED,
            "provider_id": provider_id,
            "completed_at": runtime.clock(),
        }
    )
    runtime.store.finish_notification(
        key,
        owner=owner,
        state=LedgerState.DELIVERED,
        delivered_channel=Channel.SLACK,
        now=runtime.clock(),
        completed=delivered,
    )
    return _done(
        DigestResult(user_id=user.user_id, action="sent", provider_id=provider_id),
        meetings=len(message.meeting_ids),
    )


def _done(result: DigestResult, level: int = logging.INFO, **fields: Any) -> DigestResult:
    log_event(
        logger,
        level,
        f"digest.{result.action}",
        user_id=result.user_id,
        reason=result.reason,
        **fields,
    )
    return result


# --- scheduling -----------------------------------------------------------------------------


def digest_event(user_id: str) -> BusEvent:
    return BusEvent(
        source=DIGEST_EVENT_SOURCE, detail_type=DIGEST_DETAIL_TYPE, detail={"user_id": user_id}
    )


def plan_digest(runtime: Runtime, user: User, now: datetime | None = None) -> str | None:
    """Create, move or delete ``user``'s digest schedule from their settings (idempotent).

    Returns what is planned: the cron expression (AWS), the next local fire time (ISO), or None
    when the digest is off (any schedule is deleted)."""
    name = digest_schedule_name(user.user_id)
    scheduler = runtime.scheduler
    if isinstance(scheduler, RecurringScheduler):
        expression = cron_expression(user)
        if expression is None:
            scheduler.cancel(name)
            return None
        scheduler.schedule_recurring(name, expression, user.timezone, digest_event(user.user_id))
        return expression
    for item in scheduler.pending(name):
        scheduler.cancel(item.name)
    fire_at = next_digest_at(user, now or runtime.clock())
    if fire_at is None:
        return None
    scheduler.schedule(
        ScheduledEvent(
            name=f"{name}-{fire_at:%Y%m%d%H%M}", fire_at=fire_at, event=digest_event(user.user_id)
        )
    )
    return fire_at.isoformat()


def plan_forever(runtime: Runtime, stop: Any, interval: float = 3600.0) -> None:
    """Plan every user's digest now and every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        for user in runtime.store.list_users():
            try:
                plan_digest(runtime, user)
            except ExecAssistantError as exc:
                log_event(
                    logger,
                    logging.ERROR,
                    "digest.plan_failed",
                    user_id=user.user_id,
                    error_class=exc.error_class.value,
                    error=str(exc),
                )
        stop.wait(interval)


def handle_digest_event(envelope: Mapping[str, Any], runtime: Runtime) -> DigestResult | None:
    """A MorningDigestDue event: send the digest; locally, also plan the next one."""
    try:
        user_id = str(envelope["detail"]["user_id"])
    except (KeyError, TypeError):
        log_event(
            logger,
            logging.ERROR,
            "digest.rejected",
            event_id=str(envelope.get("id", "")),
            reason="detail.user_id missing",
        )
        return None
    result = send_digest(runtime, user_id)
    user = runtime.store.get_user(user_id)
    if user is not None and not isinstance(runtime.scheduler, RecurringScheduler):
        plan_digest(runtime, user, runtime.clock() + timedelta(minutes=1))
    return result


@coldstart.lambda_entry
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """EventBridge (rule on ``exec-assistant.digest``) → Lambda entry."""
    from exec_assistant.logs import configure_logging
    from exec_assistant.runtime import get_runtime  # the entry reaches the root

    configure_logging()
    try:
        result = handle_digest_event(event, get_runtime())
    except ValidationError as exc:  # a stored user that no longer validates: permanent
        log_event(logger, logging.ERROR, "digest.rejected", reason=str(exc)[:300])
        return {"action": "rejected"}
    return result.model_dump(mode="json") if result else {"action": "rejected"}
