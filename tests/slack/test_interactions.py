"""Each interaction through ``lambda_handler`` (lazy work through Bolt's real lazy-listener path)
against the fake Slack Web API and a real runtime (SQLite store, local bus and scheduler)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from exec_assistant.events.scheduler import UnavailableScheduler
from exec_assistant.interfaces.slack_views import REMIND_CHOICE_ACTION
from exec_assistant.models import (
    ChatState,
    Meeting,
    MeetingStatus,
    User,
    chat_session_id_for,
)
from exec_assistant.runtime import Runtime
from tests.fakes.slack_api import FakeSlackAPI, dm_channel_for
from tests.slack.conftest import T0, Clock, make_meeting, notify_prep
from tests.slack.harness import (
    OTHER_SLACK_ID,
    OWNER_SLACK_ID,
    LambdaTransport,
    Payloads,
    responded,
)

DM = dm_channel_for(OWNER_SLACK_ID)


def _blocks(call_params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = call_params.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def _action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        str(e.get("action_id"))
        for b in blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
    ]


def _status(runtime: Runtime, meeting: Meeting) -> MeetingStatus:
    stored = runtime.store.get_meeting(meeting.meeting_id)
    assert stored is not None
    return stored.status


# --- /meetings ----------------------------------------------------------------------------


def test_meetings_lists_callers_meetings_in_their_timezone(
    runtime: Runtime,
    owner: User,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    make_meeting(runtime, owner, "mtg-tomorrow", T0 + timedelta(days=1), "Investor call")
    reply = via_lambda.send(payloads.command("week"))
    assert (reply.status, reply.body) == (200, "")  # acknowledged; the list follows
    answer = responded(fake_slack)
    assert answer["response_type"] == "ephemeral"
    text = json.dumps(answer["blocks"])
    assert "Q1 board review" in text
    assert "Investor call" in text
    assert "15:00" in text  # 14:00 UTC shown in Europe/Paris
    buttons = [e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {(e["action_id"], e["value"]) for e in buttons} >= {
        ("start_prep", "mtg-board-review"),
        ("remind_later", "mtg-board-review"),
    }
    block_ids = [b["block_id"] for b in answer["blocks"] if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))

    via_lambda.send(payloads.command("today"))
    today = responded(fake_slack)
    assert "Q1 board review" in json.dumps(today["blocks"])
    assert "Investor call" not in json.dumps(today["blocks"])


def test_meetings_shows_status_and_only_fitting_buttons(
    runtime: Runtime,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    clock: Clock,
    fake_slack: FakeSlackAPI,
) -> None:
    runtime.store.transition_meeting(
        meeting.meeting_id, MeetingStatus.PREP_IN_PROGRESS, now=clock()
    )
    via_lambda.send(payloads.command(""))
    answer = responded(fake_slack)
    assert "prep in progress" in json.dumps(answer["blocks"])
    assert _action_ids(answer["blocks"]) == []


def test_a_long_meeting_list_fits_in_one_slack_message(
    runtime: Runtime,
    owner: User,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    for i in range(50):
        make_meeting(runtime, owner, f"mtg-{i:02d}", T0 + timedelta(hours=1 + 3 * i), f"M{i:02d}")
    via_lambda.send(payloads.command("week"))
    blocks = responded(fake_slack)["blocks"]
    assert len(blocks) <= 50  # Slack's limit for one message
    listed = sum(1 for b in blocks if b["type"] == "divider")
    assert listed >= 10
    assert blocks[-1]["elements"][0]["text"] == "…and more."  # read 16 of the 50, not all


def test_meetings_unknown_caller_gets_setup_instructions(
    via_lambda: LambdaTransport, payloads: Payloads, fake_slack: FakeSlackAPI
) -> None:
    reply = via_lambda.send(payloads.command("", user="U0STRANGER"))
    assert reply.status == 200
    assert "exec-assistant users add --slack-user-id U0STRANGER" in responded(fake_slack)["text"]


@pytest.mark.parametrize("arg", ["help", "tomorrow", "week please"])
def test_meetings_help_and_bad_argument(
    arg: str,
    owner: User,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    via_lambda.send(payloads.command(arg))
    assert "/meetings today" in responded(fake_slack)["text"]


# --- Start Prep -----------------------------------------------------------------------------


def test_start_prep_opens_conversation_and_replaces_buttons(
    runtime: Runtime,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    notify_prep(runtime, meeting)
    notification = fake_slack.calls_to("chat.postMessage")[-1]
    assert _status(runtime, meeting) == MeetingStatus.PREP_SCHEDULED
    assert runtime.scheduler.pending(), "the escalation check is scheduled"
    fake_slack.reset()

    reply = via_lambda.send(
        payloads.block_action(
            "start_prep", value=meeting.meeting_id, message_ts="1700000001.000001"
        )
    )
    assert reply.status == 200

    assert _status(runtime, meeting) == MeetingStatus.PREP_IN_PROGRESS
    session = runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id))
    assert session is not None
    assert session.slack_channel_id == DM
    assert runtime.scheduler.pending() == []  # escalation cancelled

    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 1
    assert posts[0].params["channel"] == DM
    assert "goal of this meeting" in posts[0].params["text"]
    updates = fake_slack.calls_to("chat.update")
    assert len(updates) == 1
    assert updates[0].params["channel"] == DM
    assert updates[0].params["ts"] == "1700000001.000001"
    assert _action_ids(_blocks(updates[0].params)) == []
    assert "Prep started" in json.dumps(_blocks(updates[0].params))
    assert notification.params["channel"] == OWNER_SLACK_ID


def test_another_users_click_is_refused_and_changes_nothing(
    runtime: Runtime,
    meeting: Meeting,
    other: User,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    for action in ("start_prep", "remind_later"):
        via_lambda.send(
            payloads.block_action(action, value=meeting.meeting_id, user=OTHER_SLACK_ID)
        )
    refusals = fake_slack.calls_to("chat.postEphemeral")
    assert len(refusals) == 2
    assert all(r.params["user"] == OTHER_SLACK_ID for r in refusals)
    assert "Only the person" in refusals[0].params["text"]
    assert fake_slack.calls_to("chat.postMessage") == []
    assert fake_slack.calls_to("chat.update") == []
    assert _status(runtime, meeting) == MeetingStatus.DISCOVERED
    assert runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id)) is None


def test_unknown_clicker_is_refused(
    runtime: Runtime,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    via_lambda.send(
        payloads.block_action("start_prep", value=meeting.meeting_id, user="U0STRANGER")
    )
    assert [c.method for c in fake_slack.calls if c.method != "auth.test"] == ["chat.postEphemeral"]
    assert _status(runtime, meeting) == MeetingStatus.DISCOVERED


def test_double_click_and_retry_of_start_prep_do_it_once(
    runtime: Runtime,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    click = payloads.block_action("start_prep", value=meeting.meeting_id)
    via_lambda.send(click)
    via_lambda.send(click, retry_num=1)  # Slack redelivering the very same request
    via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))  # 2nd click
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert len(fake_slack.calls_to("chat.update")) == 1
    session = runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id))
    assert session is not None
    assert [m.role for m in session.messages] == ["assistant"]
    assert _status(runtime, meeting) == MeetingStatus.PREP_IN_PROGRESS


def test_start_prep_from_ephemeral_list_and_app_home(
    runtime: Runtime,
    owner: User,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
    clock: Clock,
) -> None:
    """From /meetings (ephemeral: replaced through response_url) and from the Home tab (the
    view is republished); the conversation opens in a DM either way."""
    via_lambda.send(
        payloads.block_action(
            "start_prep", value=meeting.meeting_id, channel="C0GENERAL1", container="ephemeral"
        )
    )
    assert fake_slack.calls_to("conversations.open")[0].params["users"] == OWNER_SLACK_ID
    assert fake_slack.calls_to("chat.postMessage")[0].params["channel"] == DM
    replaced = [c for c in fake_slack.calls if c.method.isdigit()]  # POST to .../response/actions/N
    assert len(replaced) == 1
    assert replaced[0].params["replace_original"] is True
    assert fake_slack.calls_to("chat.update") == []

    second = make_meeting(runtime, owner, "mtg-second", T0 + timedelta(hours=6), "Second meeting")
    via_lambda.send(payloads.block_action("start_prep", value=second.meeting_id, container="view"))
    home = fake_slack.calls_to("views.publish")
    assert len(home) == 1
    assert "prep in progress" in json.dumps(home[0].params["view"])


def test_start_prep_on_cancelled_meeting_is_refused(
    runtime: Runtime,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
    clock: Clock,
) -> None:
    runtime.store.transition_meeting(meeting.meeting_id, MeetingStatus.CANCELLED, now=clock())
    via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    assert "cancelled" in fake_slack.calls_to("chat.postEphemeral")[0].params["text"]
    assert runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id)) is None


# --- Remind Later ---------------------------------------------------------------------------


def test_remind_later_schedules_once_and_fires_one_more_notification(
    runtime: Runtime,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
    clock: Clock,
) -> None:
    notify_prep(runtime, meeting)
    scheduler: Any = runtime.scheduler
    escalation = [item.name for item in scheduler.pending()]
    fake_slack.reset()

    via_lambda.send(payloads.block_action("remind_later", value=meeting.meeting_id))
    menu = fake_slack.calls_to("chat.update")
    assert len(menu) == 1
    blocks = _blocks(menu[0].params)
    assert _action_ids(blocks) == ["start_prep", REMIND_CHOICE_ACTION]
    select = next(
        e
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "static_select"
    )
    labels = [o["text"]["text"] for o in select["options"]]
    assert labels == ["In 15 minutes", "In 1 hour", "In 3 hours"]  # tomorrow is after the start
    one_hour = select["options"][1]["value"]
    assert scheduler.pending() != [] and [i.name for i in scheduler.pending()] == escalation

    choose = payloads.block_action(REMIND_CHOICE_ACTION, selected=one_hour)
    via_lambda.send(choose)
    via_lambda.send(choose, retry_num=1)
    via_lambda.send(payloads.block_action(REMIND_CHOICE_ACTION, selected=one_hour))  # chosen twice
    pending = scheduler.pending()
    assert len(pending) == 1, "one reminder; the escalation check was cancelled"
    assert pending[0].fire_at == T0 + timedelta(hours=1)
    said = fake_slack.calls_to("chat.update")[-1]
    assert "11:00" in said.params["text"]  # 10:00 UTC in Paris
    assert _action_ids(_blocks(said.params)) == []

    fake_slack.reset()
    clock.advance(timedelta(hours=1))
    assert scheduler.run_due() == 1
    assert scheduler.run_due() == 0
    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 1
    assert posts[0].params["channel"] == OWNER_SLACK_ID
    assert "Reminder" in posts[0].params["text"]


def test_remind_later_stale_choice_is_refused(
    runtime: Runtime,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
    clock: Clock,
) -> None:
    past = int((T0 - timedelta(minutes=1)).timestamp())
    via_lambda.send(
        payloads.block_action(REMIND_CHOICE_ACTION, selected=f"{past}|{meeting.meeting_id}")
    )
    assert "no longer works" in fake_slack.calls_to("chat.postEphemeral")[0].params["text"]
    assert runtime.scheduler.pending() == []


def test_remind_later_without_a_scheduler_says_reminders_are_off(
    runtime: Runtime,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stack deployed with enable_prep_notification=false has no EventBridge Scheduler."""
    monkeypatch.setattr(runtime, "scheduler", UnavailableScheduler())
    soon = int((T0 + timedelta(hours=1)).timestamp())
    via_lambda.send(
        payloads.block_action(REMIND_CHOICE_ACTION, selected=f"{soon}|{meeting.meeting_id}")
    )
    refusal = fake_slack.calls_to("chat.postEphemeral")[0].params["text"]
    assert "Reminders are not enabled" in refusal
    assert fake_slack.calls_to("chat.update") == []


