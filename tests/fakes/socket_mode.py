"""A fake Slack Socket Mode endpoint: a WebSocket server on 127.0.0.1 (the ``websockets`` library).

Slack's side of Socket Mode, as documented: the app asks ``apps.connections.open`` (with its
app-level token) for a WebSocket URL — point :class:`~tests.fakes.slack_api.FakeSlackAPI` at
:attr:`FakeSocketMode.url` through its ``socket_mode_url`` — opens a WebSocket there, receives
``{"type": "hello", …}``, then envelopes ``{"envelope_id", "type", "payload",
"accepts_response_payload"}``, and acknowledges each one by sending back
``{"envelope_id": …, "payload": …}`` (``payload`` only when it answers inline).

Usage::

    with FakeSocketMode() as socket_mode:
        fake_slack.socket_mode_url = socket_mode.url
        ...  # the app connects
        sent = socket_mode.send_envelope("slash_commands", {...}, accepts_response_payload=True)
        ack = socket_mode.ack_for(sent)

Every frame the app sends is recorded (:attr:`FakeSocketMode.received`), as is the path of each
connection (:attr:`FakeSocketMode.paths`) and whether the current one has ended
(:meth:`FakeSocketMode.wait_disconnected`). Waits are bounded and raise ``AssertionError``.

slack_sdk's built-in client reads the scheme from the port: anything but 443 is plain TCP (its
"library testing" path), so ``ws://127.0.0.1:PORT`` works without TLS.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

APP_ID = "A0EXECAPP"
WAIT_SECONDS = 10.0


class FakeSocketMode:
    """The WebSocket half of Socket Mode; one connection at a time, as the app opens them."""

    def __init__(self, *, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self.ticket = uuid.uuid4().hex
        self._changed = threading.Condition()
        self._received: list[dict[str, Any]] = []
        self._paths: list[str] = []
        self._connection: ServerConnection | None = None
        self._open = False
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is None:
            self._server = serve(self._handle, "127.0.0.1", 0)
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            connection = self._connection
        if connection is not None:
            connection.close()
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=WAIT_SECONDS)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """What ``apps.connections.open`` answers: ``ws://127.0.0.1:PORT/link/?ticket=…``."""
        if self._server is None:
            raise RuntimeError("fake is not started")
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket={self.ticket}&app_id={self.app_id}"

    # inspection ------------------------------------------------------------------------------

    @property
    def received(self) -> list[dict[str, Any]]:
        """Every JSON message the app sent, in order (a copy)."""
        with self._changed:
            return list(self._received)

    @property
    def paths(self) -> list[str]:
        """The request path (with query) of every connection opened, in order."""
        with self._changed:
            return list(self._paths)

    @property
    def connected(self) -> bool:
        with self._changed:
            return self._open

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(condition, timeout=WAIT_SECONDS):
                raise AssertionError(f"fake Socket Mode: {what} did not happen in time")

    def wait_connected(self, count: int = 1) -> None:
        """Wait until ``count`` connections have been opened and the latest is open."""
        self._wait(lambda: self._open and len(self._paths) >= count, f"connection {count}")

    def wait_disconnected(self) -> None:
        """Wait until the app has ended the current connection (close frame or TCP close)."""
        self._wait(lambda: not self._open, "the disconnection")

    def ack_for(self, envelope_id: str) -> dict[str, Any]:
        """The app's acknowledgement of ``envelope_id`` (waits for it)."""

        def acked() -> bool:
            return any(m.get("envelope_id") == envelope_id for m in self._received)

        self._wait(acked, f"the ack of {envelope_id}")
        return next(m for m in self.received if m.get("envelope_id") == envelope_id)

    # sending ---------------------------------------------------------------------------------

    def send_envelope(
        self, type: str, payload: dict[str, Any], *, accepts_response_payload: bool
    ) -> str:
        """Deliver one envelope (``slash_commands``, ``interactive``, ``events_api``) on the open
        connection; returns its ``envelope_id``."""
        self.wait_connected()
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        self._send(envelope)
        return envelope_id

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to move to a new connection, as Slack does every few hours."""
        self.wait_connected()
        self._send({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}})

    def _send(self, message: dict[str, Any]) -> None:
        with self._changed:
            connection = self._connection
        if connection is None:
            raise AssertionError("fake Socket Mode: no connection to send on")
        connection.send(json.dumps(message))

    # serving ---------------------------------------------------------------------------------

    def _handle(self, connection: ServerConnection) -> None:
        path = connection.request.path if connection.request is not None else ""
        try:
            connection.send(json.dumps(self._hello()))
            with self._changed:  # registered after the hello, so envelopes always follow it
                self._paths.append(path)
                self._connection = connection
                self._open = True
                self._changed.notify_all()
            for message in connection:
                with self._changed:
                    self._received.append(json.loads(message))
                    self._changed.notify_all()
        except ConnectionClosed:
            pass  # the app closed the socket (slack_sdk's client sends no close frame)
        finally:
            with self._changed:
                if self._connection is connection:
                    self._open = False
                self._changed.notify_all()

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {
                "host": "applink-fake",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
