"""What the workers feed the handlers: seeded users and meetings, signed Slack requests,
EventBridge envelopes, and the bare-Bolt / bare-I/O floors they are compared with.

Runs inside a worker subprocess whose environment :mod:`bench.env` prepared (the package reads
its settings from there, exactly as on Lambda).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exec_assistant.models import Meeting, MeetingStatus, User, utcnow
from exec_assistant.notifications.rendering import START_PREP_ACTION
from exec_assistant.store.base import Store
from tests.slack.harness import (
    LAMBDA_CONTEXT,
    OWNER_SLACK_ID,
    Body,
    Payloads,
    v2_event,
)
from tests.slack.signing import signed_headers

if TYPE_CHECKING:
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler

from bench.env import BOT_TOKEN, SIGNING_SECRET

FIXTURE = (
    Path(__file__).resolve().parent.parent / "tests/fixtures/eventbridge-meeting-prep-required.json"
)
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
CONTEXT = LAMBDA_CONTEXT
LISTED_MEETINGS = 50


def owner_user() -> User:
    """The executive every bench meeting belongs to."""
    return User(
        user_id="exec-1",
        slack_user_id=OWNER_SLACK_ID,
        name="Ada Exec",
        email="ada@example.com",
        timezone="Europe/Paris",
    )


def owner(store: Store) -> User:
    return store.put_user(owner_user())


def bench_meeting(user: User, meeting_id: str, start: datetime) -> Meeting:
    return Meeting(
        meeting_id=meeting_id,
        user_id=user.user_id,
        title=f"Board review {meeting_id}",
        location="Board room",
        start_time=start,
        end_time=start + timedelta(hours=1),
        attendees=["ceo@example.com", "cfo@example.com"],
    )


def add_meeting(
    store: Store,
    user: User,
    meeting_id: str,
    start: datetime,
    status: MeetingStatus = MeetingStatus.DISCOVERED,
) -> Meeting:
    meeting = store.upsert_meeting_calendar(bench_meeting(user, meeting_id, start))
    if status != MeetingStatus.DISCOVERED:
        store.transition_meeting(meeting_id, status, now=utcnow())
    return meeting


def seed_listing(store: Store, user: User) -> None:
    """50 meetings inside the next 7 days: what ``/meetings`` lists."""
    now = utcnow()
    for i in range(LISTED_MEETINGS):
        add_meeting(store, user, f"listed-{i:02d}", now + timedelta(hours=2 + 3 * i))


def seed_clickable(store: Store, user: User, count: int) -> list[str]:
    """Meetings that were notified (PREP_SCHEDULED), one per Start Prep click; ten days out so
    they stay out of the ``/meetings`` listing."""
    start = utcnow() + timedelta(days=10)
    ids = [f"click-{i:05d}" for i in range(count)]
    for i, meeting_id in enumerate(ids):
        add_meeting(
            store, user, meeting_id, start + timedelta(minutes=i), MeetingStatus.PREP_SCHEDULED
        )
    return ids


class SlackRequests:
    """Signed API Gateway v2 events, signed now (Slack's 5-minute window is checked)."""

    def __init__(self, response_origin: str) -> None:
        self.payloads = Payloads(response_url=f"{response_origin}/response")

    @staticmethod
    def event(body: Body) -> dict[str, Any]:
        headers = signed_headers(
            SIGNING_SECRET, int(time.time()), body.text, content_type=body.content_type
        )
        return v2_event(body, headers)

    def meetings(self) -> dict[str, Any]:
        return self.event(self.payloads.command(""))

    def start_prep(self, meeting_id: str) -> dict[str, Any]:
        return self.event(self.payloads.block_action(START_PREP_ACTION, value=meeting_id))


def bare_app(slack_url: str) -> SlackRequestHandler:
    """A bare Bolt app with the handler's settings that only acknowledges, behind the same
    Lambda adapter."""
    from slack_bolt import Ack, App
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler
    from slack_sdk import WebClient

    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=slack_url),
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=False,
        process_before_response=True,
    )

    def ack_only(ack: Ack) -> None:
        ack()

    app.command("/meetings")(ack_only)
    app.action(START_PREP_ACTION)(ack_only)
    return SlackRequestHandler(app)


def bare_handler(slack_url: str) -> Handler:
    handler = bare_app(slack_url)

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = handler.handle(event, context)  # type: ignore[no-untyped-call]
        return response

    return handle


def envelope(meeting_id: str, user_id: str, event_id: str | None = None) -> dict[str, Any]:
    """The EventBridge envelope from the test fixture, for another meeting."""
    env: dict[str, Any] = json.loads(FIXTURE.read_text())
    env["id"] = event_id or str(uuid.uuid4())
    env["detail"] |= {"meeting_id": meeting_id, "user_id": user_id}
    return env


def notification_message() -> tuple[str, list[dict[str, Any]]]:
    """The text and Block Kit blocks the Slack channel posts for a bench meeting (rendered by
    the package's own renderer), for the floor to post the same payload."""
    from exec_assistant.notifications.rendering import slack_message
    from exec_assistant.notifications.types import PrepNotification

    user = owner_user()
    meeting = bench_meeting(user, "floor-00000", utcnow() + timedelta(hours=6))
    message = slack_message(PrepNotification(meeting=meeting, user=user, key="floor-00000#prep"))
    return message.text, message.blocks


class NotifyOnceFloor:
    """The bare "notify once" script of issue 16, per event: one ``INSERT OR IGNORE`` of the
    event's key in its own transaction on a SQLite file configured like the store's (WAL,
    synchronous=NORMAL, ``BEGIN IMMEDIATE``), and, only if the row is new, one
    ``chat.postMessage`` carrying the notification's own text and blocks (rendered once, before
    the clock starts). A redelivery costs the insert alone: that is what skipping duplicates
    costs at the least."""

    def __init__(self, db: Path, slack_url: str) -> None:
        from slack_sdk import WebClient

        self.conn = sqlite3.connect(db, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE ledger (key TEXT PRIMARY KEY, data TEXT)")
        self.client = WebClient(token=BOT_TOKEN, base_url=slack_url)
        self.text, self.blocks = notification_message()
        self.posts = 0

    def event(self, meeting: int) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        inserted = self.conn.execute(
            "INSERT OR IGNORE INTO ledger VALUES (?, ?)",
            (f"floor-{meeting:05d}#prep", '{"state": "delivered"}'),
        ).rowcount
        self.conn.execute("COMMIT")
        if inserted:
            self.client.chat_postMessage(
                channel=OWNER_SLACK_ID,
                text=self.text,
                blocks=self.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
            self.posts += 1