def test_remind_later_too_close_to_start(
    runtime: Runtime,
    owner: User,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    soon = make_meeting(runtime, owner, "mtg-soon", T0 + timedelta(minutes=10), "Quick sync")
    via_lambda.send(payloads.block_action("remind_later", value=soon.meeting_id))
    assert "too soon" in fake_slack.calls_to("chat.postEphemeral")[0].params["text"]
    assert fake_slack.calls_to("chat.update") == []


# --- the conversation ---------------------------------------------------------------------


ANSWERS = [
    "Agree the Q2 budget",
    "Hiring plan; churn numbers",
    "The CFO wants detail on margins",
    "Deck v3 in the shared drive",
]


def test_whole_conversation_to_prep_completed(
    runtime: Runtime,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    fake_slack.reset()
    first = payloads.dm(ANSWERS[0])
    via_lambda.send(first)
    via_lambda.send(first, retry_num=1)  # redelivered: not answered twice, not stored twice
    for answer in ANSWERS[1:]:
        via_lambda.send(payloads.dm(answer))

    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 4
    assert all(p.params["channel"] == DM for p in posts)
    assert "topics" in posts[0].params["text"]
    assert "attendees" in posts[1].params["text"]
    assert "material" in posts[2].params["text"]
    brief = json.dumps(_blocks(posts[3].params))
    assert "Prep brief: Q1 board review" in brief
    for answer in ANSWERS:
        assert answer in brief

    assert _status(runtime, meeting) == MeetingStatus.PREP_COMPLETED
    session = runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id))
    assert session is not None
    assert session.state == ChatState.COMPLETED
    assert list(session.prep_answers.values()) == ANSWERS
    assert [m.role for m in session.messages] == ["assistant"] + ["user", "assistant"] * 4

    # the conversation is over: a further DM gets the helpful answer
    fake_slack.reset()
    via_lambda.send(payloads.dm("one more thing"))
    assert "no prep conversation open" in fake_slack.calls_to("chat.postMessage")[0].params["text"]


