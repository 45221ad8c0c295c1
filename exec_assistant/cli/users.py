"""``exec-assistant users add|list|set|remove``: the executives notifications go to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from exec_assistant.cli.output import err, out, print_json
from exec_assistant.cli.params import (
    JsonFlag,
    YesFlag,
    confirm_or_refuse,
    runtime_session,
    store_location,
    store_session,
)
from exec_assistant.config import get_settings
from exec_assistant.errors import RefusedError
from exec_assistant.models import Channel, NotificationPreferences, User
from exec_assistant.workflows.user_settings import (
    SettingError,
    change_settings,
    format_quiet_hours,
    parse_digest_days,
    parse_digest_time,
    parse_escalate_after,
    parse_quiet_hours,
)

T = TypeVar("T")

app = typer.Typer(
    help="Manage users (the executives who get prep notifications).", rich_markup_mode=None
)


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
            raise RefusedError(f"user {user_id} already exists (use --replace to overwrite)")
        stored = store.put_user(user)
    if as_json:
        print_json(stored)
    else:
        out().print(f"[green]saved[/] user {stored.user_id} ({stored.name})")


@app.command("list", epilog="Example: exec-assistant users list --json")
def list_users(as_json: JsonFlag = False) -> None:
    """List every user in the store (and say which store: stderr, so --json stays clean)."""
    with store_session() as store:
        users = store.list_users()
    err().print(f"store: {store_location(get_settings())}")
    if as_json:
        print_json(users)
        return
    table = Table(title=f"{len(users)} user(s)")
    columns = ("user_id", "name", "slack", "email", "phone", "time zone", "channels", "quiet hours")
    for column in (*columns, "escalation"):
        table.add_column(column, overflow="fold")
    for user in users:
        prefs = user.preferences
        table.add_row(
            user.user_id,
            user.name,
            user.slack_user_id or "-",
            user.email or "-",
            user.phone or "-",
            user.timezone,
            ",".join(c.value for c in prefs.channel_order),
            format_quiet_hours(prefs.quiet_hours) if prefs.quiet_hours else "-",
            f"{prefs.escalation_delay_minutes} min",
        )
    out().print(table)


def _setting(parse: Callable[[str], T], value: str) -> T:
    """A setting's text parsed as the App Home's settings modal parses it; bad text is bad input."""
    try:
        return parse(value)
    except SettingError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command(
    "set",
    epilog="Example: exec-assistant users set usr-ceo --channels slack,email "
    "--quiet-hours 22:00-07:00 --escalation-delay 45m --digest 07:30 --digest-days mon-fri",
)
def set_user(  # noqa: PLR0917 - Typer passes options by keyword
    user_id: Annotated[str, typer.Argument(help="The user to change.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    slack_user_id: Annotated[str | None, typer.Option(help="Slack member id (U…).")] = None,
    email: Annotated[str | None, typer.Option(help="Email for the SES fallback.")] = None,
    phone: Annotated[str | None, typer.Option(help="E.164 phone for the SMS fallback.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone.")] = None,
    channels: Annotated[
        str | None, typer.Option(help="Channel order, comma-separated (slack,sms,email,console).")
    ] = None,
    quiet_hours: Annotated[
        str | None,
        typer.Option(
            help="No SMS in this daily window, in the user's time zone: 22:00-07:00, or off."
        ),
    ] = None,
    escalation_delay: Annotated[
        str | None,
        typer.Option(
            "--escalation-delay",
            "--escalate-after",
            help="Escalate to the next channel when a delivered prep is not acted on within "
            "this time (30m, 2h).",
        ),
    ] = None,
    digest: Annotated[
        str | None,
        typer.Option(help="Morning digest time in the user's time zone (07:30), or off."),
    ] = None,
    digest_days: Annotated[
        str | None, typer.Option(help="Digest days: mon-fri (default), mon,wed,fri or all.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a user's details or notification preferences; options not given stay as they are.

    A change to the digest, time zone or quiet hours re-plans the user's morning digest (on AWS
    its EventBridge Scheduler schedule, locally the scheduler loop's next event). The App Home's
    settings modal saves through the same code (workflows/user_settings.py)."""
    fields: dict[str, Any] = {
        "name": name,
        "slack_user_id": slack_user_id,
        "email": email,
        "phone": phone,
        "timezone": timezone,
    }
    preferences: dict[str, Any] = {}
    if channels is not None:
        preferences["channel_order"] = _channels(channels)
    if quiet_hours is not None:
        preferences["quiet_hours"] = _setting(parse_quiet_hours, quiet_hours)
    if escalation_delay is not None:
        preferences["escalation_delay_minutes"] = _setting(parse_escalate_after, escalation_delay)
    if digest is not None:
        preferences["digest_time"] = _setting(parse_digest_time, digest)
    if digest_days is not None:
        preferences["digest_days"] = _setting(parse_digest_days, digest_days)
    changes = {k: v for k, v in fields.items() if v is not None}
    if not changes and not preferences:
        raise typer.BadParameter("nothing to change: give at least one option (see --help)")
    with store_session() as store:
        update = change_settings(
            store, user_id, fields=changes, preferences=preferences, plan_digest=_plan_digest
        )
    stored = update.user
    if as_json:
        print_json(stored)
    else:
        out().print(f"[green]saved[/] user {stored.user_id} ({stored.name})")
        if update.replanned:
            out().print(f"morning digest: {update.planned or 'off'}")


def _plan_digest(user: User) -> str | None:
    """Re-plan the user's morning digest; what is planned (cron, next time) or None (off)."""
    from exec_assistant.runtime import build_runtime
    from exec_assistant.workflows.digest import plan_digest

    runtime = build_runtime()
    try:
        return plan_digest(runtime, user)
    finally:
        runtime.close()


@app.command(
    "remove",
    epilog="Example: exec-assistant users remove usr-ceo --with-meetings --yes",
)
def remove(
    user_id: Annotated[str, typer.Argument(help="The user to remove.")],
    with_meetings: Annotated[
        bool,
        typer.Option(help="Also remove the user's meetings (refused without it if they have any)."),
    ] = False,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Remove a user: their record, calendar feeds and morning digest schedule.

    A user who owns meetings is refused (exit 2, nothing changed) unless --with-meetings, which
    removes each meeting as 'meetings remove' does (pending reminders deleted, Slack DMs edited
    to say cancelled). Notification history stays in the ledger until it expires. Asks for
    confirmation on a terminal; elsewhere pass --yes."""
    from exec_assistant.workflows.removal import removable_user, remove_user

    with runtime_session() as runtime:
        user, meetings = removable_user(runtime, user_id, with_meetings=with_meetings)
        count = len(meetings)
        extra = f" and their {count} meeting(s)" if count else ""
        confirm_or_refuse(f"Remove user {user_id} ({user.name}){extra}?", yes=yes)
        result = remove_user(runtime, user_id, with_meetings=with_meetings)
    if as_json:
        print_json(result)
        return
    console = out()
    console.print(f"[green]removed[/] user {user_id} ({escape(user.name)})")
    if result.meetings:
        edited = sum(len(m.messages_edited) for m in result.meetings)
        deleted = sum(len(m.schedules_deleted) for m in result.meetings)
        console.print(
            f"removed {len(result.meetings)} meeting(s): {deleted} pending reminder(s)/"
            f"escalation(s) deleted, {edited} Slack message(s) edited"
        )
    if result.feeds_removed:
        console.print(f"removed {result.feeds_removed} calendar feed(s)")
