"""Stores: one protocol, SQLite (embedded default) and DynamoDB (AWS).

``open_store()`` picks the implementation from ``EXEC_ASSISTANT_STORE``:
``sqlite:///path/to/file.db`` or ``dynamodb``. Unset: DynamoDB on Lambda, otherwise SQLite at
``$XDG_DATA_HOME/exec-assistant/exec-assistant.db`` (``~/.local/share/...``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from exec_assistant.config import SettingsModel, get_settings, running_on_lambda
from exec_assistant.errors import ConfigurationError
from exec_assistant.store.base import Store

if TYPE_CHECKING:
    from exec_assistant.store.dynamodb import DynamoDBStore
    from exec_assistant.store.sqlite import SQLiteStore

__all__ = ["Store", "default_sqlite_path", "open_store"]


def default_sqlite_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "exec-assistant" / "exec-assistant.db"


def open_store(settings: SettingsModel | None = None) -> Store:
    """Build the configured store. A bad ``EXEC_ASSISTANT_STORE`` is a ConfigurationError."""
    settings = settings or get_settings()
    url = settings.exec_assistant_store
    if not url:
        url = "dynamodb" if running_on_lambda() else f"sqlite:///{default_sqlite_path()}"
    if url == "dynamodb":
        from exec_assistant.store.dynamodb import DynamoDBStore

        dynamo: DynamoDBStore = DynamoDBStore.from_settings(settings)
        return dynamo
    if url.startswith("sqlite:///"):
        from exec_assistant.store.sqlite import SQLiteStore

        path = url.removeprefix("sqlite:///")
        if not path:
            raise ConfigurationError("EXEC_ASSISTANT_STORE=sqlite:/// needs a file path")
        sqlite: SQLiteStore = SQLiteStore(Path(path).expanduser())
        return sqlite
    raise ConfigurationError(
        "EXEC_ASSISTANT_STORE must be sqlite:///path/to/file.db or dynamodb", code="bad_store_url"
    )
