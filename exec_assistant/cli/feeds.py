"""``exec-assistant feeds add|list|remove``: calendar feeds the monitor re-imports on a schedule.

A feed's address is a secret (Google's and Outlook's "secret address"): it is never printed back,
only its scheme and host.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from exec_assistant.cli.output import out, print_json, when

app = typer.Typer(help="Calendar feeds re-imported on a schedule by the calendar monitor.")


@app.command(
    "add",
    epilog="Example: exec-assistant feeds add "
    "'https://calendar.google.com/calendar/ical/…/basic.ics' --user usr-ceo --every 15",
)
def add(
    url: Annotated[str, typer.Argument(help="The feed's https:// or webcal:// secret address.")],
    user: Annotated[str, typer.Option(help="Owner's user id.")],
    every: Annotated[
        int, typer.Option(min=5, max=1440, help="Minutes between imports (default 15).")
    ] = 15,
) -> None:
    """Register a feed; the calendar monitor imports it on its next pass, then every N minutes."""
    from exec_assistant.runtime import build_runtime
    from exec_assistant.workflows.feeds import add_feed
    from exec_assistant.workflows.ics_source import redact_source

    runtime = build_runtime()
    try:
        feed = add_feed(runtime, user, url, interval_minutes=every)
    finally:
        runtime.close()
    out().print(
        f"feed {feed.feed_id} ({redact_source(url)}) added for {user}: imported every {every} min"
    )


@app.command("list", epilog="Example: exec-assistant feeds list --user usr-ceo")
def list_feeds(
    user: Annotated[str | None, typer.Option(help="Only this user's feeds.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Registered feeds: id, owner, host (never the secret address), interval, last check."""
    from exec_assistant.runtime import build_runtime
    from exec_assistant.workflows.feeds import feed_store
    from exec_assistant.workflows.ics_source import redact_source

    runtime = build_runtime()
    store = feed_store(runtime)
    try:
        feeds = store.list_feeds(user)
    finally:
        store.close()
        runtime.close()
    rows = [
        {
            "feed_id": f.feed_id,
            "user_id": f.user_id,
            "source": redact_source(f.url),
            "interval_minutes": f.interval_minutes,
            "checked_at": f.checked_at.isoformat() if f.checked_at else None,
            "next_check_at": f.next_check_at.isoformat(),
            "last_result": f.last_result,
        }
        for f in feeds
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="calendar feeds")
    for column in ("feed", "user", "source", "every", "checked", "result"):
        table.add_column(column, overflow="fold")
    for f in feeds:
        table.add_row(
            f.feed_id,
            f.user_id,
            redact_source(f.url),
            f"{f.interval_minutes} min",
            when(f.checked_at) if f.checked_at else "never",
            f.last_result or "-",
        )
    out().print(table)


@app.command("remove", epilog="Example: exec-assistant feeds remove feed-0123456789abcdef01234567")
def remove(feed_id: Annotated[str, typer.Argument(help="The feed id (see feeds list).")]) -> None:
    """Stop importing a feed (its meetings stay as they are)."""
    from exec_assistant.errors import NotFoundError
    from exec_assistant.runtime import build_runtime
    from exec_assistant.workflows.feeds import feed_store

    runtime = build_runtime()
    store = feed_store(runtime)
    try:
        removed = store.delete_feed(feed_id)
    finally:
        store.close()
        runtime.close()
    if not removed:
        raise NotFoundError(f"feed {feed_id} not found")
    out().print(f"feed {feed_id} removed")
