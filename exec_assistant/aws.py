"""boto3 clients, created once per process and reused (Lambda warm starts pay nothing).

boto3 is imported here, on first use, never at package import. Retries use botocore's
``standard`` retry mode (exponential backoff with jitter on throttling and 5xx); the endpoint
comes from boto3's own ``AWS_ENDPOINT_URL`` handling.
"""

from __future__ import annotations

import threading
from typing import Any

#: Seconds to establish a connection to an AWS endpoint.
CONNECT_TIMEOUT = 3

_clients: dict[tuple[str, str | None, int, int], Any] = {}
_state: dict[str, Any] = {}
_lock = threading.Lock()


def client(
    service: str, *, region: str | None = None, max_attempts: int = 3, read_timeout: int = 10
) -> Any:
    """A cached boto3 client for ``service`` with standard retries and short timeouts
    (:data:`CONNECT_TIMEOUT` seconds to connect, ``read_timeout`` to read). ``max_attempts`` is
    botocore's ``retries["max_attempts"]``, which counts the retries after the first try."""
    key = (service, region, max_attempts, read_timeout)
    with _lock:
        existing = _clients.get(key)
        if existing is not None:
            return existing
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=read_timeout,
            max_pool_connections=50,
        )
        if _state.get("session") is None:
            # One session for every client: it loads botocore's endpoint and partition data once,
            # so a second client (Secrets Manager, Scheduler…) costs its own model only.
            _state["session"] = boto3.session.Session()
        created = _state["session"].client(service, region_name=region, config=config)
        _clients[key] = created
        return created


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    with _lock:
        _clients.clear()
        _state.clear()
