"""The ``exec-assistant`` command (Typer + rich, installed by the ``cli`` extra).

typer and rich are imported only under this package; the library never depends on them.
Each command group lives in its own module; this module assembles them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from exec_assistant._version import __version__
from exec_assistant.cli import (
    dlq,
    doctor,
    feeds,
    manifest,
    meetings,
    replay,
    secrets,
    send,
    serve,
    store_upgrade,
    timeline,
    users,
)
from exec_assistant.cli.errors import ErrorHandlingGroup

app = typer.Typer(
    name="exec-assistant",
    cls=ErrorHandlingGroup,
    help="Get executives ready for their meetings: run it locally, send test events, replay "
    "meetings, rotate secrets, manage users and meetings.",
    epilog="Example: exec-assistant send-test-event --local --sample",
    no_args_is_help=True,
    # Help text is shown as written: no rich markup or :emoji: codes (an ARN's ':secret:'
    # would render as an emoji). Each sub-app sets the same.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(users.app, name="users")
app.add_typer(meetings.app, name="meetings")
app.add_typer(feeds.app, name="feeds")
app.add_typer(secrets.app, name="secrets")
app.add_typer(dlq.app, name="dlq")
app.add_typer(store_upgrade.app, name="store")
app.command("manifest", epilog=manifest.EPILOG)(manifest.render)
app.command("doctor", epilog=doctor.EPILOG)(doctor.doctor)
app.command("send-test-event", epilog=send.EPILOG)(send.send_test_event)
app.command("replay", epilog=replay.EPILOG)(replay.replay)
app.command("serve", epilog=serve.EPILOG)(serve.serve)
app.command("timeline", epilog=timeline.EPILOG)(timeline.timeline)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"exec-assistant {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Get executives ready for their meetings."""


def main() -> None:
    """Console-script entry point (``exec-assistant``)."""
    app()
