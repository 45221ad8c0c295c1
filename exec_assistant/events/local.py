"""In-process EventBus for the embedded runtime.

Subscribers receive the same envelope dict EventBridge hands a Lambda target (``version``, ``id``,
``detail-type``, ``source``, ``account``, ``time``, ``region``, ``resources``, ``detail``), so the
prep trigger runs the very code path it runs on AWS.

Delivery is synchronous, in the publisher's thread. A subscriber that raises makes ``publish``
raise: this stands in for EventBridge + Lambda's asynchronous retries. The publishers keep their
own at-least-once loop (the calendar monitor leaves the meeting DISCOVERED and publishes again on
its next run; the local scheduler releases the due event and fires it on its next tick), and the
notification ledger makes the repeated delivery harmless.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from exec_assistant.events.base import BusEvent
from exec_assistant.logs import log_event
from exec_assistant.models import utcnow

logger = logging.getLogger(__name__)

Subscriber = Callable[[Mapping[str, Any]], object]


class LocalEventBus:
    """Routes each event to the subscribers of its (source, detail-type)."""

    def __init__(
        self,
        *,
        account: str = "000000000000",
        region: str = "local",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.account = account
        self.region = region
        self._clock = clock
        self._subscribers: dict[tuple[str, str], list[Subscriber]] = {}
        self._lock = threading.Lock()

    def subscribe(self, source: str, detail_type: str, handler: Subscriber) -> None:
        with self._lock:
            self._subscribers.setdefault((source, detail_type), []).append(handler)

    def envelope(self, event: BusEvent, event_id: str) -> dict[str, Any]:
        """The EventBridge envelope of ``event`` (detail round-trips through JSON, as on AWS)."""
        return {
            "version": "0",
            "id": event_id,
            "detail-type": event.detail_type,
            "source": event.source,
            "account": self.account,
            "time": self._clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [],
            "detail": json.loads(json.dumps(event.detail, default=str)),
        }

    def publish(self, events: list[BusEvent]) -> list[str]:
        ids: list[str] = []
        for event in events:
            event_id = str(uuid.uuid4())
            with self._lock:
                handlers = list(self._subscribers.get((event.source, event.detail_type), ()))
            log_event(
                logger,
                logging.INFO,
                "local_bus.published",
                event_id=event_id,
                source=event.source,
                detail_type=event.detail_type,
                subscribers=len(handlers),
            )
            envelope = self.envelope(event, event_id)
            for handler in handlers:
                handler(envelope)
            ids.append(event_id)
        return ids
