"""Fixtures for the pooled Slack client tests: the fake Web API and clients closed after use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from exec_assistant.slack_http import PooledWebClient
from tests.fakes.fixtures import fake_slack

__all__ = ["fake_slack"]

TOKEN = "xoxb-pooled"
ClientFactory = Callable[..., PooledWebClient]


@pytest.fixture(autouse=True)
def _no_proxy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # WebClient picks a proxy up from these; with one, the pool is bypassed on purpose
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """``make_client(base_url=..., **WebClient kwargs)``: a PooledWebClient, closed at teardown."""
    clients: list[PooledWebClient] = []

    def make(**kwargs: Any) -> PooledWebClient:
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("timeout", 5)
        client = PooledWebClient(**kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
