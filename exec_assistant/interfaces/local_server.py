"""Serve the Slack app on one machine: HTTP on :3000, or Socket Mode when SLACK_APP_TOKEN is set.

``start_slack_server(runtime)`` returns a running :class:`LocalSlackServer`; ``stop()`` ends it
cleanly (the CLI's ``serve`` calls it on Ctrl-C). Both modes run the very app Lambda runs
(:func:`~exec_assistant.interfaces.slack_bot.create_app`); lazy listeners run in threads.

Socket Mode uses slack_sdk's built-in client: ``apps.connections.open`` (with the app-level token)
gives a WebSocket URL, the client connects and keeps reconnecting on its own. If Slack refuses the
token there, starting fails with a :class:`~exec_assistant.errors.ConfigurationError` naming
Slack's error code (and the client's threads are stopped, not left looping).

HTTP mode serves ``POST /slack/webhook`` (the path API Gateway uses, so one manifest fits both)
through Bolt's WSGI adapter on the standard library's threading WSGI server. Bolt's own
``app.start()`` development server is not used: it always binds 0.0.0.0, handles one request at
a time and has no way to stop it. Here the default host is 127.0.0.1; put a tunnel (ngrok,
cloudflared) in front to reach it from Slack, or use Socket Mode and need no public URL at all.
"""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Literal
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from exec_assistant.errors import ConfigurationError, ExecAssistantError, TransientError
from exec_assistant.interfaces.slack_bot import create_app
from exec_assistant.logs import log_event, register_secret
from exec_assistant.models import ErrorClass
from exec_assistant.runtime import Runtime

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)

DEFAULT_PORT = 3000
DEFAULT_HOST = "127.0.0.1"
WEBHOOK_PATH = "/slack/webhook"


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        log_event(logger, logging.DEBUG, "slack.http_request", line=format % args)


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
    ) -> None:
        self.app = app
        self.mode = mode
        self._host = host
        self._port = port
        self._app_token = app_token
        self._http: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: SocketModeHandler | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``); HTTP mode only."""
        if self._http is None:
            raise RuntimeError("the HTTP server is not running")
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port/slack/webhook``; HTTP mode only."""
        return f"http://{self._host}:{self.port}{WEBHOOK_PATH}"

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
        from slack_bolt.adapter.wsgi import SlackRequestHandler

        self._http = make_server(
            self._host,
            self._port,
            SlackRequestHandler(self.app, path=WEBHOOK_PATH),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        http = self._http
        self._thread = threading.Thread(
            target=lambda: http.serve_forever(poll_interval=0.1), name="slack-http", daemon=True
        )
        self._thread.start()
        log_event(logger, logging.INFO, "slack.serving", mode="http", url=self.url)

    def stop(self) -> None:
        """Stop accepting requests and close the connection; safe to call twice."""
        if self._socket is not None:
            self._socket.close()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._close_client()
        log_event(logger, logging.INFO, "slack.stopped", mode=self.mode)

    def _close_client(self) -> None:
        """Close the app's kept-alive Slack connections (a later call opens new ones)."""
        from exec_assistant.slack_http import PooledWebClient

        if isinstance(self.app.client, PooledWebClient):
            self.app.client.close()


def _socket_mode_refused(exc: SlackApiError) -> ExecAssistantError:
    """``apps.connections.open`` said no: a wrong or revoked app token, or Socket Mode off."""
    from exec_assistant.interfaces.slack_listeners import error_class

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
    app: App | None = None,
) -> LocalSlackServer:
    """Build the app from ``runtime`` (unless given) and start serving it.

    ``socket_mode`` defaults to whether ``SLACK_APP_TOKEN`` is set.
    """
    app_token_secret = runtime.settings.slack_app_token
    app_token = app_token_secret.get_secret_value() if app_token_secret is not None else ""
    use_socket = bool(app_token) if socket_mode is None else socket_mode
    if use_socket and not app_token:
        raise ConfigurationError(
            "Socket Mode needs SLACK_APP_TOKEN (xapp-…)", code="missing_setting"
        )
    register_secret(app_token)
    server = LocalSlackServer(
        app or create_app(runtime, process_before_response=False, socket_mode=use_socket),
        mode="socket_mode" if use_socket else "http",
        host=host,
        port=port,
        app_token=app_token or None,
    )
    server.start()
    return server
