"""The recovery sweep: no prep cycle is left stuck while its prep window is open.

Lambda retries a failed trigger twice (about one and three minutes after the first try), then the
event goes to the dead-letter queue; a crash, an out-of-memory kill or a timeout can leave a cycle
claimed; EventBridge can lose nothing, but a retry can land while the claim is still held. None of
that may cost the executive their notification. On each calendar-monitor pass (both runtimes),
:func:`sweep` looks at every meeting whose prep window is open and that is still PREP_REQUIRED
(published, never delivered) and reads its cycle's ledger record by key (strongly consistent):

* missing (the event was lost, or every try failed before claiming), RELEASED (given back after a
  transient failure, an outcome to reconcile, or a walk that did not fit its invocation), or
  IN_PROGRESS under an *expired* lease (its worker died) → the MeetingPrepRequired event is
  published again; the trigger claims the cycle and finishes it, reconciling whatever is unknown;
* IN_PROGRESS under a live lease → left alone (someone is working on it);
* DELIVERED or EXHAUSTED → never republished: the cycle is over.

A missing or RELEASED cycle is republished only :data:`GRACE` after it last changed, so the
sweep does not race an event still on its way or Lambda's own retries (done by about +3 min).
Republishing is safe anyway: the trigger notifies through the ledger, keyed by meeting + cycle.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.components import Runtime
from exec_assistant.errors import ExecAssistantError
from exec_assistant.events.base import BusEvent
from exec_assistant.logs import log_event
from exec_assistant.models import (
    PREP_EVENT_DETAIL_TYPE,
    PREP_EVENT_SOURCE,
    LedgerRecord,
    LedgerState,
    Meeting,
    MeetingPrepRequired,
    MeetingStatus,
)

logger = logging.getLogger(__name__)

#: How long a missing or released cycle is left to the event in flight and Lambda's retries.
GRACE = timedelta(minutes=4)


def prep_event(meeting: Meeting, *, cycle: str | None = None) -> BusEvent:
    """The MeetingPrepRequired event of ``meeting`` (the contract's fields plus context).

    ``cycle`` starts a new prep cycle (a new ledger key), so a meeting already notified is
    notified again; without it the event belongs to the meeting's first cycle.
    """
    detail: dict[str, Any] = {
        "meeting_id": meeting.meeting_id,
        "user_id": meeting.user_id,
        "meeting_type": meeting.meeting_type,
        "start_time": meeting.start_time.isoformat(),
        "title": meeting.title,
    }
    if cycle is not None:
        detail["cycle"] = cycle
    return BusEvent(source=PREP_EVENT_SOURCE, detail_type=PREP_EVENT_DETAIL_TYPE, detail=detail)


def cycle_key(meeting: Meeting) -> str:
    """The ledger key of the meeting's first prep cycle (what its prep event claims)."""
    return MeetingPrepRequired(
        meeting_id=meeting.meeting_id, user_id=meeting.user_id
    ).idempotency_key()


def stuck(meeting: Meeting, record: LedgerRecord | None, now: datetime) -> str | None:
    """Why the cycle of ``record`` needs its event again, or None if it does not."""
    if record is None:
        return "no ledger record" if meeting.updated_at <= now - GRACE else None
    if record.state == LedgerState.RELEASED:
        return "released" if record.updated_at <= now - GRACE else None
    if record.state == LedgerState.IN_PROGRESS and record.lease_expires_at <= now:
        return "lease expired"
    return None


class SweepResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    checked: int = 0
    republished: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)


def sweep(runtime: Runtime, now: datetime | None = None) -> SweepResult:
    """Republish the prep event of every open-window cycle that is stuck (module docstring)."""
    now = now or runtime.clock()
    result = SweepResult()
    pending = runtime.store.list_meetings_in_prep_window(MeetingStatus.PREP_REQUIRED, now)
    for meeting in pending:
        result.checked += 1
        key = cycle_key(meeting)
        try:
            reason = stuck(meeting, runtime.store.get_notification(key), now)
            if reason is None:
                continue
            runtime.bus.publish([prep_event(meeting)])
        except ExecAssistantError as exc:
            result.failed.append(meeting.meeting_id)
            log_event(
                logger,
                logging.ERROR,
                "recovery.republish_failed",
                meeting_id=meeting.meeting_id,
                key=key,
                error_class=exc.error_class,
                error_code=exc.code,
            )
            continue
        result.republished.append(meeting.meeting_id)
        log_event(
            logger,
            logging.WARNING,
            "recovery.republished",
            meeting_id=meeting.meeting_id,
            key=key,
            reason=reason,
        )
    return result