def test_dm_without_session_gets_help_once(
    owner: User, via_lambda: LambdaTransport, payloads: Payloads, fake_slack: FakeSlackAPI
) -> None:
    hello = payloads.dm("hello?")
    via_lambda.send(hello)
    via_lambda.send(hello, retry_num=1)
    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 1
    assert "/meetings" in posts[0].params["text"]


def test_dm_from_unknown_user_gets_setup_instructions(
    via_lambda: LambdaTransport, payloads: Payloads, fake_slack: FakeSlackAPI
) -> None:
    via_lambda.send(payloads.dm("hi", user="U0STRANGER"))
    assert "--slack-user-id U0STRANGER" in fake_slack.calls_to("chat.postMessage")[0].params["text"]


@pytest.mark.parametrize(
    "extra",
    [
        {"bot_id": "B0OTHERBOT", "user": "U0OTHERBOT"},
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"channel_type": "channel", "channel": "C0GENERAL1"},
    ],
    ids=["bot", "edit", "deletion", "channel"],
)
def test_bot_messages_edits_and_channels_are_ignored(
    extra: dict[str, Any],
    runtime: Runtime,
    meeting: Meeting,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    fake_slack.reset()
    reply = via_lambda.send(payloads.dm("Agree the budget", **extra))
    assert reply.status == 200
    assert [c.method for c in fake_slack.calls if c.method != "auth.test"] == []
    session = runtime.store.get_chat_session(chat_session_id_for(meeting.meeting_id))
    assert session is not None and session.step == 0


# --- App Home ---------------------------------------------------------------------------------


def test_app_home_lists_upcoming_meetings(
    meeting: Meeting, via_lambda: LambdaTransport, payloads: Payloads, fake_slack: FakeSlackAPI
) -> None:
    via_lambda.send(payloads.home_opened())
    published = fake_slack.calls_to("views.publish")
    assert len(published) == 1
    assert published[0].params["user_id"] == OWNER_SLACK_ID
    view = published[0].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home"
    assert "Q1 board review" in json.dumps(view)
    assert "start_prep" in json.dumps(view)

    via_lambda.send(payloads.home_opened(tab="messages"))
    assert len(fake_slack.calls_to("views.publish")) == 1


def test_app_home_for_unknown_user(
    via_lambda: LambdaTransport, payloads: Payloads, fake_slack: FakeSlackAPI
) -> None:
    via_lambda.send(payloads.home_opened(user="U0STRANGER"))
    view = fake_slack.calls_to("views.publish")[0].params["view"]
    assert "--slack-user-id U0STRANGER" in json.dumps(view)
