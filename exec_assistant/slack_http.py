"""A slack_sdk ``WebClient`` that keeps its HTTP connections open between calls.

slack_sdk's sync ``WebClient`` sends every call with ``urllib.request.urlopen``, which opens a
new connection each time (and asks the server to close it): on AWS every Slack call pays a TCP
and TLS handshake. slack_sdk has no pooling option for the sync client, so
:class:`PooledWebClient` overrides its one transport method,
``BaseClient._perform_urllib_http_request_internal(url, req)`` — a private method — to send
through a urllib3 connection pool owned by the client. Everything above that method (request
building, the retry loop and its retry handlers, ``SlackResponse``) is slack_sdk's own.

A private method can change in any release, so the override is only ever used on the slack_sdk
releases it was read against (:data:`VERIFIED_SLACK_SDK`, the one the lock files install):
:func:`web_client` builds a :class:`PooledWebClient` there and slack_sdk's own ``WebClient``
on any other release (unpooled: a handshake per call, never a wrong answer), with one warning.
``tests/slack_http/test_private_pin.py`` fails when the installed release's method or its caller
differ from what was read, and when the fallback stops working. Library users are therefore free
to install any slack_sdk 3.x (``pyproject.toml`` gives a range, not a pin).

What the callers rely on, kept exactly as urlopen does it:

* a 2xx answer returns ``{"status": int, "headers": http.client.HTTPMessage, "body": str}``
  (``bytes`` for an ``application/gzip`` answer); any other status raises
  ``urllib.error.HTTPError`` with the same kind of headers and a readable body, so slack_sdk's
  retry loop (429 ``Retry-After``, 5xx) and ``SlackApiError`` behave as before. Redirects are
  not followed (the Web API does not redirect; a 3xx raises ``HTTPError``);
* a failure to connect (refused, DNS, connect or TLS-handshake timeout, certificate) — the
  request was certainly not sent — raises ``urllib.error.URLError``;
* once the request may have left: no answer in time raises ``TimeoutError``, a dropped
  connection the error the socket or ``http.client`` gave (``ConnectionResetError``,
  ``RemoteDisconnected``, ``IncompleteRead``...), never ``URLError``. Sending errors count as
  "may have left" here (urlopen calls them ``URLError``): the cautious side for a post.

urllib3 retries nothing (``retries=False``): slack_sdk's retry handlers stay the only retry
logic. Before reusing an idle connection urllib3 checks whether the server closed it
(``is_connection_dropped``) and opens a new one if so. A connection idle for longer than
:data:`MAX_IDLE_SECONDS` is not reused at all: servers commonly close idle keep-alive
connections after 5 s or more, and a Lambda sandbox frozen between invocations may not have
seen the server's close yet when it thaws — reusing such a connection would turn a post into an
unknown outcome. The idle clock is the wall clock, which keeps counting while a sandbox is
frozen.

With a proxy (``proxy=`` or the ``HTTPS_PROXY``/``HTTP_PROXY`` variables WebClient reads) the
call goes through slack_sdk's own urllib transport, unpooled, exactly as before.

This module imports slack_sdk and urllib3 at import time: import it lazily, where a client is
built.
"""

from __future__ import annotations

import functools
import http.client
import io
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError
from urllib3 import BaseHTTPResponse, HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ProtocolError, ReadTimeoutError, SSLError

from exec_assistant.logs import log_event

logger = logging.getLogger(__name__)

#: The slack_sdk releases whose private transport method :class:`PooledWebClient` replaces was
#: read and is checked by digest (tests/slack_http/test_private_pin.py).
VERIFIED_SLACK_SDK = frozenset({"3.48.0"})

#: An idle connection older than this (seconds) is closed instead of reused.
MAX_IDLE_SECONDS = 4.0
#: Connections kept per host: one per concurrent caller (more are opened, then closed).
POOL_SIZE = 8


