"""The App Home: the executive's settings (digest, quiet hours, escalation) with an Edit
settings button, the modal it opens, its validated submission saved as ``users set`` saves (the
digest re-planned on the local scheduler or EventBridge Scheduler), and the last-notification
line from the meeting's timeline. Signed requests through ``lambda_handler`` against the Slack
fake, a real runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from exec_assistant.config import Settings
from exec_assistant.events.scheduler import EventBridgeScheduler
from exec_assistant.interfaces.settings_views import EDIT_SETTINGS_ACTION
from exec_assistant.models import QuietHours, User
from exec_assistant.runtime import Runtime, build_runtime
from exec_assistant.store.sqlite import SQLiteStore
from exec_assistant.workflows.digest import digest_schedule_name
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import Clock, notify_prep, serve_on_lambda
from tests.slack.harness import (
    OTHER_SLACK_ID,
    OWNER_SLACK_ID,
    HttpTransport,
    LambdaTransport,
    Payloads,
    Reply,
    wait_for,
)

GOOD = {
    "digest_on": "on",
    "digest_time": "08:15",
    "digest_days": "mon,wed-thu",
    "quiet_hours": "22:00-07:00",
    "escalation_delay": "45m",
}


def _values(fields: dict[str, str]) -> dict[str, dict[str, dict[str, Any]]]:
    """``view.state.values`` as Slack sends them for the settings modal."""
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block, text in fields.items():
        if block == "digest_on":
            option = {"text": {"type": "plain_text", "text": text.title()}, "value": text}
            values[block] = {"value": {"type": "radio_buttons", "selected_option": option}}
        else:
            values[block] = {"value": {"type": "plain_text_input", "value": text or None}}
    return values


def _submit(via: LambdaTransport, payloads: Payloads, fields: dict[str, str], **kw: Any) -> Reply:
    return via.send(payloads.view_submission("settings", _values(fields), **kw))


def _view(fake_slack: FakeSlackAPI, method: str) -> dict[str, Any]:
    view = fake_slack.calls_to(method)[-1].params["view"]
    return dict(json.loads(view) if isinstance(view, str) else view)


def _pending_digest(runtime: Runtime, user: User) -> list[Any]:
    return runtime.scheduler.pending(digest_schedule_name(user.user_id))


def test_home_shows_the_settings_and_the_edit_button(
    owner: User, via_lambda: LambdaTransport, payloads: Payloads, fake_slack: FakeSlackAPI
) -> None:
    via_lambda.send(payloads.home_opened())
    view = _view(fake_slack, "views.publish")
    (settings,) = [b for b in view["blocks"] if b.get("block_id") == "settings"]
    shown = json.dumps(settings["fields"])
    assert "07:30, mon-fri" in shown and "none" in shown and "30m" in shown
    assert settings["accessory"]["action_id"] == EDIT_SETTINGS_ACTION
    assert "Europe/Paris" in settings["text"]["text"]


def test_edit_settings_opens_the_modal_with_the_current_values(
    runtime: Runtime,
    owner: User,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    quiet = owner.preferences.model_copy(
        update={"quiet_hours": QuietHours(start=time(21), end=time(6, 30)), "digest_days": [1, 3]}
    )
    runtime.store.put_user(owner.model_copy(update={"preferences": quiet}))
    click = payloads.block_action(EDIT_SETTINGS_ACTION, value="edit", container="view")
    assert via_lambda.send(click).status == 200
    (opened,) = fake_slack.calls_to("views.open")
    assert opened.params["trigger_id"].startswith("1336.")
    modal = _view(fake_slack, "views.open")
    assert (modal["type"], modal["callback_id"]) == ("modal", "settings")
    initial = {
        b["block_id"]: b["element"].get("initial_value") or b["element"]["initial_option"]["value"]
        for b in modal["blocks"]
        if b["type"] == "input"
    }
    assert initial == {
        "digest_on": "on",
        "digest_time": "07:30",
        "digest_days": "mon,wed",
        "quiet_hours": "21:00-06:30",
        "escalation_delay": "30m",
    }


def test_a_valid_submission_saves_replans_the_digest_and_shows_it(
    runtime: Runtime,
    owner: User,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    reply = _submit(via_lambda, payloads, GOOD)
    assert (reply.status, reply.body) == (200, "")  # acknowledged: the modal closes
    saved = runtime.store.get_user(owner.user_id)
    assert saved is not None
    prefs = saved.preferences
    assert (prefs.digest_time, prefs.digest_days) == (time(8, 15), [1, 3, 4])
    assert prefs.quiet_hours == QuietHours(start=time(22), end=time(7))
    assert prefs.escalation_delay_minutes == 45
    assert (saved.name, saved.email) == (owner.name, owner.email)  # nothing else touched
    (pending,) = _pending_digest(runtime, owner)
    local = pending.fire_at.astimezone(saved.zone)
    assert (local.time(), local.isoweekday()) == (time(8, 15), 3)  # Mon 2 Mar 10:00 → Wed
    home = _view(fake_slack, "views.publish")
    assert "08:15, mon,wed-thu" in json.dumps(home["blocks"])

    _submit(via_lambda, payloads, {**GOOD, "digest_on": "off", "digest_time": ""})
    off = runtime.store.get_user(owner.user_id)
    assert off is not None and off.preferences.digest_time is None
    assert _pending_digest(runtime, owner) == []


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("digest_time", "25:00", "07:30"),
        ("digest_time", "", "choose Off"),
        ("digest_days", "weekdays", "mon-fri"),
        ("quiet_hours", "late", "22:00-07:00"),
        ("quiet_hours", "07:00-07:00", "same time"),
        ("escalation_delay", "30s", "whole minutes"),
        ("escalation_delay", "3d", "at most 24h"),
        ("escalation_delay", "soon", "30m"),
    ],
)
def test_bad_input_shows_field_errors_and_changes_nothing(
    runtime: Runtime,
    owner: User,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
    field: str,
    text: str,
    message: str,
) -> None:
    before = runtime.store.get_user(owner.user_id)
    planned = _pending_digest(runtime, owner)
    reply = _submit(via_lambda, payloads, {**GOOD, field: text})
    assert reply.status == 200
    answer = reply.json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [field]
    assert message in answer["errors"][field]
    assert runtime.store.get_user(owner.user_id) == before
    assert _pending_digest(runtime, owner) == planned
    assert fake_slack.calls_to("views.publish") == []


def test_only_the_submitters_own_settings_change(
    runtime: Runtime,
    owner: User,
    other: User,
    via_lambda: LambdaTransport,
    payloads: Payloads,
) -> None:
    _submit(via_lambda, payloads, GOOD, user=OTHER_SLACK_ID)
    assert runtime.store.get_user(owner.user_id) == owner
    changed = runtime.store.get_user(other.user_id)
    assert changed is not None and changed.preferences.escalation_delay_minutes == 45
    # a Slack user the store does not know changes nothing at all
    users = runtime.store.list_users()
    _submit(via_lambda, payloads, GOOD, user="U0STRANGER")
    assert runtime.store.list_users() == users


@hsettings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    field=st.sampled_from(sorted(set(GOOD) - {"digest_on"})),
    text=st.text(max_size=12),
)
def test_fuzzed_fields_are_saved_as_parsed_or_refused_without_change(
    runtime: Runtime,
    owner: User,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    field: str,
    text: str,
) -> None:
    from exec_assistant.interfaces.settings_views import read_settings
    from exec_assistant.interfaces.slack_payloads import InputValue

    runtime.store.put_user(owner)
    fields = {**GOOD, field: text}
    reply = _submit(via_lambda, payloads, fields)
    assert reply.status == 200
    stored = runtime.store.get_user(owner.user_id)
    if reply.body:
        assert reply.json()["response_action"] == "errors"
        assert stored == owner
        return
    parsed = {
        block: {k: InputValue.model_validate(v) for k, v in by_action.items()}
        for block, by_action in _values(fields).items()
    }
    preferences, errors = read_settings(parsed)
    assert errors == {}
    assert stored is not None
    assert stored.preferences.model_dump() == {**owner.preferences.model_dump(), **preferences}


# --- AWS: the digest's EventBridge Scheduler schedule -------------------------------------


@pytest.fixture
def aws_runtime(
    settings: Settings, clock: Clock, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, Any]]:
    """The Slack bot on a runtime whose scheduler is EventBridge Scheduler (moto), and the
    scheduler's boto3 client."""
    import boto3
    from moto import mock_aws

    import exec_assistant.runtime as runtime_module
    from exec_assistant.interfaces import slack_bot

    with mock_aws():
        client = boto3.client("scheduler", region_name="us-east-1")
        client.create_schedule_group(Name="grp")
        scheduler = EventBridgeScheduler(
            "grp",
            "arn:aws:iam::123456789012:role/r",
            "arn:aws:events:us-east-1:123456789012:event-bus/b",
            client,
        )
        rt = build_runtime(
            settings, store=SQLiteStore(tmp_path / "aws.db"), scheduler=scheduler, clock=clock
        )
        monkeypatch.setattr(runtime_module, "get_runtime", lambda: rt)
        serve_on_lambda()
        try:
            yield rt, client
        finally:
            slack_bot.reset_app()
            rt.close()


