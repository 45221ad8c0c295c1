"""exec-assistant: get executives ready for their meetings.

The public API is what ``__all__`` names; everything else may change between releases.

* the models and their fields: :class:`User` (with :class:`NotificationPreferences` and
  :class:`QuietHours`), :class:`Meeting`, :class:`MeetingStatus`, :class:`ChatSession`,
  :class:`Channel`, the ledger's :class:`LedgerRecord` and :class:`DeliveryAttempt`, and the event
  detail :class:`MeetingPrepRequired`;
* configuration: :class:`Settings` (from the environment), :func:`get_settings`;
* persistence: the :class:`Store` protocol and :func:`open_store`;
* a whole runtime: :func:`build_runtime` returns a :class:`Runtime` (store, bus, scheduler,
  channels, notification service); :func:`publish_prep_event` sends a meeting's
  MeetingPrepRequired through it;
* notifications: :class:`NotificationService` and its :class:`NotificationResult`;
* Slack: :func:`create_app` builds the Bolt app for a runtime;
* errors: :class:`ExecAssistantError` and its classes :class:`TransientError`,
  :class:`PermanentError`, :class:`ConfigurationError`.

Importing the package is cheap: public names are resolved lazily on first attribute access,
so ``import exec_assistant`` pulls in no SDK (slack_sdk, boto3, twilio) until one is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from exec_assistant import coldstart
from exec_assistant._version import __version__

#: The first code any Lambda handler runs: no garbage collection until its first invocation
#: ends (see :mod:`exec_assistant.coldstart`; nothing changes outside Lambda).
coldstart.pause_on_lambda()

_LAZY: dict[str, str] = {
    "User": "exec_assistant.models",
    "NotificationPreferences": "exec_assistant.models",
    "QuietHours": "exec_assistant.models",
    "Meeting": "exec_assistant.models",
    "MeetingStatus": "exec_assistant.models",
    "ChatSession": "exec_assistant.models",
    "Channel": "exec_assistant.models",
    "LedgerRecord": "exec_assistant.models",
    "DeliveryAttempt": "exec_assistant.models",
    "MeetingPrepRequired": "exec_assistant.models",
    "Settings": "exec_assistant.config",
    "get_settings": "exec_assistant.config",
    "Store": "exec_assistant.store",
    "open_store": "exec_assistant.store",
    "Runtime": "exec_assistant.components",
    "build_runtime": "exec_assistant.runtime",
    "publish_prep_event": "exec_assistant.workflows.calendar_monitor",
    "NotificationService": "exec_assistant.notifications.service",
    "NotificationResult": "exec_assistant.notifications.types",
    "create_app": "exec_assistant.interfaces.slack_bot",
    "ExecAssistantError": "exec_assistant.errors",
    "TransientError": "exec_assistant.errors",
    "PermanentError": "exec_assistant.errors",
    "ConfigurationError": "exec_assistant.errors",
}

__all__ = [
    "Channel",
    "ChatSession",
    "ConfigurationError",
    "DeliveryAttempt",
    "ExecAssistantError",
    "LedgerRecord",
    "Meeting",
    "MeetingPrepRequired",
    "MeetingStatus",
    "NotificationPreferences",
    "NotificationResult",
    "NotificationService",
    "PermanentError",
    "QuietHours",
    "Runtime",
    "Settings",
    "Store",
    "TransientError",
    "User",
    "__version__",
    "build_runtime",
    "create_app",
    "get_settings",
    "open_store",
    "publish_prep_event",
]

if TYPE_CHECKING:
    from exec_assistant.components import Runtime
    from exec_assistant.config import Settings, get_settings
    from exec_assistant.errors import (
        ConfigurationError,
        ExecAssistantError,
        PermanentError,
        TransientError,
    )
    from exec_assistant.interfaces.slack_bot import create_app
    from exec_assistant.models import (
        Channel,
        ChatSession,
        DeliveryAttempt,
        LedgerRecord,
        Meeting,
        MeetingPrepRequired,
        MeetingStatus,
        NotificationPreferences,
        QuietHours,
        User,
    )
    from exec_assistant.notifications.service import NotificationService
    from exec_assistant.notifications.types import NotificationResult
    from exec_assistant.runtime import build_runtime
    from exec_assistant.store import Store, open_store
    from exec_assistant.workflows.calendar_monitor import publish_prep_event


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'exec_assistant' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
