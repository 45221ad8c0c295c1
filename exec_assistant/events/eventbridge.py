"""EventBus on Amazon EventBridge (``put_events``).

``put_events`` is not all-or-nothing: it can succeed as a call while some entries fail
(``FailedEntryCount`` > 0, an ``ErrorCode`` per failed entry). Those entries, and only those, are
sent again with exponential backoff; what still fails after the last attempt raises
:class:`~exec_assistant.errors.TransientError`, so the caller's own retry (Lambda async retries,
the calendar monitor's next run) takes over. botocore's ``standard`` retry mode already retries
throttling and 5xx of the call itself.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from exec_assistant.errors import TransientError
from exec_assistant.events.base import BusEvent
from exec_assistant.logs import log_event

logger = logging.getLogger(__name__)

#: EventBridge accepts at most 10 entries per ``put_events`` call.
MAX_BATCH = 10


class EventBridgeBus:
    """Publish :class:`BusEvent` s on one EventBridge bus."""

    def __init__(
        self,
        bus_name: str,
        client: Any = None,
        *,
        max_attempts: int = 3,
        base_delay: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.bus_name = bus_name
        self._client = client
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._sleep = sleep

    @property
    def client(self) -> Any:
        if self._client is None:
            from exec_assistant.aws import client

            self._client = client("events")
        return self._client

    def _entry(self, event: BusEvent) -> dict[str, Any]:
        return {
            "EventBusName": self.bus_name,
            "Source": event.source,
            "DetailType": event.detail_type,
            "Detail": json.dumps(event.detail, separators=(",", ":"), default=str),
        }

    def publish(self, events: list[BusEvent]) -> list[str]:
        """Put ``events``; return their EventBridge ids in input order."""
        ids: list[str] = []
        for offset in range(0, len(events), MAX_BATCH):
            ids.extend(
                self._put_batch([self._entry(e) for e in events[offset : offset + MAX_BATCH]])
            )
        return ids

    def _put_batch(self, entries: list[dict[str, Any]]) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        ids: list[str | None] = [None] * len(entries)
        pending = list(range(len(entries)))
        errors: dict[int, str] = {}
        for attempt in range(self._max_attempts):
            if attempt:
                self._sleep(self._base_delay * 2 ** (attempt - 1))
            try:
                response = self.client.put_events(Entries=[entries[i] for i in pending])
            except (ClientError, BotoCoreError) as exc:
                raise TransientError(
                    f"EventBridge put_events failed: {type(exc).__name__}", code="put_events"
                ) from exc
            still_failing: list[int] = []
            for index, result in zip(pending, response.get("Entries", []), strict=True):
                if result.get("EventId"):
                    ids[index] = str(result["EventId"])
                else:
                    errors[index] = str(result.get("ErrorCode") or "unknown")
                    still_failing.append(index)
            pending = still_failing
            if not pending:
                return [i for i in ids if i is not None]
            log_event(
                logger,
                logging.WARNING,
                "eventbridge.entries_failed",
                bus=self.bus_name,
                attempt=attempt + 1,
                failed=len(pending),
                error_codes=sorted({errors[i] for i in pending}),
            )
        codes = sorted({errors[i] for i in pending})
        raise TransientError(
            f"{len(pending)} of {len(entries)} events not accepted by EventBridge after "
            f"{self._max_attempts} attempts: {', '.join(codes)}",
            code=codes[0],
        )
