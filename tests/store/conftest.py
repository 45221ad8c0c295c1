"""The ``store`` fixture: every contract test runs once per Store implementation.

* ``sqlite``: a fresh file under ``tmp_path``.
* ``dynamodb``: moto (``mock_aws``) with the tables built by ``DynamoDBStore.create_tables``.
* ``dynalite``: only with ``STORE_CONTRACT_DYNALITE=1`` — the same suite against a real second
  DynamoDB engine (``npx dynalite``, on 127.0.0.1). Not part of CI by default.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from exec_assistant.config import Settings
from exec_assistant.models import Meeting, User
from exec_assistant.store.base import Store
from exec_assistant.store.dynamodb import DynamoDBStore
from exec_assistant.store.sqlite import SQLiteStore
from tests.emf import emf  # noqa: F401 - the EMF capture fixture

#: A fixed clock for every store test: time is injected, never read.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

BACKENDS = ["sqlite", "dynamodb"]
if os.environ.get("STORE_CONTRACT_DYNALITE") == "1":
    BACKENDS.append("dynalite")


def make_user(user_id: str = "usr-1", **overrides: Any) -> User:
    fields: dict[str, Any] = {
        "user_id": user_id,
        "slack_user_id": "U0" + user_id.upper().replace("-", ""),
        "name": "Ada Exec",
        "email": "ada@example.com",
        "phone": "+14155550123",
        "timezone": "America/New_York",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return User(**(fields | overrides))


def make_meeting(
    meeting_id: str = "mtg-1", *, user_id: str = "usr-1", hours: float = 24, **overrides: Any
) -> Meeting:
    start = NOW + timedelta(hours=hours)
    fields: dict[str, Any] = {
        "meeting_id": meeting_id,
        "user_id": user_id,
        "title": "Q4 Business Review",
        "start_time": start,
        "end_time": start + timedelta(hours=1),
        "attendees": ["cfo@example.com"],
        "organizer": "ceo@example.com",
        "meeting_type": "qbr",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Meeting(**(fields | overrides))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def dynalite_endpoint() -> Iterator[str]:
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [
            npx,
            "--yes",
            "dynalite",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--createTableMs",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):  # npx may need to install it first
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.skip("dynalite did not start")
                time.sleep(0.1)
        else:
            pytest.skip("dynalite did not start in time")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _dynamodb_store(environment: str) -> DynamoDBStore:
    store = DynamoDBStore.from_settings(Settings(environment=environment))
    store.create_tables()
    return store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    backend: str = request.param
    if backend == "sqlite":
        sqlite = SQLiteStore(tmp_path / "store.db")
        yield sqlite
        sqlite.close()
    elif backend == "dynamodb":
        # Real DynamoDB applies each request to an item atomically; moto does not (an UpdateItem
        # that creates an item first stores the bare key, then applies the SETs, so a concurrent
        # reader sees a half-built item). Serializing moto's request handling restores the
        # per-request atomicity the store relies on — and nothing more: a claim built from two
        # requests could still interleave between them, so the concurrency test still bites.
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        lock = threading.Lock()
        handle = DynamoHandler.call_action

        def atomic_call_action(self: DynamoHandler) -> Any:
            with lock:
                return handle(self)

        monkeypatch.setattr(DynamoHandler, "call_action", atomic_call_action)
        with mock_aws():
            yield _dynamodb_store("test")
    else:
        endpoint: str = request.getfixturevalue("dynalite_endpoint")
        request.getfixturevalue("monkeypatch").setenv("AWS_ENDPOINT_URL", endpoint)
        yield _dynamodb_store("t" + uuid.uuid4().hex[:12])


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every Meeting the store validates (both backends build them through pydantic)."""
    seen: list[str] = []
    by_dict, by_json = Meeting.model_validate, Meeting.model_validate_json

    def from_dict(obj: Any, *args: Any, **kwargs: Any) -> Meeting:
        meeting = by_dict(obj, *args, **kwargs)
        seen.append(meeting.meeting_id)
        return meeting

    def from_json(data: Any, *args: Any, **kwargs: Any) -> Meeting:
        meeting = by_json(data, *args, **kwargs)
        seen.append(meeting.meeting_id)
        return meeting

    monkeypatch.setattr(Meeting, "model_validate", from_dict)
    monkeypatch.setattr(Meeting, "model_validate_json", from_json)
    yield seen
