"""Event bus and one-time scheduler protocols (EventBridge / EventBridge Scheduler / local)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


class BusEvent(BaseModel):
    """An event to publish: EventBridge's Source / DetailType / Detail."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    source: str
    detail_type: str
    detail: dict[str, Any]


class EventBus(Protocol):
    def publish(self, events: list[BusEvent]) -> list[str]:
        """Publish events; return their ids. Raises TransientError if some could not be put."""
        ...


class ScheduledEvent(BaseModel):
    """A one-time delayed event. ``name`` is unique per reminder, at most 64 characters."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-zA-Z\-_.]+$")
    fire_at: datetime
    event: BusEvent


class Scheduler(Protocol):
    def schedule(self, item: ScheduledEvent) -> None:
        """Create the schedule; creating the same name again is a no-op (idempotent)."""
        ...

    def cancel(self, name: str) -> bool:
        """Delete the schedule; returns False if it did not exist (already fired or cancelled)."""
        ...

    def pending(self, prefix: str = "") -> list[ScheduledEvent]:
        """Schedules not yet fired whose name starts with ``prefix``, by fire time then name."""
        ...

    def reschedule(self, item: ScheduledEvent) -> bool:
        """Move the pending schedule ``item.name`` to ``item.fire_at`` (with ``item.event``).

        Returns False, changing nothing, if no such schedule is pending (it fired, was
        cancelled, or is firing right now): a re-plan never resurrects work that already ran.
        """
        ...
