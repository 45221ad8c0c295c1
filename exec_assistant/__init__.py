"""exec-assistant: get executives ready for their meetings.

Importing the package is cheap: public names are resolved lazily on first attribute access,
so ``import exec_assistant`` pulls in no SDK (slack_sdk, boto3, twilio) until one is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from exec_assistant._version import __version__

_LAZY: dict[str, str] = {
    "User": "exec_assistant.models",
    "Meeting": "exec_assistant.models",
    "MeetingStatus": "exec_assistant.models",
    "ChatSession": "exec_assistant.models",
    "MeetingPrepRequired": "exec_assistant.models",
    "Settings": "exec_assistant.config",
    "get_settings": "exec_assistant.config",
    "Store": "exec_assistant.store",
    "open_store": "exec_assistant.store",
    "NotificationService": "exec_assistant.notifications.service",
    "create_app": "exec_assistant.interfaces.slack_bot",
}

__all__ = [
    "ChatSession",
    "Meeting",
    "MeetingPrepRequired",
    "MeetingStatus",
    "NotificationService",
    "Settings",
    "Store",
    "User",
    "__version__",
    "create_app",
    "get_settings",
    "open_store",
]

if TYPE_CHECKING:
    from exec_assistant.config import Settings, get_settings
    from exec_assistant.interfaces.slack_bot import create_app
    from exec_assistant.models import ChatSession, Meeting, MeetingPrepRequired, MeetingStatus, User
    from exec_assistant.notifications.service import NotificationService
    from exec_assistant.store import Store, open_store


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'exec_assistant' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
