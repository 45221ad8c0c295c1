"""Message content: Block Kit shape, SMS length, email escaping, the user's time zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from exec_assistant.notifications.rendering import (
    SMS_KEYWORDS,
    SMS_KEYWORDS_WITHOUT_SLACK,
    SMS_MAX_CHARS,
    email_message,
    meeting_blocks,
    slack_message,
    sms_text,
    status_block,
)
from exec_assistant.notifications.types import NotificationKind, PrepNotification
from tests.notifications.conftest import make_meeting, make_user

PLACEHOLDERS = re.compile(r"would go here|placeholder|lorem|TODO|TBD|\{\w+\}", re.IGNORECASE)


def note(**meeting: object) -> PrepNotification:
    return PrepNotification(meeting=make_meeting(**meeting), user=make_user(), key="k")


def test_slack_blocks_have_header_facts_and_the_two_buttons() -> None:
    message = slack_message(note())
    types = [b["type"] for b in message.blocks]
    assert types == ["header", "section", "section", "actions"]
    assert message.blocks[0]["text"]["type"] == "plain_text"
    assert "Q4 Business Review" in message.blocks[1]["text"]["text"]
    fields = [f["text"] for f in message.blocks[2]["fields"]]
    # 2026-11-26 10:00 UTC is 05:00 in New York (EST).
    assert fields == [
        "*When*\nThu 26 Nov, 05:00\u201306:00 EST",
        "*Where*\nBoard room, 12th floor",
        "*Attendees*\n3 attendees",
    ]
    buttons = message.blocks[3]["elements"]
    assert [(b["type"], b["action_id"], b["value"]) for b in buttons] == [
        ("button", "start_prep", "mtg-qbr-1"),
        ("button", "remind_later", "mtg-qbr-1"),
    ]
    assert [b["text"]["text"] for b in buttons] == ["Start Prep", "Remind Later"]
    assert "Q4 Business Review" in message.text and "05:00" in message.text
    assert not PLACEHOLDERS.search(message.text + str(message.blocks))


def test_status_footer_replaces_the_buttons() -> None:
    blocks = meeting_blocks(make_meeting(), make_user(), footer=status_block("Prep started <now>"))
    assert blocks[-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "Prep started &lt;now&gt;"}],
    }
    assert all(b["type"] != "actions" for b in blocks)


def test_mrkdwn_control_characters_are_escaped_and_empty_location_omitted() -> None:
    message = slack_message(note(title="<!channel> & <https://evil|click>", location=""))
    assert message.blocks[1]["text"]["text"] == (
        "*&lt;!channel&gt; &amp; &lt;https://evil|click&gt;*"
    )
    assert [f["text"].split("\n")[0] for f in message.blocks[2]["fields"]] == [
        "*When*",
        "*Attendees*",
    ]


def test_time_is_in_the_users_zone() -> None:
    user = make_user(timezone="Asia/Tokyo")
    start = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # 08:30 next day in Tokyo
    meeting = make_meeting(start_time=start, end_time=start.replace(hour=23, minute=59))
    message = slack_message(PrepNotification(meeting=meeting, user=user, key="k"))
    assert "Fri 27 Nov, 08:30\u201308:59 JST" in message.blocks[2]["fields"][0]["text"]


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_sms_is_short_with_a_very_long_title_and_keeps_the_essentials(
    kind: NotificationKind,
) -> None:
    notification = PrepNotification(
        meeting=make_meeting(title="Strategy " * 56, location="Building 7 " * 40),
        user=make_user(),
        key="k",
        kind=kind,
    )
    text = sms_text(notification)
    assert len(text) <= SMS_MAX_CHARS
    assert "Thu 26 Nov, 05:00-06:00 EST" in text
    assert text.endswith(SMS_KEYWORDS)
    assert "Strategy Strategy" in text and "..." in text
    assert text.isascii()


def test_sms_with_a_short_title_is_complete() -> None:
    text = sms_text(note())
    assert text == (
        'Prep for "Q4 Business Review", Thu 26 Nov, 05:00-06:00 EST at Board room, 12th floor. '
        "3 attendees. Reply PREP to start prep in your Slack DM, LATER to be reminded in 30 min."
    )


def test_sms_without_slack_says_what_to_do_without_slack() -> None:
    notification = PrepNotification(
        meeting=make_meeting(), user=make_user(slack_user_id=None), key="k"
    )
    assert "Slack" not in sms_text(notification)
    assert sms_text(notification).endswith("before it starts. " + SMS_KEYWORDS_WITHOUT_SLACK)


def test_email_escapes_html_and_has_both_bodies() -> None:
    content = email_message(
        note(title='<script>alert("x")</script> & co', location="Room <b>4</b>")
    )
    assert "<script>" not in content.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in content.html
    assert "Room &lt;b&gt;4&lt;/b&gt;" in content.html
    assert '<script>alert("x")</script> & co' in content.text
    assert "Room <b>4</b>" in content.text
    assert "Thu 26 Nov, 05:00\u201306:00 EST" in content.text
    assert content.subject.startswith("Time to prep for your meeting: <script>")
    assert "\n" not in content.subject
    assert not PLACEHOLDERS.search(content.text)
