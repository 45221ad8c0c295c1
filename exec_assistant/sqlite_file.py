"""Thread-local connections and write transactions on one SQLite file (stdlib sqlite3, WAL).

Shared by the SQLite store and the local scheduler, which may live in the same file.
``transaction()`` opens with ``BEGIN IMMEDIATE``, taking SQLite's write lock up front, so a
read-check-write inside it is atomic across threads *and* processes. Every sqlite3 failure
surfaces as :class:`~exec_assistant.errors.StoreUnavailableError` naming ``label``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from exec_assistant.errors import StoreUnavailableError


class SQLiteFile:
    """One connection per thread on ``path``; ``close()`` releases every thread's connection."""

    def __init__(self, path: str | Path, *, label: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.label = label
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                # Each connection is used by its own thread only; check_same_thread=False just
                # lets close() release every thread's connection.
                conn = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=30000")
            except sqlite3.Error as exc:
                raise StoreUnavailableError(f"cannot open {self.label} {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"{self.label} busy: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreUnavailableError(f"{self.label} commit failed: {exc}") from exc

    def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one writing statement on its own (SQLite makes it atomic: its own transaction,
        under the write lock); returns how many rows it changed."""
        try:
            return self.connection().execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"{self.label} write failed: {exc}") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return list(self.connection().execute(sql, params).fetchall())
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"{self.label} query failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
