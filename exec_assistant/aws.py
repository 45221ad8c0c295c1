"""boto3 clients, created once per process and reused (Lambda warm starts pay nothing).

boto3 is imported here, on first use, never at package import. Retries use botocore's
``standard`` retry mode (exponential backoff with jitter on throttling and 5xx); the endpoint
comes from boto3's own ``AWS_ENDPOINT_URL`` handling. The region is ``AWS_REGION``, else
``AWS_DEFAULT_REGION``, else boto3's configuration files: botocore itself does not read
``AWS_REGION`` (Lambda sets both; a developer's shell often only the first).
"""

from __future__ import annotations

import os
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
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=read_timeout,
            max_pool_connections=50,
        )
        region_name = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        from botocore.exceptions import NoRegionError

        try:
            created = _session().client(service, region_name=region_name, config=config)
        except NoRegionError:
            from exec_assistant.errors import ConfigurationError

            raise ConfigurationError(
                "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)", code="no_region"
            ) from None
        _clients[key] = created
        return created


def _session() -> Any:
    """The shared boto3 session (call with ``_lock`` held). One session for every client: it
    loads botocore's endpoint and partition data once, so a second client (Secrets Manager,
    Scheduler…) costs its own model only."""
    if _state.get("session") is None:
        import boto3
        import botocore.session

        core = botocore.session.get_session()
        loader = _state.get("loader")
        if loader is not None:  # a fresh session over the data already loaded (after_restore)
            core.register_component("data_loader", loader)
        _state["loader"] = core.get_component("data_loader")
        _state["session"] = boto3.session.Session(botocore_session=core)
    return _state["session"]


def preload(services: tuple[str, ...]) -> None:
    """Do once what building these services' clients costs (botocore's endpoint and partition
    data, the service models, the generated client classes), then forget the clients and the
    session: nothing built here keeps credentials, and no connection is opened (Lambda
    SnapStart's before-snapshot hook; the loaded data stays with the next session)."""
    for service in services:
        client(service)
    after_restore()


def after_restore() -> None:
    """After a SnapStart restore: close the connections of every cached client and forget the
    clients and the session, so the next client resolves credentials in this execution
    environment; botocore's loaded data is kept (a client then costs a few milliseconds)."""
    with _lock:
        for created in _clients.values():
            created.close()
        _clients.clear()
        _state.pop("session", None)


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    with _lock:
        _clients.clear()
        _state.clear()