class _ConnectFailed(Exception):
    """Raised from ``connect()``: nothing was sent. Not an ``OSError``, so urllib3 passes it on."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def _connect(connect: Callable[[], None]) -> None:
    try:
        connect()
    except Exception as exc:
        raise _ConnectFailed(exc) from exc


class _Connection(HTTPConnection):
    def connect(self) -> None:
        _connect(super().connect)


class _TLSConnection(HTTPSConnection):
    def connect(self) -> None:  # TCP, then the TLS handshake: both before any byte of request
        _connect(super().connect)


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class PooledWebClient(WebClient):
    """``WebClient`` whose calls reuse kept-alive connections (see the module docstring).

    Takes every ``WebClient`` argument, plus ``max_idle_seconds`` and ``clock`` (wall-clock
    seconds, for tests). Thread-safe: concurrent calls use separate pooled connections.
    """

    def __init__(
        self,
        *args: Any,
        max_idle_seconds: float = MAX_IDLE_SECONDS,
        clock: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._max_idle_seconds = max_idle_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._pools: PoolManager | None = None
        self._pools_ssl: Any = None
        self._last_used = 0.0

    def close(self) -> None:
        """Close every pooled connection (the client stays usable: the next call reconnects)."""
        with self._lock:
            if self._pools is not None:
                self._pools.clear()

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None:
            return super()._perform_urllib_http_request_internal(url, req)
        if not url.lower().startswith(("http://", "https://")):
            raise SlackRequestError(f"Invalid URL detected: {url}")
        headers = {name: str(value) for name, value in req.header_items()}
        try:
            response = self._checkout().urlopen(
                "POST",
                url,
                body=req.data,
                headers=headers,
                retries=False,
                redirect=False,
                timeout=self.timeout,
            )
        except _ConnectFailed as exc:
            raise URLError(_reason(exc.error)) from exc.error
        except ReadTimeoutError as exc:
            raise TimeoutError(str(exc)) from exc
        except (ProtocolError, SSLError) as exc:
            raise _after_send(exc) from None  # the inner error carries its own traceback
        finally:
            self._last_used = self._clock()
        message = _message(response)
        data = response.data
        if not 200 <= response.status < 300:
            raise HTTPError(url, response.status, response.reason or "", message, io.BytesIO(data))
        if message.get_content_type() == "application/gzip":
            return {"status": response.status, "headers": message, "body": data}
        charset = message.get_content_charset() or "utf-8"
        return {"status": response.status, "headers": message, "body": data.decode(charset)}

    def _checkout(self) -> PoolManager:
        """The pool manager, rebuilt if ``ssl`` changed; emptied if idle for too long."""
        with self._lock:
            if self._pools is not None and self._pools_ssl is not self.ssl:
                self._pools.clear()
                self._pools = None
            if self._pools is None:
                self._pools = PoolManager(maxsize=POOL_SIZE, ssl_context=self.ssl)
                self._pools.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
                self._pools_ssl = self.ssl
                self._last_used = self._clock()
            elif self._clock() - self._last_used > self._max_idle_seconds:
                self._pools.clear()
            return self._pools


def _reason(error: Exception) -> Exception:
    """The ``OSError`` behind a connect failure, as urlopen gives it in ``URLError.reason``."""
    if isinstance(error, OSError):
        return error
    cause = error.__cause__
    return cause if isinstance(cause, OSError) else error


def _after_send(exc: ProtocolError | SSLError) -> BaseException:
    """The error the socket or ``http.client`` raised, unwrapped from urllib3's wrapper."""
    for inner in exc.args:
        if isinstance(inner, OSError | http.client.HTTPException):
            return inner
    return ConnectionError(str(exc))


def _message(response: BaseHTTPResponse) -> http.client.HTTPMessage:
    message = http.client.HTTPMessage()
    for name, value in response.headers.items():
        message[name] = value
    return message


def web_client(**kwargs: Any) -> WebClient:
    """A :class:`PooledWebClient` on a verified slack_sdk release, else slack_sdk's own
    ``WebClient`` (same arguments, same errors, no pooling), logging once why."""
    from slack_sdk.version import __version__ as installed

    if installed in VERIFIED_SLACK_SDK:
        return PooledWebClient(**kwargs)
    _warn_unverified(installed)
    return WebClient(**kwargs)


@functools.cache
def _warn_unverified(installed: str) -> None:
    log_event(
        logger,
        logging.WARNING,
        "slack.unpooled_client",
        slack_sdk=installed,
        verified=",".join(sorted(VERIFIED_SLACK_SDK)),
    )
