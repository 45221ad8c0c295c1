"""What a handler may say about an event it could not read: its id and why, never its values.

Shared by the Lambda entries that take EventBridge envelopes (the prep trigger, the SES email
events): a rejected event is logged with :func:`event_id` and :func:`describe_invalid`.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError


def event_id(envelope: object) -> str | None:
    """The envelope's id for the log line, whatever the envelope is (bounded, printable)."""
    if isinstance(envelope, Mapping):
        value = envelope.get("id")
        if value is not None:
            text = str(value)[:256]
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return None


def describe_invalid(exc: ValueError) -> str:
    """A short, value-free description of why the event is invalid."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}"
            for err in exc.errors()
        )
    return str(exc)