def test_on_aws_a_submission_updates_the_recurring_digest_schedule(
    aws_runtime: tuple[Runtime, Any], clock: Clock, payloads: Payloads
) -> None:
    from tests.slack.harness import Signing

    runtime, client = aws_runtime
    owner = runtime.store.put_user(
        User(user_id="exec-1", slack_user_id=OWNER_SLACK_ID, name="Ada", timezone="Asia/Kolkata")
    )
    via = LambdaTransport(Signing(clock))
    assert _submit(via, payloads, GOOD).body == ""
    got = client.get_schedule(Name=digest_schedule_name(owner.user_id), GroupName="grp")
    assert got["ScheduleExpression"] == "cron(15 8 ? * MON,WED,THU *)"
    assert got["ScheduleExpressionTimezone"] == "Asia/Kolkata"
    _submit(via, payloads, {**GOOD, "digest_on": "off"})
    assert client.list_schedules(GroupName="grp")["Schedules"] == []


# --- the last notification ------------------------------------------------------------------


def _last_line(fake_slack: FakeSlackAPI) -> str:
    home = _view(fake_slack, "views.publish")
    (line,) = [b for b in home["blocks"] if b.get("block_id") == "last_notification"]
    return str(line["elements"][0]["text"])


def test_home_shows_the_last_notification_from_the_timeline(
    runtime: Runtime,
    owner: User,
    meeting: Any,
    via_lambda: LambdaTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
    clock: Clock,
) -> None:
    via_lambda.send(payloads.home_opened())
    assert "last_notification" not in json.dumps(_view(fake_slack, "views.publish"))
    notify_prep(runtime, meeting)
    via_lambda.send(payloads.home_opened())
    line = _last_line(fake_slack)
    assert "prep notification for *Q1 board review*" in line
    assert "sent by slack Mon 10:00" in line  # 09:00 UTC in Paris
    assert "not answered yet" in line
    clock.advance(timedelta(minutes=5))
    via_lambda.send(payloads.block_action("start_prep", value=meeting.meeting_id))
    via_lambda.send(payloads.home_opened())
    assert "Prep started from Slack at 10:05" in _last_line(fake_slack)


