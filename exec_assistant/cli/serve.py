"""``exec-assistant serve``: the whole embedded runtime in one process until Ctrl-C.

Runs the calendar monitor loop and the local scheduler loop (``Runtime.start_background``), the
in-process bus wired to the prep trigger, and the Slack app (HTTP on :3000, or Socket Mode when
``SLACK_APP_TOKEN`` is set) when a bot token is configured; ``GET /healthz`` on the HTTP server
checks the store and that the loops are alive. Ctrl-C (or SIGTERM) stops the Slack server first
(no new requests; those in flight finish), then lets each loop finish its current pass before
closing the store: work already claimed completes, and anything not yet due stays in SQLite. A
port that cannot be bound is an error naming host and port.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from exec_assistant.cli.local import cli_logging
from exec_assistant.cli.output import err, out
from exec_assistant.cli.params import store_location

if TYPE_CHECKING:
    from exec_assistant.interfaces.local_server import LocalSlackServer
    from exec_assistant.runtime import Runtime

EPILOG = (
    "Example: SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… exec-assistant serve --port 3000 "
    "(then expose it with a tunnel, or set SLACK_APP_TOKEN for Socket Mode)"
)

#: How long shutdown waits for each loop to finish its current pass.
JOIN_SECONDS = 30.0


def _wait(stop: threading.Event) -> None:
    """Block until Ctrl-C or SIGTERM (tests replace this)."""

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


def loops_check(threads: list[threading.Thread]) -> Callable[[], None]:
    """For ``GET /healthz``: the calendar monitor and scheduler loops still run."""

    def check() -> None:
        stopped = [t.name for t in threads if not t.is_alive()]
        if stopped:
            raise RuntimeError(f"loop(s) stopped: {', '.join(stopped)}")

    return check


def _status(runtime: Runtime, server: LocalSlackServer | None, slack_note: str) -> Table:
    from exec_assistant.runtime import uses_aws

    settings = runtime.settings
    aws = uses_aws(settings)
    if server is None:
        slack = slack_note
    elif server.mode == "http":
        slack = f"HTTP {server.url}"
    else:
        slack = "Socket Mode (no public URL needed)"
    table = Table(title="exec-assistant serve", show_header=False)
    table.add_column("part")
    table.add_column("where", overflow="fold")
    table.add_row("store", store_location(settings))
    table.add_row("event bus", f"EventBridge {settings.event_bus_name}" if aws else "in-process")
    table.add_row("scheduler", type(runtime.scheduler).__name__)
    table.add_row("calendar monitor", f"every {settings.calendar_monitor_interval_seconds:g} s")
    table.add_row("Slack", slack)
    table.add_row("channels", ", ".join(sorted(c.value for c in runtime.channels)))
    return table


def serve(
    host: Annotated[str, typer.Option(help="HTTP bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.", min=0, max=65535)] = 3000,
    socket_mode: Annotated[
        bool | None,
        typer.Option(
            "--socket-mode/--http",
            help="Slack transport (default: Socket Mode if SLACK_APP_TOKEN).",
        ),
    ] = None,
    slack: Annotated[
        bool, typer.Option("--slack/--no-slack", help="Serve the Slack app if configured.")
    ] = True,
) -> None:
    """Run the local runtime: Slack app, local bus, scheduler and calendar monitor loops."""
    from exec_assistant.runtime import build_runtime

    with cli_logging(default="INFO"):
        runtime = build_runtime()
        stop = threading.Event()
        server: LocalSlackServer | None = None
        threads: list[threading.Thread] = []
        try:
            slack_note = "off (--no-slack)"
            threads = runtime.start_background(stop)
            if slack and runtime.settings.has_secret("slack_bot_token"):
                from exec_assistant.interfaces.local_server import start_slack_server

                server = start_slack_server(
                    runtime,
                    host=host,
                    port=port,
                    socket_mode=socket_mode,
                    health={"loops": loops_check(threads)},
                )
            elif slack:
                slack_note = "off: SLACK_BOT_TOKEN is not set (notifications use other channels)"
            out().print(_status(runtime, server, slack_note))
            err().print("running; press Ctrl-C to stop")
            _wait(stop)
            err().print("stopping…")
        finally:
            if server is not None:
                server.stop()
            stop.set()
            for thread in threads:
                thread.join(timeout=JOIN_SECONDS)
            runtime.close()
    alive = [t.name for t in threads if t.is_alive()]
    if alive:
        err().print(f"[yellow]stopped, but still finishing:[/] {', '.join(alive)}")
    else:
        out().print("[green]stopped cleanly[/]")
