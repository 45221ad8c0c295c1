"""``exec-assistant dlq drain --queue trigger|scheduler|post-response``: recover what a deployed
stack dead-lettered, and say what became of each message.

* ``trigger`` (``exec-assistant-prep-dlq-{env}``): EventBridge's undeliverable events (the body is
  the event) and Lambda's failure records after its retries (the event is ``requestPayload``).
* ``scheduler`` (``exec-assistant-scheduler-dlq-{env}``): reminders and escalations EventBridge
  Scheduler could not deliver (the body is the event's detail).

Both are re-driven through the prep trigger the way they first went: the same
``MeetingPrepRequired`` detail is put on the stack's bus again. The detail carries the ledger key
(meeting + cycle or reminder), so a message whose notification did go out meanwhile comes back
as a duplicate and sends nothing; one that never went out is sent once. A message is deleted only
once its event is on the bus; one that cannot be read is kept and reported, never deleted.

* ``post-response`` (``exec-assistant-post-response-dlq-{env}``): the Slack bot's records
  of work that failed after its response. They carry ids and the error, not the request (the
  executive was told in Slack to try again), so there is nothing to re-run: each record is
  reported, then deleted.

``--dry-run`` reads and reports only: every message read is made visible again at once.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ValidationError
from rich.table import Table

from exec_assistant.aws import client
from exec_assistant.cli.deployed import QUEUES, QueueName, bus_name, queue_name
from exec_assistant.cli.events import publish_to_bus
from exec_assistant.cli.output import ExitCode, out, print_json
from exec_assistant.cli.params import JsonFlag
from exec_assistant.config import get_settings
from exec_assistant.errors import ExecAssistantError
from exec_assistant.events.base import BusEvent
from exec_assistant.models import (
    PREP_EVENT_DETAIL_TYPE,
    REMINDER_EVENT_SOURCE,
    MeetingPrepRequired,
    parse_prep_event,
)

app = typer.Typer(
    name="dlq",
    help="Recover what a deployed stack dead-lettered.",
    no_args_is_help=True,
)

EPILOG = "Example: exec-assistant dlq drain --queue trigger --env prod --dry-run"
#: Seconds a message read for draining stays invisible to other readers.
VISIBILITY_S = 60


class DrainItem(BaseModel):
    message_id: str
    meeting_id: str | None = None
    key: str | None = None
    # planned | republished | removed | kept (unreadable, left in the queue) | error
    action: str
    detail: str = ""


class DrainSummary(BaseModel):
    queue: str
    queue_name: str
    dry_run: bool
    counts: dict[str, int]
    items: list[DrainItem]


class Unreadable(ValueError):
    """The message is not what this queue holds: it is kept, never deleted."""


def _load(body: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise Unreadable(f"body is not JSON ({exc.msg})") from None


def _trigger_event(body: str) -> tuple[BusEvent, MeetingPrepRequired, str]:
    """The event of a trigger DLQ message: EventBridge's (the event itself) or Lambda's failure
    record (the event under ``requestPayload``), and why it failed, when the record says."""
    message = _load(body)
    why = ""
    if isinstance(message, dict) and "requestPayload" in message:
        response = message.get("responsePayload") or {}
        context = message.get("requestContext") or {}
        if isinstance(response, dict) and isinstance(context, dict):
            why = f"{context.get('condition', '')} {response.get('errorType', '')}".strip()
        message = message["requestPayload"]
    try:
        envelope, detail = parse_prep_event(message)
    except (ValidationError, ValueError) as exc:
        raise Unreadable(f"not a MeetingPrepRequired event: {_short(exc)}") from None
    event = BusEvent(
        source=envelope.source, detail_type=envelope.detail_type, detail=envelope.detail
    )
    return event, detail, why


def _scheduler_event(body: str) -> tuple[BusEvent, MeetingPrepRequired, str]:
    """A schedule's target input is the event's detail; the source is always the reminders'."""
    detail_json = _load(body)
    try:
        detail = MeetingPrepRequired.model_validate(detail_json)
    except ValidationError as exc:
        raise Unreadable(f"not a MeetingPrepRequired detail: {_short(exc)}") from None
    event = BusEvent(
        source=REMINDER_EVENT_SOURCE, detail_type=PREP_EVENT_DETAIL_TYPE, detail=detail_json
    )
    return event, detail, ""


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