def test_the_local_server_answers_field_errors_and_saves_after_the_ack(
    runtime: Runtime, owner: User, via_http: HttpTransport, payloads: Payloads
) -> None:
    """``serve`` (Bolt without process_before_response): the errors are still the ack's body,
    and the save runs after it."""
    bad = via_http.send(payloads.view_submission("settings", _values({**GOOD, "quiet_hours": "x"})))
    assert bad.status == 200
    assert bad.json()["response_action"] == "errors"
    assert list(bad.json()["errors"]) == ["quiet_hours"]
    assert runtime.store.get_user(owner.user_id) == owner
    good = via_http.send(payloads.view_submission("settings", _values(GOOD)))
    assert (good.status, good.body) == (200, "")

    def saved() -> bool:
        user = runtime.store.get_user(owner.user_id)
        return user is not None and user.preferences.escalation_delay_minutes == 45

    wait_for(saved)


def test_without_schedules_the_settings_are_saved_and_the_digest_not_planned(
    settings: Settings,
    clock: Clock,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    """A stack deployed with enable_prep_notification=false has no schedule group: the save
    still goes through (no "did not go through" notice), the Home tab shows it."""
    import exec_assistant.runtime as runtime_module
    from exec_assistant.events.scheduler import UnavailableScheduler
    from exec_assistant.interfaces import slack_bot
    from tests.slack.harness import Signing

    rt = build_runtime(
        settings,
        store=SQLiteStore(tmp_path / "none.db"),
        scheduler=UnavailableScheduler(),
        clock=clock,
    )
    monkeypatch.setattr(runtime_module, "get_runtime", lambda: rt)
    serve_on_lambda()
    try:
        owner = rt.store.put_user(User(user_id="exec-1", slack_user_id=OWNER_SLACK_ID, name="Ada"))
        assert _submit(LambdaTransport(Signing(clock)), payloads, GOOD).body == ""
        saved = rt.store.get_user(owner.user_id)
        assert saved is not None and saved.preferences.escalation_delay_minutes == 45
        assert "08:15, mon,wed-thu" in json.dumps(_view(fake_slack, "views.publish"))
        assert fake_slack.calls_to("chat.postMessage") == []  # no failure notice
    finally:
        slack_bot.reset_app()
        rt.close()
