"""SQLite-specific guarantees: the file, WAL, the schema version, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from exec_assistant.errors import ConfigurationError
from exec_assistant.store.sqlite import SCHEMA_VERSION, SQLiteStore
from tests.store.conftest import make_user


def test_file_and_directories_created_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "store.db"
    assert not path.parent.exists()
    store = SQLiteStore(path)
    try:
        assert path.is_file()
    finally:
        store.close()


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "meetings", "chat_sessions", "notifications"} <= tables


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    first = SQLiteStore(path)
    first.put_user(make_user())
    first.close()
    second = SQLiteStore(path)
    try:
        assert second.get_user("usr-1") == make_user()
    finally:
        second.close()


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigurationError, match="schema version") as info:
        SQLiteStore(path)
    assert info.value.error_class == "permanent"  # retrying cannot help; upgrading can


def test_close_releases_connections_opened_by_other_threads(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    worker = threading.Thread(target=lambda: store.put_user(make_user()))
    worker.start()
    worker.join()
    store.close()  # closes the worker thread's connection too
    reopened = SQLiteStore(tmp_path / "store.db")
    try:
        assert reopened.get_user("usr-1") is not None
    finally:
        reopened.close()
