"""Serve the Slack app on one machine: HTTP on :3000, or Socket Mode when SLACK_APP_TOKEN is set.

``start_slack_server(runtime)`` returns a running :class:`LocalSlackServer`; ``stop()`` ends it
cleanly (the CLI's ``serve`` calls it on Ctrl-C). Both modes run the very app Lambda runs
(:func:`~exec_assistant.interfaces.slack_bot.create_app`); listener work after the answer runs
on a bounded pool of its own (:class:`BackgroundWork`), drained by ``stop()``.

Socket Mode uses slack_sdk's built-in client: ``apps.connections.open`` (with the app-level token)
gives a WebSocket URL, the client connects and keeps reconnecting on its own. If Slack refuses the
token there, starting fails with a :class:`~exec_assistant.errors.ConfigurationError` naming
Slack's error code (and the client's threads are stopped, not left looping).

HTTP mode serves a small router (:class:`~exec_assistant.interfaces.web.Router`):
``POST /slack/webhook`` (the path API Gateway uses, so one manifest fits both) through
:class:`~exec_assistant.interfaces.slack_ingress.SlackIngress` (signature on the raw bytes
first, never a 5xx for bad input), and ``GET /healthz`` (200 or 503 with what it checked). Other
doors (Twilio, email action links) add routes to the same router.

The server is cheroot (CherryPy's WSGI server, pure Python, typed): a bounded pool of
:data:`THREADS` request threads, a listen backlog of :data:`BACKLOG` (the standard library's
``wsgiref`` keeps 5, which reset connections at 32 concurrent clients), idle keep-alive
connections parked in a selector instead of holding a thread, and a public, thread-safe
``stop()`` that lets requests in flight finish. Chosen over waitress (no public stop; its
asyncore loop must be torn down by hand) and gunicorn (forks workers: the embedded runtime's
loops and SQLite store live in this one process). Measured in ``bench/`` against a bare Bolt app
on the same server. Bolt's ``app.start()`` development server is not used either: it binds
0.0.0.0 and serves one request at a time. The default host is 127.0.0.1; put a tunnel (ngrok,
cloudflared) in front to reach it from Slack, or use Socket Mode and need no public URL at all.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal

from exec_assistant.errors import ConfigurationError, ExecAssistantError, TransientError
from exec_assistant.interfaces.after_response import Deadline, Work, run_all
from exec_assistant.interfaces.answer_routes import add_answer_routes
from exec_assistant.interfaces.slack_bot import build_ingress, create_app
from exec_assistant.interfaces.web import Router, health_handler
from exec_assistant.logs import log_event, register_secret
from exec_assistant.models import ErrorClass
from exec_assistant.runtime import Runtime

if TYPE_CHECKING:
    from cheroot.wsgi import Server
    from slack_bolt import App
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)

DEFAULT_PORT = 3000
DEFAULT_HOST = "127.0.0.1"
WEBHOOK_PATH = "/slack/webhook"
HEALTH_PATH = "/healthz"
#: Request threads (bounded; idle keep-alive connections do not hold one).
THREADS = 16
#: The listen backlog: connections the kernel queues while every thread is busy.
BACKLOG = 128
#: How long ``stop()`` lets requests in flight finish.
SHUTDOWN_SECONDS = 10

#: Threads that run listener work after the answers (off Bolt's listener threads).
WORKERS = 2

HealthChecks = Mapping[str, Callable[[], None]]


class BackgroundWork:
    """Listener work after the answer, on its own bounded pool: Bolt's listener threads only
    acknowledge, so an answer never waits behind another click's store writes and Slack calls
    (with the work on Bolt's threads, 32 concurrent clients made acknowledgements wait for
    free listener threads). Two workers: each busy worker competes with the acknowledgements
    for the GIL; at 32 clients 8 workers gave an ack p99 of 4.4-5.4x a bare Bolt app on the same
    server, 2 workers 0.9-1.2x (bench figure 8). ``drain()`` finishes what was queued."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-work")

    def add(self, work: Work) -> None:
        self._pool.submit(run_all, ([work], Deadline()))

    def drain(self) -> None:
        self._pool.shutdown(wait=True)


def bind_error(host: str, port: int, exc: OSError) -> ConfigurationError:
    """A refused bind, naming the address (cheroot's message buries it in a tuple)."""
    found = re.search(r"\[Errno \d+\] ([^)]*)", str(exc))
    reason = found.group(1) if found else (exc.strerror or str(exc))
    return ConfigurationError(
        f"cannot listen on {host}:{port}: {reason} (another process may hold the port; "
        "pick another with --port)",
        code="bind_failed",
    )


