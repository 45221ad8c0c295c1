"""open_store(): EXEC_ASSISTANT_STORE picks the implementation; the defaults are sensible."""

from __future__ import annotations

from pathlib import Path

import pytest
from moto import mock_aws

from exec_assistant.config import Settings
from exec_assistant.errors import ConfigurationError
from exec_assistant.store import default_sqlite_path, open_store
from exec_assistant.store.dynamodb import DynamoDBStore
from exec_assistant.store.sqlite import SQLiteStore


def test_sqlite_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "data" / "ea.db"
    monkeypatch.setenv("EXEC_ASSISTANT_STORE", f"sqlite:///{path}")
    store = open_store()
    try:
        assert isinstance(store, SQLiteStore)
        assert store.path == path
        assert path.is_file()
    finally:
        store.close()


def test_default_is_sqlite_under_xdg_data_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    expected = tmp_path / "xdg" / "exec-assistant" / "exec-assistant.db"
    assert default_sqlite_path() == expected
    store = open_store(Settings())
    try:
        assert isinstance(store, SQLiteStore)
        assert store.path == expected
        assert expected.is_file()
    finally:
        store.close()


def test_default_without_xdg_is_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_sqlite_path() == tmp_path / ".local/share/exec-assistant/exec-assistant.db"


def test_dynamodb_with_table_names_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXEC_ASSISTANT_STORE", "dynamodb")
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("USERS_TABLE_NAME", "custom-users")
    with mock_aws():
        store = open_store()
        assert isinstance(store, DynamoDBStore)
        assert store.tables == {
            "users": "custom-users",
            "meetings": "exec-assistant-meetings-prod",
            "chat_sessions": "exec-assistant-chat-sessions-prod",
            "notifications": "exec-assistant-notifications-prod",
        }
        store.create_tables()
        assert store.get_user("nobody") is None


def test_default_on_lambda_is_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "exec-assistant-prep-trigger-dev")
    with mock_aws():
        assert isinstance(open_store(Settings()), DynamoDBStore)


@pytest.mark.parametrize("url", ["postgres://db", "sqlite://relative.db", "sqlite:///", "Dynamo"])
def test_bad_store_url_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("EXEC_ASSISTANT_STORE", url)
    with pytest.raises(ConfigurationError, match="EXEC_ASSISTANT_STORE"):
        open_store()
