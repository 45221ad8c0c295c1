"""Run one notify() in a spawned process (kept light: the child imports only this module)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from exec_assistant.models import Channel, Meeting, User
from exec_assistant.notifications.channels.slack import SlackChannel
from exec_assistant.notifications.service import NotificationService
from exec_assistant.store.sqlite import SQLiteStore


def notify_in_this_process(db_path: str, slack_url: str, worker: int) -> tuple[bool, str]:
    """notify() once for the shared key; returns (duplicate, outcome)."""
    now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    user = User(user_id="usr-ada", slack_user_id="U0ADA1234", name="Ada Exec")
    meeting = Meeting(
        meeting_id="mtg-qbr-1",
        user_id="usr-ada",
        title="Q4 Business Review",
        start_time=now + timedelta(hours=20),
        end_time=now + timedelta(hours=21),
    )
    store = SQLiteStore(db_path)
    try:
        channel = SlackChannel(token="xoxb-process", base_url=slack_url, timeout=2)
        service = NotificationService(store, {Channel.SLACK: channel}, worker_id=f"proc-{worker}")
        result = service.notify(meeting, user, key="mtg-qbr-1#prep")
        return result.duplicate, result.outcome.value
    finally:
        store.close()