def _post_response(body: str) -> str:
    record = _load(body)
    if not isinstance(record, dict):
        raise Unreadable("not a post-response record")
    return (
        f"{record.get('listener', '?')} for {record.get('slack_user_id', '?')}: "
        f"{record.get('error_class', '?')} {record.get('error') or record.get('reason', '')}"
    ).strip()


def _one(queue: QueueName, env: str, message: dict[str, Any], dry_run: bool) -> DrainItem:
    """Decide (and unless ``dry_run``, do) what becomes of one message."""
    message_id = str(message.get("MessageId", "?"))
    body = str(message.get("Body", ""))
    try:
        if queue == "post-response":
            return DrainItem(
                message_id=message_id,
                action="planned" if dry_run else "removed",
                detail=_post_response(body) + " (told in Slack; nothing to re-run)",
            )
        reader = _trigger_event if queue == "trigger" else _scheduler_event
        event, detail, why = reader(body)
    except Unreadable as exc:
        return DrainItem(message_id=message_id, action="kept", detail=str(exc))
    item = DrainItem(
        message_id=message_id,
        meeting_id=detail.meeting_id,
        key=detail.idempotency_key(),
        action="planned",
        detail=why,
    )
    if dry_run:
        return item
    (event_id,) = publish_to_bus(bus_name(env), [event])
    return item.model_copy(
        update={
            "action": "republished",
            "detail": f"event {event_id}" + (f"; was {why}" if why else ""),
        }
    )


def drain_queue(queue: QueueName, env: str, *, dry_run: bool, max_messages: int) -> DrainSummary:
    """Read up to ``max_messages`` messages and handle each (see the module docstring)."""
    sqs = client("sqs")
    name = queue_name(queue, env)
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    items: list[DrainItem] = []
    held: list[str] = []  # receipt handles to release (dry run, kept, errors)
    seen: set[str] = set()
    while len(items) < max_messages:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, max_messages - len(items)),
            VisibilityTimeout=VISIBILITY_S,
            WaitTimeSeconds=1,
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            try:
                item = _one(queue, env, message, dry_run)
            except ExecAssistantError as exc:
                item = DrainItem(message_id=message["MessageId"], action="error", detail=str(exc))
            items.append(item)
            if item.action in ("republished", "removed"):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                held.append(message["ReceiptHandle"])
    for handle in held:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return DrainSummary(
        queue=queue,
        queue_name=name,
        dry_run=dry_run,
        counts=dict(Counter(i.action for i in items)),
        items=items,
    )


def _queue(value: str) -> QueueName:
    for queue in QUEUES:
        if value == queue:
            return queue
    raise typer.BadParameter(f"{value!r} is not one of {', '.join(QUEUES)}")


@app.command("drain", epilog=EPILOG)
def drain(
    queue: Annotated[
        str,
        typer.Option(help=f"Which dead-letter queue: {', '.join(QUEUES)}.", parser=_queue),
    ],
    env: Annotated[
        str | None,
        typer.Option(help="The stack's environment (default: ENVIRONMENT)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Report what would be done; change nothing.")
    ] = False,
    max_messages: Annotated[
        int, typer.Option("--max", min=1, help="Handle at most this many messages.")
    ] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Re-drive a dead-letter queue's messages through the prep trigger (free of duplicates:
    the ledger recognises a notification already sent) and report each one."""
    stack_env = env or get_settings().environment
    summary = drain_queue(_queue(queue), stack_env, dry_run=dry_run, max_messages=max_messages)
    if as_json:
        print_json(summary)
    else:
        _show(summary)
    if any(i.action in ("kept", "error") for i in summary.items):
        raise typer.Exit(int(ExitCode.FAILED))


def _show(summary: DrainSummary) -> None:
    title = (
        f"dlq drain {summary.queue} ({summary.queue_name}{', dry run' if summary.dry_run else ''})"
    )
    table = Table(title=title)
    for column in ("message", "meeting", "ledger key", "action", "detail"):
        table.add_column(column, overflow="fold")
    colour = {"republished": "green", "removed": "green", "planned": "white"}
    for i in summary.items:
        table.add_row(
            i.message_id,
            i.meeting_id or "-",
            i.key or "-",
            f"[{colour.get(i.action, 'red')}]{i.action}[/]",
            i.detail,
        )
    console = out()
    console.print(table)
    counts = ", ".join(f"{n} {action}" for action, n in sorted(summary.counts.items()))
    console.print(f"{len(summary.items)} message(s){': ' + counts if counts else ''}")
