"""Structured JSON logging with ids on every line, and a last-line-of-defence secret scrubber.

Call ``log_event(logger, logging.INFO, "notification.delivered", meeting_id=..., channel=...)``.
Lambda's JSON log format and the local console both get one JSON object per line; on Lambda each
line also carries ``request_id`` (the invocation's, from the runtime's log filter). The field
names the alarms' Logs Insights queries rely on (docs/runbook.md): ``event``, ``level``,
``request_id``, ``event_id``, ``meeting_id``, ``key``, ``channel``, ``attempt``, ``error_class``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from typing import Any

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
#: What :func:`scrub` masks: a snapshot of ``_secrets`` replaced (never changed) under the lock,
#: so reading it on every line takes no lock.
_masked: tuple[str, ...] = ()
_state = {"configured": False}
#: One encoder for every line: what ``json.dumps(payload, default=str)`` builds on each call.
_ENCODER = json.JSONEncoder(default=str)


def register_secret(value: str | None) -> None:
    """Remember a secret value so it is masked if it ever reaches a log line."""
    global _masked  # noqa: PLW0603 - the snapshot is replaced whole, see _masked
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)
            _masked = tuple(_secrets)


def scrub(text: str) -> str:
    for secret in _masked:
        if secret in text:
            text = text.replace(secret, "***")
    return text


#: The level names ``LOG_LEVEL`` accepts.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def parse_log_level(value: str) -> str:
    """``value`` as a level name ``logging`` knows (any case); ``ValueError`` names the choices."""
    name = value.strip().upper()
    if name not in LOG_LEVELS:
        raise ValueError(f"{value!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
    return name


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        # On Lambda the runtime's log filter puts the invocation's request id on every record.
        request_id = getattr(record, "aws_request_id", None)
        if request_id:
            payload["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            payload["exception"] = f"{type(exc).__name__}: {exc}"
        return scrub(_ENCODER.encode(payload))


def configure_logging(level: str | None = None) -> None:
    """Install the JSON formatter on the root logger once (idempotent)."""
    if _state["configured"]:
        return
    root = logging.getLogger()
    root.setLevel(parse_log_level(level or os.environ.get("LOG_LEVEL") or "INFO"))
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    _state["configured"] = True


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log ``event`` with structured ``fields`` (ids, channel, error class, …)."""
    logger.log(level, event, extra={"fields": fields})
