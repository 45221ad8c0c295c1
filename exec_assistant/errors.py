"""Error taxonomy shared by every layer: each error says whether retrying can help."""

from __future__ import annotations

from exec_assistant.models import ErrorClass


class ExecAssistantError(Exception):
    """Base class. ``error_class`` tells callers whether to retry, move on, or stop."""

    error_class: ErrorClass = ErrorClass.UNKNOWN

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PermanentError(ExecAssistantError):
    """Retrying the same input cannot succeed (bad input, unknown id, refused by provider)."""

    error_class = ErrorClass.PERMANENT


class TransientError(ExecAssistantError):
    """A dependency is temporarily unavailable; the same request may succeed later."""

    error_class = ErrorClass.TRANSIENT


class ConfigurationError(PermanentError):
    """A required setting is missing or invalid. The message names the setting, never a value."""


class StoreUnavailableError(TransientError):
    """The store could not be reached or throttled us."""


class NotFoundError(PermanentError):
    """A referenced user, meeting or session does not exist."""


class RefusedError(PermanentError):
    """The request names things that exist but their state does not allow it (cancelling a
    completed meeting, removing a user who still owns meetings). Nothing was changed."""


class LeaseLostError(ExecAssistantError):
    """A ledger write was refused because another worker now owns the claim."""

    error_class = ErrorClass.UNKNOWN