class LocalSlackServer:
    """A running Slack app: ``mode`` is ``"http"`` (see :attr:`url`) or ``"socket_mode"``."""

    def __init__(
        self,
        app: App,
        *,
        mode: Literal["http", "socket_mode"],
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        app_token: str | None = None,
        router: Router | None = None,
        work: BackgroundWork | None = None,
    ) -> None:
        self.app = app
        self.work = work
        self.mode = mode
        self.router = router or Router()
        self._host = host
        self._port = port
        self._app_token = app_token
        self._http: Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: SocketModeHandler | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``); HTTP mode only."""
        if self._http is None:
            raise RuntimeError("the HTTP server is not running")
        return int(self._http.bind_addr[1])

    @property
    def origin(self) -> str:
        """``http://host:port``; HTTP mode only."""
        return f"http://{self._host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://host:port/slack/webhook``; HTTP mode only."""
        return f"{self.origin}{WEBHOOK_PATH}"

    def start(self) -> None:
        """Start serving in background threads and return at once."""
        if self.mode == "socket_mode":
            from slack_bolt.adapter.socket_mode import SocketModeHandler
            from slack_sdk.errors import SlackApiError

            handler = SocketModeHandler(self.app, app_token=self._app_token)
            try:
                handler.connect()  # type: ignore[no-untyped-call]
            except Exception as exc:
                handler.close()  # type: ignore[no-untyped-call]  # its threads already run
                self._close_client()
                if isinstance(exc, SlackApiError):
                    raise _socket_mode_refused(exc) from exc
                raise
            self._socket = handler
            log_event(logger, logging.INFO, "slack.serving", mode="socket_mode")
            return
        from cheroot.wsgi import Server

        http = Server(
            (self._host, self._port),
            self.router,
            numthreads=THREADS,
            max=THREADS,
            request_queue_size=BACKLOG,
            shutdown_timeout=SHUTDOWN_SECONDS,
        )
        try:
            http.prepare()  # binds and listens; raises if it cannot
        except OSError as exc:
            self._close_client()
            raise bind_error(self._host, self._port, exc) from exc
        self._http = http
        self._thread = threading.Thread(target=http.serve, name="slack-http", daemon=True)
        self._thread.start()
        log_event(logger, logging.INFO, "slack.serving", mode="http", url=self.url)

    def stop(self) -> None:
        """Stop accepting requests and close the connection; safe to call twice."""
        if self._socket is not None:
            self._socket.close()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._http is not None:
            self._http.stop()  # no new connections; requests in flight finish
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.work is not None:
            self.work.drain()  # listener work already acknowledged completes
        self._close_client()
        log_event(logger, logging.INFO, "slack.stopped", mode=self.mode)

    def _close_client(self) -> None:
        """Close the app's kept-alive Slack connections (a later call opens new ones)."""
        from exec_assistant.slack_http import PooledWebClient

        if isinstance(self.app.client, PooledWebClient):
            self.app.client.close()


def _socket_mode_refused(exc: SlackApiError) -> ExecAssistantError:
    """``apps.connections.open`` said no: a wrong or revoked app token, or Socket Mode off."""
    from exec_assistant.interfaces.listener_kit import error_class

    error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
    message = f"Slack refused to open a Socket Mode connection ({error})"
    if error_class(exc) == ErrorClass.TRANSIENT:
        return TransientError(f"{message}; try again", code=error)
    return ConfigurationError(
        f"{message}: check SLACK_APP_TOKEN (an app-level xapp- token with connections:write) "
        "and that Socket Mode is on in the app settings",
        code=error,
    )


def start_slack_server(
    runtime: Runtime,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    socket_mode: bool | None = None,
    health: HealthChecks | None = None,
) -> LocalSlackServer:
    """Build the app from ``runtime`` and start serving it.

    ``socket_mode`` defaults to whether ``SLACK_APP_TOKEN`` is set. ``health``: what
    ``GET /healthz`` checks besides the store (HTTP mode).
    """
    app_token_secret = runtime.settings.slack_app_token
    app_token = app_token_secret.get_secret_value() if app_token_secret is not None else ""
    use_socket = bool(app_token) if socket_mode is None else socket_mode
    if use_socket and not app_token:
        raise ConfigurationError(
            "Socket Mode needs SLACK_APP_TOKEN (xapp-…)", code="missing_setting"
        )
    register_secret(app_token)
    work = BackgroundWork()
    if use_socket:
        server = LocalSlackServer(
            create_app(runtime, process_before_response=False, socket_mode=True, defer=work.add),
            mode="socket_mode",
            app_token=app_token,
            work=work,
        )
    else:
        ingress = build_ingress(runtime, process_before_response=False, defer=work.add)
        router = Router()
        router.add(WEBHOOK_PATH, POST=ingress.serve)
        router.add(
            HEALTH_PATH, GET=health_handler({"store": store_check(runtime), **(health or {})})
        )
        add_answer_routes(router, runtime)
        server = LocalSlackServer(
            ingress.app, mode="http", host=host, port=port, router=router, work=work
        )
    server.start()
    return server


def store_check(runtime: Runtime) -> Callable[[], None]:
    """The store answers a read (of a user that does not exist)."""

    def check() -> None:
        runtime.store.get_user("healthz-probe")

    return check
