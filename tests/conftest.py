"""Suite-wide guards: no test may reach the network beyond loopback, nor real AWS credentials."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if isinstance(address, tuple) and self.family in (socket.AF_INET, socket.AF_INET6):
        host = str(address[0])
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"test tried to reach {host}: tests may only use 127.0.0.1")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    for name in list(os.environ):
        if name.startswith(("SLACK_", "TWILIO_", "SES_", "EXEC_ASSISTANT_", "AWS_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    from exec_assistant.aws import reset_clients
    from exec_assistant.config import clear_secret_cache, get_settings

    get_settings.cache_clear()
    reset_clients()
    clear_secret_cache()
    yield
    get_settings.cache_clear()
    reset_clients()
