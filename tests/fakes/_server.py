"""The loopback HTTP server both provider fakes run on, and their shared failure scripting.

A fake is an :class:`http.server.ThreadingHTTPServer` bound to ``127.0.0.1`` on a free port,
served from a daemon thread. Each fake subclasses :class:`LoopbackFake` and implements
:meth:`LoopbackFake.handle`, which turns a parsed request into a :class:`Reply`.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


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


class LoopbackFake:
    """Base class: start/stop, context manager, thread-safe bookkeeping, scripted failures."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._scripts: dict[str, deque[Reply]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections = 0

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        fake = self

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
        """Forget every scripted failure that has not fired yet."""
        with self._lock:
            self._scripts.clear()

    # serving ---------------------------------------------------------------------------------

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
        reply = self.handle(request)
        if reply.delay and self._stopping.wait(reply.delay):
            return  # the fake is shutting down: drop the connection unanswered
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
            return  # the client gave up (timed out) before we answered: that is the point
