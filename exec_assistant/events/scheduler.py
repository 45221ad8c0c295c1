"""One-time delayed events on AWS: EventBridge Scheduler (the local, SQLite-backed one is
:mod:`exec_assistant.events.local_scheduler`, kept apart so AWS never imports sqlite3).

Both implement :class:`~exec_assistant.events.base.Scheduler`: ``schedule`` is idempotent by
name, ``cancel`` says whether something was deleted. A fired schedule is gone (EventBridge
Scheduler's ``ActionAfterCompletion=DELETE``; the local one deletes its row), so a late ``cancel``
returns False on both.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from exec_assistant.errors import (
    ConfigurationError,
    ExecAssistantError,
    PermanentError,
    TransientError,
)
from exec_assistant.events.base import BusEvent, ScheduledEvent
from exec_assistant.logs import log_event
from exec_assistant.models import iso_utc

logger = logging.getLogger(__name__)


def at_expression(fire_at: datetime) -> str:
    """EventBridge Scheduler's one-time expression, in UTC, to the second."""
    if fire_at.tzinfo is None:
        raise ValueError("fire_at must be timezone-aware")
    return f"at({fire_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


_TRANSIENT_CODES = frozenset(
    {"ThrottlingException", "InternalServerException", "ServiceQuotaExceededException"}
)


class UnavailableScheduler:
    """The scheduler of an AWS deployment without EventBridge Scheduler.

    A stack deployed with ``enable_prep_notification=false`` has no schedule group, yet its
    Slack bot must still start and answer ``/meetings``: nothing can be pending, so ``cancel``
    finds nothing, and ``schedule`` is a configuration error that says what is missing.
    """

    def schedule(self, item: ScheduledEvent) -> None:
        raise ConfigurationError(
            f"cannot schedule {item.name}: reminders and escalations need EventBridge "
            "Scheduler, and SCHEDULER_GROUP_NAME is not set",
            code="scheduler_disabled",
        )

    def cancel(self, name: str) -> bool:
        return False

    def pending(self, prefix: str = "") -> list[ScheduledEvent]:
        return []

    def reschedule(self, item: ScheduledEvent) -> bool:
        return False


class EventBridgeScheduler:
    """One-time schedules in an EventBridge Scheduler group, targeting the event bus."""

    def __init__(
        self,
        group_name: str,
        role_arn: str,
        target_arn: str,
        client: Any = None,
        *,
        dlq_arn: str | None = None,
    ) -> None:
        self.group_name = group_name
        self.role_arn = role_arn
        self.target_arn = target_arn
        #: where Scheduler puts an event it could not deliver after its retries
        self.dlq_arn = dlq_arn
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from exec_assistant.aws import client

            self._client = client("scheduler")
        return self._client

    def _definition(
        self, name: str, event: BusEvent, expression: str, timezone: str = "UTC"
    ) -> dict[str, Any]:
        """The create/update_schedule arguments (both take the full definition). A one-time
        ``at()`` schedule deletes itself after firing; a recurring one stays."""
        target: dict[str, Any] = {
            "Arn": self.target_arn,
            "RoleArn": self.role_arn,
            "EventBridgeParameters": {
                "DetailType": event.detail_type,
                "Source": event.source,
            },
            "Input": json.dumps(event.detail, separators=(",", ":"), default=str),
        }
        if self.dlq_arn:
            target["DeadLetterConfig"] = {"Arn": self.dlq_arn}
        definition: dict[str, Any] = {
            "Name": name,
            "GroupName": self.group_name,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": target,
        }
        if expression.startswith("at("):
            definition["ActionAfterCompletion"] = "DELETE"
        return definition

    def _put(self, operation: str, definition: dict[str, Any], tolerated: str) -> bool:
        """``create_schedule`` / ``update_schedule``; False on the ``tolerated`` error code
        (the schedule exists / is gone), errors classified otherwise."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            getattr(self.client, operation)(**definition)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == tolerated:
                return False
            raise _classify(exc, code, f"{operation} {definition['Name']}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"{operation} failed: {type(exc).__name__}") from exc
        return True

    def schedule(self, item: ScheduledEvent) -> None:
        definition = self._definition(item.name, item.event, at_expression(item.fire_at))
        if not self._put("create_schedule", definition, "ConflictException"):
            log_event(logger, logging.INFO, "scheduler.exists", name=item.name)
            return
        log_event(
            logger,
            logging.INFO,
            "scheduler.created",
            name=item.name,
            fire_at=iso_utc(item.fire_at),
            group=self.group_name,
        )

    def cancel(self, name: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_schedule(Name=name, GroupName=self.group_name)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "ResourceNotFoundException":
                return False
            raise _classify(exc, code, f"delete_schedule {name}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"delete_schedule failed: {type(exc).__name__}") from exc
        log_event(logger, logging.INFO, "scheduler.cancelled", name=name, group=self.group_name)
        return True

    def pending(self, prefix: str = "") -> list[ScheduledEvent]:
        """The group's schedules named ``prefix…`` (ListSchedules, then GetSchedule each: the
        list does not carry the expression or the input)."""
        from botocore.exceptions import BotoCoreError, ClientError

        items: list[ScheduledEvent] = []
        try:
            pages = self.client.get_paginator("list_schedules").paginate(
                GroupName=self.group_name, NamePrefix=prefix
            )
            names = [entry["Name"] for page in pages for entry in page.get("Schedules", [])]
            for name in names:
                item = self._read(name)
                if item is not None:
                    items.append(item)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            raise _classify(exc, code, f"list_schedules {prefix}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"list_schedules failed: {type(exc).__name__}") from exc
        return sorted(items, key=lambda i: (i.fire_at, i.name))

    def _read(self, name: str) -> ScheduledEvent | None:
        from botocore.exceptions import ClientError

        try:
            found = self.client.get_schedule(Name=name, GroupName=self.group_name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None  # fired (and deleted) between the list and the read
            raise
        target = found["Target"]
        parameters = target.get("EventBridgeParameters", {})
        expression = str(found["ScheduleExpression"])
        return ScheduledEvent(
            name=name,
            fire_at=datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC),
            event=BusEvent(
                source=str(parameters.get("Source", "")),
                detail_type=str(parameters.get("DetailType", "")),
                detail=json.loads(target.get("Input") or "{}"),
            ),
        )

    def reschedule(self, item: ScheduledEvent) -> bool:
        definition = self._definition(item.name, item.event, at_expression(item.fire_at))
        moved = self._put("update_schedule", definition, "ResourceNotFoundException")
        log_event(
            logger,
            logging.INFO,
            "scheduler.rescheduled" if moved else "scheduler.reschedule_missing",
            name=item.name,
            fire_at=iso_utc(item.fire_at),
            group=self.group_name,
        )
        return moved

    def schedule_recurring(
        self, name: str, expression: str, timezone: str, event: BusEvent
    ) -> None:
        """Create or update the recurring schedule ``name`` (``cron(...)`` in ``timezone``)."""
        definition = self._definition(name, event, expression, timezone)
        if not self._put("update_schedule", definition, "ResourceNotFoundException"):
            self._put("create_schedule", definition, "ConflictException")
        log_event(
            logger,
            logging.INFO,
            "scheduler.recurring_set",
            name=name,
            expression=expression,
            timezone=timezone,
            group=self.group_name,
        )


def _classify(exc: Exception, code: str, what: str) -> ExecAssistantError:
    status = 0
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _TRANSIENT_CODES or status >= 500:
        return TransientError(f"{what}: {code}", code=code)
    return PermanentError(f"{what}: {code}", code=code)
