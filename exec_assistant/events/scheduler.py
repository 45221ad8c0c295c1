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
from exec_assistant.events.base import ScheduledEvent
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


class EventBridgeScheduler:
    """One-time schedules in an EventBridge Scheduler group, targeting the event bus."""

    def __init__(self, group_name: str, role_arn: str, target_arn: str, client: Any = None) -> None:
        self.group_name = group_name
        self.role_arn = role_arn
        self.target_arn = target_arn
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from exec_assistant.aws import client

            self._client = client("scheduler")
        return self._client

    def schedule(self, item: ScheduledEvent) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.create_schedule(
                Name=item.name,
                GroupName=self.group_name,
                ScheduleExpression=at_expression(item.fire_at),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                State="ENABLED",
                Target={
                    "Arn": self.target_arn,
                    "RoleArn": self.role_arn,
                    "EventBridgeParameters": {
                        "DetailType": item.event.detail_type,
                        "Source": item.event.source,
                    },
                    "Input": json.dumps(item.event.detail, separators=(",", ":"), default=str),
                },
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "ConflictException":
                log_event(logger, logging.INFO, "scheduler.exists", name=item.name)
                return
            raise _classify(exc, code, f"create_schedule {item.name}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"create_schedule failed: {type(exc).__name__}") from exc
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


def _classify(exc: Exception, code: str, what: str) -> ExecAssistantError:
    status = 0
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _TRANSIENT_CODES or status >= 500:
        return TransientError(f"{what}: {code}", code=code)
    return PermanentError(f"{what}: {code}", code=code)
