"""Calendar monitor: publish MeetingPrepRequired when a meeting's prep window opens.

Runs every ``CALENDAR_MONITOR_INTERVAL_SECONDS`` locally (:func:`run_forever`) and from a scheduled
EventBridge rule on AWS (:func:`lambda_handler`).

Ordering, and why: for each DISCOVERED meeting whose window has opened
(``start - prep_hours_before <= now < start``) the monitor **publishes first, then** moves it
DISCOVERED → PREP_REQUIRED with a conditional write. The status move is what makes later runs
stop; it is never made before the event is safely on the bus, so a failed publish (or a crash
between the two steps) leaves the meeting DISCOVERED and the next run publishes again. The price
is that concurrent or crashed runs may publish the same meeting twice; that is harmless because
the prep trigger notifies through the ledger keyed by meeting + cycle, which delivers once. The
opposite order (transition first, only the winner publishes) would lose the event for good
whenever the publish failed, as no status may move backwards.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant import coldstart, metrics
from exec_assistant.components import Runtime
from exec_assistant.errors import ExecAssistantError
from exec_assistant.logs import configure_logging, log_event
from exec_assistant.models import Meeting, MeetingStatus
from exec_assistant.workflows.feeds import FeedSyncResult, sync_due_feeds
from exec_assistant.workflows.recovery import SweepResult, prep_event, sweep

__all__ = [
    "MonitorResult",
    "lambda_handler",
    "prep_event",
    "publish_prep_event",
    "run_once",
]

logger = logging.getLogger(__name__)


class MonitorResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    checked: int = 0
    published: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    #: What the recovery sweep at the end of the pass did (:mod:`.recovery`).
    recovery: SweepResult = Field(default_factory=SweepResult)
    #: The registered feeds re-imported first (:mod:`.feeds`).
    feeds: FeedSyncResult = Field(default_factory=FeedSyncResult)


def publish_prep_event(runtime: Runtime, meeting: Meeting, *, cycle: str | None = None) -> str:
    """Publish ``meeting``'s MeetingPrepRequired on the runtime's bus; returns the event id.

    This is what the calendar monitor does when the prep window opens, without the window check:
    use it to send a test event. On the embedded runtime the prep trigger has run (and the
    notification went out) when it returns; on AWS the event is on EventBridge.
    """
    return runtime.bus.publish([prep_event(meeting, cycle=cycle)])[0]


def run_once(runtime: Runtime, now: datetime | None = None) -> MonitorResult:
    """Re-import the registered feeds that are due (:func:`.feeds.sync_due_feeds`), publish
    MeetingPrepRequired for every meeting whose prep window has opened, then run the recovery
    sweep over the cycles already published (:func:`.recovery.sweep`)."""
    now = now or runtime.clock()
    feeds = sync_due_feeds(runtime, now)  # first: moved meetings' windows follow at once
    # Only the meetings whose window is open: an index on the window's opening, not every
    # meeting of the next 14 days.
    candidates = runtime.store.list_meetings_in_prep_window(MeetingStatus.DISCOVERED, now)
    result = MonitorResult(feeds=feeds)
    for meeting in candidates:
        result.checked += 1
        try:
            runtime.bus.publish([prep_event(meeting)])
            runtime.store.transition_meeting(
                meeting.meeting_id,
                MeetingStatus.PREP_REQUIRED,
                now=now,
                expected=(MeetingStatus.DISCOVERED,),
            )
        except ExecAssistantError as exc:
            # Still DISCOVERED (or already moved on by the trigger): the next run retries it.
            result.failed.append(meeting.meeting_id)
            log_event(
                logger,
                logging.ERROR,
                "calendar_monitor.publish_failed",
                meeting_id=meeting.meeting_id,
                error_class=exc.error_class.value,
                error=str(exc),
            )
            continue
        result.published.append(meeting.meeting_id)
        log_event(
            logger,
            logging.INFO,
            "calendar_monitor.published",
            meeting_id=meeting.meeting_id,
            user_id=meeting.user_id,
            start_time=meeting.start_time.isoformat(),
        )
    result.recovery = sweep(runtime, now)
    return result


@coldstart.lambda_entry
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Entry for the scheduled EventBridge rule."""
    from exec_assistant.runtime import get_runtime  # the entry reaches the root

    configure_logging()
    result = run_once(get_runtime())
    # the "monitor has not run" alarm watches this: a run that raised never gets here
    metrics.emit(
        metrics.Metric.CALENDAR_MONITOR_RUN,
        published=len(result.published),
        failed=len(result.failed),
    )
    if result.recovery.republished:
        metrics.emit(metrics.Metric.CYCLES_RECOVERED, len(result.recovery.republished))
    return result.model_dump(mode="json")


def run_forever(runtime: Runtime, stop: threading.Event, interval: float | None = None) -> None:
    """Run the monitor every ``interval`` seconds (default from settings) until ``stop``."""
    period = interval or runtime.settings.calendar_monitor_interval_seconds
    while not stop.is_set():
        try:
            run_once(runtime)
        except Exception as exc:  # noqa: BLE001 - the loop must outlive one bad run; logged
            log_event(
                logger,
                logging.ERROR,
                "calendar_monitor.run_failed",
                error=f"{type(exc).__name__}: {exc}",
            )
        stop.wait(period)
