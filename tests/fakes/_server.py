"""The loopback HTTP server both provider fakes run on, and their shared failure scripting.

A fake is an :class:`http.server.ThreadingHTTPServer` bound to ``127.0.0.1`` on a free port,
served from a daemon thread. Each fake subclasses :class:`LoopbackFake` and implements
:meth:`LoopbackFake.handle`, which acts on a parsed request and turns it into a :class:`Reply`;
it may name the operation a request asks for (e.g. ``chat.postMessage``) in
:meth:`LoopbackFake.route` (default: the path).

Fault injection shared by the fakes, keyed by route:

* :meth:`LoopbackFake.lose_response_next` — the provider *acts* (the message is posted or
  created) and then the answer is lost: an HTTP 5xx instead of the real answer, or the
  connection reset (RST) without any answer;
* :meth:`LoopbackFake.on` — a hook called when a request arrives (``received``, before acting),
  once the fake has acted but before it answers (``acted``), or after the answer was written
  (``answered``): a test can SIGKILL the client process at exactly that point.
"""

from __future__ import annotations

import io
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit

#: When a hook runs: on arrival (before the fake acts), after acting (before answering), or
#: after the answer was written to the socket.
HookPoint = Literal["received", "acted", "answered"]
#: How an answer is lost: an HTTP error status instead of it, or a connection reset (RST).
LossMode = Literal["status", "reset"]


@dataclass(frozen=True)
class Reply:
    """What the fake answers: status, JSON (or raw text) body, extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (the "hang" mode)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One request as the fake received it."""

    method: str  # HTTP verb
    path: str
    params: dict[str, Any]  # query string, form body and JSON body merged (body wins)
    headers: dict[str, str]  # header names lower-cased
    body: bytes


@dataclass(frozen=True)
class _Loss:
    mode: LossMode
    status: int


@dataclass
class _Hook:
    callback: Callable[[Request], None]
    remaining: int  # calls left; the hook is dropped at 0


class LoopbackServer:
    """An HTTP/1.1 server on 127.0.0.1: start/stop, context manager, connection count.
    Subclasses answer each request in :meth:`_serve` (on the server's handler thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections = 0

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        fake = self  # the handler class closes over the server object

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as real servers on kept-alive connections: headers and body go out
            # in two writes, and Nagle would hold the second for the client's delayed ACK (40 ms)
            disable_nagle_algorithm = True

            def setup(self) -> None:  # once per accepted connection
                with fake._lock:
                    fake._connections += 1
                super().setup()

            def do_GET(self) -> None:
                fake._serve(self)

            def do_POST(self) -> None:
                fake._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases any hanging handler at once
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

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
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("fake is not started")
        return int(self._server.server_address[1])

    @property
    def connections(self) -> int:
        """How many TCP connections the fake has accepted (keep-alive reuse shows as fewer)."""
        with self._lock:
            return self._connections

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError


class LoopbackFake(LoopbackServer):
    """Base class of the provider fakes: thread-safe bookkeeping, scripted failures, lost
    answers and hooks (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._scripts: dict[str, deque[Reply]] = {}
        self._losses: dict[str, deque[_Loss]] = {}
        self._hooks: dict[tuple[str, HookPoint], list[_Hook]] = {}

    # scripting -------------------------------------------------------------------------------

    def _script(self, route: str, reply: Reply, times: int) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._scripts.setdefault(route, deque()).extend([reply] * times)

    def _scripted(self, route: str) -> Reply | None:
        with self._lock:
            queue = self._scripts.get(route)
            return queue.popleft() if queue else None

    def clear_failures(self) -> None:
        """Forget every scripted failure, lost answer and hook that has not fired yet."""
        with self._lock:
            self._scripts.clear()
            self._losses.clear()
            self._hooks.clear()

    def lose_response_next(
        self, route: str, *, mode: LossMode = "reset", status: int = 500, times: int = 1
    ) -> None:
        """Act on the next ``times`` requests of ``route`` as usual, then lose the answer.

        ``mode="reset"``: the connection is reset (TCP RST) after the request was read and acted
        on, without a byte of answer; ``mode="status"``: HTTP ``status`` with a short text body
        replaces the real answer. Either way the provider *did* act (the message exists).
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._losses.setdefault(route, deque()).extend([_Loss(mode, status)] * times)

    def on(
        self,
        route: str,
        when: HookPoint,
        callback: Callable[[Request], None],
        *,
        times: int = 1,
    ) -> None:
        """Call ``callback(request)`` for the next ``times`` requests of ``route`` at ``when``.

        The callback runs on the fake's handler thread; the request is answered (or lost) once
        it returns. ``received`` runs before the fake acts, ``acted`` after it acted and before
        it answers, ``answered`` after the answer was written.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._hooks.setdefault((route, when), []).append(_Hook(callback, times))

    def _run_hooks(self, route: str, when: HookPoint, request: Request) -> None:
        with self._lock:
            hooks = self._hooks.get((route, when), [])
            due = list(hooks)
            for hook in due:
                hook.remaining -= 1
            hooks[:] = [h for h in hooks if h.remaining > 0]
        for hook in due:
            hook.callback(request)

    def _lost(self, route: str) -> _Loss | None:
        with self._lock:
            queue = self._losses.get(route)
            return queue.popleft() if queue else None

    # serving ---------------------------------------------------------------------------------

    def route(self, request: Request) -> str:
        """The name scripts and hooks use for what ``request`` asks for (default: its path)."""
        return request.path

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        split = urlsplit(http.path)
        params: dict[str, Any] = dict(parse_qsl(split.query, keep_blank_values=True))
        ctype = (http.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if raw and ctype == "application/json":
            loaded = json.loads(raw)
            if isinstance(loaded, dict):
                params.update(loaded)
        elif raw:
            params.update(parse_qsl(raw.decode(), keep_blank_values=True))
        request = Request(
            method=http.command,
            path=split.path,
            params=params,
            headers={k.lower(): v for k, v in http.headers.items()},
            body=raw,
        )
        route = self.route(request)
        self._run_hooks(route, "received", request)
        reply = self.handle(request)
        self._run_hooks(route, "acted", request)
        if reply.delay and self._stopping.wait(reply.delay):
            return  # the fake is shutting down: drop the connection unanswered
        loss = self._lost(route)
        if loss is not None and loss.mode == "reset":
            reset_connection(http)
            return
        if loss is not None:
            reply = Reply(loss.status, "Internal Server Error")
        data, content_type = reply.encoded()
        try:
            http.send_response(reply.status)
            http.send_header("Content-Type", content_type)
            http.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (timed out, or died) before we answered: the point
        self._run_hooks(route, "answered", request)


def reset_connection(http: BaseHTTPRequestHandler) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0), not an orderly FIN: the client sees
    ``ConnectionResetError`` after its request was fully read."""
    http.close_connection = True
    sock: socket.socket = http.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # The buffered reader/writer hold references to the socket: close them first, so closing
    # the socket really closes the descriptor now (and sends the RST) instead of at finish().
    # (Inert stand-ins take their place: the handler still flushes and closes them.)
    http.rfile.close()
    http.wfile.close()
    http.rfile, http.wfile = io.BytesIO(), io.BytesIO()
    sock.close()
