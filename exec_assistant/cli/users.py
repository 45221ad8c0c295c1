"""``exec-assistant users add|list``: the executives notifications go to."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from exec_assistant.cli.output import out, print_json
from exec_assistant.cli.params import JsonFlag, store_session
from exec_assistant.errors import PermanentError
from exec_assistant.models import Channel, NotificationPreferences, User

app = typer.Typer(help="Manage users (the executives who get prep notifications).")


def _channels(value: str) -> list[Channel]:
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    valid = {c.value for c in Channel}
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown channel {', '.join(unknown) or '(none)'}; use {', '.join(sorted(valid))}"
        )
    return [Channel(n) for n in names]


@app.command(
    "add",
    epilog="Example: exec-assistant users add usr-ceo --name 'Ada Lovelace' "
    "--slack-user-id U012AB3CD --phone +14155550123 --email ada@example.com "
    "--timezone Europe/London",
)
def add(  # noqa: PLR0917 - Typer passes options by keyword
    user_id: Annotated[str, typer.Argument(help="Your id for the user (e.g. usr-ceo).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    slack_user_id: Annotated[str | None, typer.Option(help="Slack member id (U…).")] = None,
    slack_team_id: Annotated[str | None, typer.Option(help="Slack workspace id (T…).")] = None,
    email: Annotated[str | None, typer.Option(help="Email for the SES fallback.")] = None,
    phone: Annotated[str | None, typer.Option(help="E.164 phone for the SMS fallback.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "UTC",
    channels: Annotated[
        str, typer.Option(help="Channel order, comma-separated (slack,sms,email,console).")
    ] = "slack,sms,email",
    replace: Annotated[bool, typer.Option(help="Overwrite a user with the same id.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a user. Refuses an existing id unless --replace."""
    user = User(
        user_id=user_id,
        name=name,
        slack_user_id=slack_user_id,
        slack_team_id=slack_team_id,
        email=email,
        phone=phone,
        timezone=timezone,
        preferences=NotificationPreferences(channel_order=_channels(channels)),
    )
    with store_session() as store:
        if not replace and store.get_user(user_id) is not None:
            raise PermanentError(f"user {user_id} already exists (use --replace to overwrite)")
        stored = store.put_user(user)
    if as_json:
        print_json(stored)
    else:
        out().print(f"[green]saved[/] user {stored.user_id} ({stored.name})")


@app.command("list", epilog="Example: exec-assistant users list --json")
def list_users(as_json: JsonFlag = False) -> None:
    """List every user in the store."""
    with store_session() as store:
        users = store.list_users()
    if as_json:
        print_json(users)
        return
    table = Table(title=f"{len(users)} user(s)")
    for column in ("user_id", "name", "slack", "email", "phone", "time zone", "channels"):
        table.add_column(column, overflow="fold")
    for user in users:
        table.add_row(
            user.user_id,
            user.name,
            user.slack_user_id or "-",
            user.email or "-",
            user.phone or "-",
            user.timezone,
            ",".join(c.value for c in user.preferences.channel_order),
        )
    out().print(table)
