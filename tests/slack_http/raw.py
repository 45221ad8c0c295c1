"""A tiny raw-socket HTTP/1.1 server on 127.0.0.1 for the transport failures a real server makes.

Each accepted connection runs ``behaviour(server, sock, index)`` in its own thread; helpers read
one request off the socket and write one answer, so a behaviour can answer, hang up, reset the
connection, or close it later while idle.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

Behaviour = Callable[["RawServer", socket.socket, int], None]


class RawServer:
    """Accepts connections and hands each to ``behaviour``; counts connections and requests."""

    def __init__(self, behaviour: Behaviour) -> None:
        self._behaviour = behaviour
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self.requests: list[tuple[int, bytes]] = []  # (connection index, request line)
        self.connections = 0
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``."""
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/api/"

    def __enter__(self) -> Self:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        self._listener.close()
        with self._lock:
            accepted = list(self._sockets)
        for sock in accepted:  # wake behaviours blocked on a connection the client keeps open
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # listener closed
            with self._lock:
                index = self.connections
                self.connections += 1
                self._sockets.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock, index), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, index: int) -> None:
        with sock:
            sock.settimeout(10)
            try:
                self._behaviour(self, sock, index)
            except OSError:
                return  # the client went away: nothing left to do

    def read_request(self, sock: socket.socket, index: int) -> bool:
        """Read one whole request (headers and ``Content-Length`` body); False at end of stream."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            body += chunk
        with self._lock:
            self.requests.append((index, head.split(b"\r\n")[0]))
        return True


def answer(
    sock: socket.socket,
    body: bytes = b'{"ok": true, "channel": "D1", "ts": "1.000001"}',
    *,
    status: str = "200 OK",
    content_type: str = "application/json; charset=utf-8",
) -> None:
    """Write one keep-alive answer."""
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)


def reset(sock: socket.socket) -> None:
    """Close with a TCP RST (``SO_LINGER`` 0) instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
