"""A loopback HTTP proxy between boto3 and moto's server: serialises, and loses answers on cue.

* Every request is forwarded to moto under one lock: moto's server is not atomic across
  concurrent requests (NOTES.md), real DynamoDB is per item; serialising restores that.
* :meth:`DynamoProxy.lose_next` arms a loss: the next *write* request (PutItem, UpdateItem,
  DeleteItem, TransactWriteItems) that matches is forwarded, moto applies it, and then the
  client's connection is reset (TCP RST) instead of answering — "the write happened, the
  response was lost". botocore then retries it (standard mode) or raises after its retries.
  A write is matched by the Store call it belongs to (the ``X-Faults-Call`` header that
  :func:`tag_store_calls` adds from :class:`tests.faults.stores.FaultyStore`, e.g.
  ``"record_attempt#1"``) and/or by the table name in its body.
* :meth:`DynamoProxy.refuse_next` — an outage: the next matching requests (reads too) never reach
  moto; they are answered with DynamoDB's throttling error, or their connection is reset.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import urlsplit

from tests.fakes._server import LoopbackServer, reset_connection

CALL_HEADER = "X-Faults-Call"
WRITE_ACTIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"})
THROTTLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "The level of configured provisioned throughput for the table was exceeded.",
}
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}
)


@dataclass(frozen=True)
class Loss:
    """A lost answer: which Store call and DynamoDB action it belonged to."""

    call: str | None
    action: str
    table: str | None


@dataclass(frozen=True)
class _Rule:
    call: str | None
    table: str | None

    def matches(self, call: str | None, table: str | None) -> bool:
        return (self.call is None or self.call == call) and (
            self.table is None or self.table == table
        )


class DynamoProxy(LoopbackServer):
    """Start it, point ``AWS_ENDPOINT_URL`` at :attr:`url`; it forwards to ``upstream``."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        split = urlsplit(upstream)
        self._upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self._forward_lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._refusals: list[tuple[_Rule, str]] = []
        self.lost: list[Loss] = []
        self.refused = 0
        self.forwarded = 0

    @property
    def url(self) -> str:
        return self.origin

    # scripting -------------------------------------------------------------------------------

    def lose_next(self, *, call: str | None = None, table: str | None = None) -> None:
        """Lose the answer of the next write matching ``call`` (Store call tag) and ``table``."""
        with self._lock:
            self._rules.append(_Rule(call, table))

    def refuse_next(
        self,
        *,
        times: int = 1,
        call: str | None = None,
        mode: Literal["throttle", "reset"] = "throttle",
    ) -> None:
        """Refuse the next ``times`` requests of Store call ``call`` (any request when None)
        without forwarding them: HTTP 400 ProvisionedThroughputExceededException, or a reset."""
        with self._lock:
            self._refusals.extend([(_Rule(call, None), mode)] * times)

    def clear(self) -> None:
        """Forget armed losses and refusals (an outage ends) and what was recorded."""
        with self._lock:
            self._rules.clear()
            self._refusals.clear()
            self.lost.clear()
            self.refused = 0

    def _take_refusal(self, call: str | None) -> str | None:
        with self._lock:
            for entry in self._refusals:
                if entry[0].matches(call, None):
                    self._refusals.remove(entry)
                    self.refused += 1
                    return entry[1]
        return None

    def _take_rule(self, action: str, call: str | None, table: str | None) -> bool:
        if action not in WRITE_ACTIONS:
            return False
        with self._lock:
            for rule in self._rules:
                if rule.matches(call, table):
                    self._rules.remove(rule)
                    self.lost.append(Loss(call, action, table))
                    return True
        return False

    # serving ---------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        target = handler.headers.get("X-Amz-Target") or ""
        action = target.rsplit(".", 1)[-1]
        call = handler.headers.get(CALL_HEADER)
        refusal = self._take_refusal(call)
        if refusal == "reset":
            reset_connection(handler)
            return
        if refusal == "throttle":
            _answer(handler, 400, [("Content-Type", "application/x-amz-json-1.0")], THROTTLED)
            return
        lose = self._take_rule(action, call, _table_of(body))
        headers = {
            k: v
            for k, v in handler.headers.items()
            if k.lower() not in _HOP_BY_HOP and k.lower() != "host"
        }
        with self._forward_lock:  # one request at a time reaches moto
            connection = http.client.HTTPConnection(*self._upstream, timeout=30)
            try:
                connection.request(handler.command, handler.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                status, reply_headers = response.status, response.getheaders()
            finally:
                connection.close()
            self.forwarded += 1
        if lose:
            reset_connection(handler)  # moto applied it; the client never hears
            return
        _answer(handler, status, reply_headers, data)


def _answer(
    handler: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], body: Any
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        return


def _table_of(body: bytes) -> str | None:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return None
    name = parsed.get("TableName") if isinstance(parsed, dict) else None
    return str(name) if name else None


def tag_store_calls(client: Any, current_call: Callable[[], str | None]) -> None:
    """Make ``client`` (a boto3 DynamoDB client) send the running Store call's tag in a header,
    through botocore's own ``before-send`` event."""

    def add_header(request: Any, **kwargs: Any) -> None:
        call = current_call()
        if call:
            request.headers[CALL_HEADER] = call

    client.meta.events.register("before-send.dynamodb", add_header)


def attempts_per_request(client: Any) -> int:
    """How many times ``client`` (botocore) sends one request before it gives up."""
    retries: dict[str, Any] = client.meta.config.retries or {}
    total = retries.get("total_max_attempts")
    return int(total) if total else int(retries.get("max_attempts", 4)) + 1
