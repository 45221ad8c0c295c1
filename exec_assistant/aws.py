"""boto3 clients, created once per process and reused (Lambda warm starts pay nothing).

boto3 is imported here, on first use, never at package import. Retries use botocore's
``standard`` retry mode (exponential backoff with jitter on throttling and 5xx); the endpoint
comes from boto3's own ``AWS_ENDPOINT_URL`` handling.
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[tuple[str, str | None], Any] = {}
_lock = threading.Lock()


def client(service: str, *, region: str | None = None, max_attempts: int = 3) -> Any:
    """A cached boto3 client for ``service`` with standard retries and short timeouts."""
    key = (service, region)
    with _lock:
        existing = _clients.get(key)
        if existing is not None:
            return existing
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=3,
            read_timeout=10,
            max_pool_connections=50,
        )
        created = boto3.session.Session().client(service, region_name=region, config=config)  # type: ignore[call-overload]
        _clients[key] = created
        return created


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    with _lock:
        _clients.clear()
