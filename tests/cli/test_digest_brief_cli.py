"""users set --digest/--digest-days/--escalate-after plan the morning digest; meetings show
prints the stored prep brief."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from exec_assistant.events.local import LocalEventBus
from exec_assistant.events.local_scheduler import LocalScheduler
from exec_assistant.models import Meeting
from exec_assistant.workflows.brief import Answer, BriefMaterial, BuiltinWriter
from exec_assistant.workflows.brief_facts import meeting_brief_facts
from exec_assistant.workflows.digest import digest_schedule_name
from tests.cli.conftest import Cli, add_user, assert_one_line_error


def test_users_set_digest_plans_it_on_the_scheduler_loop(cli: Cli) -> None:
    add_user(cli)
    result = cli(
        "users", "set", "usr-ceo", "--digest", "08:15", "--digest-days", "mon,wed-thu",
        "--escalate-after", "45m",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "morning digest: 20" in result.stdout  # the next local fire time
    user = cli.store().get_user("usr-ceo")
    assert user is not None
    assert user.preferences.digest_time == time(8, 15)
    assert user.preferences.digest_days == [1, 3, 4]
    assert user.preferences.escalation_delay_minutes == 45
    scheduler = LocalScheduler(cli.db, LocalEventBus())
    try:
        (pending,) = scheduler.pending(digest_schedule_name("usr-ceo"))
        assert pending.fire_at.astimezone(user.zone).time() == time(8, 15)
        off = cli("users", "set", "usr-ceo", "--digest", "off")
        assert "morning digest: off" in off.stdout
        assert scheduler.pending(digest_schedule_name("usr-ceo")) == []
    finally:
        scheduler.close()


def test_users_set_digest_refuses_bad_values(cli: Cli) -> None:
    add_user(cli)
    assert_one_line_error(cli("users", "set", "usr-ceo", "--digest", "25:00"), contains="07:30")
    assert_one_line_error(
        cli("users", "set", "usr-ceo", "--digest-days", "monday"), contains="mon-fri"
    )


def test_meetings_show_prints_the_brief(cli: Cli) -> None:
    add_user(cli)
    store = cli.store()
    user = store.get_user("usr-ceo")
    assert user is not None
    start = datetime.now(UTC) + timedelta(days=1)
    meeting = Meeting(
        meeting_id="mtg-brief",
        user_id="usr-ceo",
        title="Acme renewal",
        start_time=start,
        end_time=start + timedelta(minutes=45),
        join_url="https://meet.google.com/abc-defg-hij",
    )
    store.upsert_meeting_calendar(meeting)
    brief = BuiltinWriter().write(
        BriefMaterial(
            facts=meeting_brief_facts(meeting, user),
            answers=[Answer(label="Topics to raise", text="- price cap\n- [SLA] credits")],
        )
    )
    store.save_meeting_brief("mtg-brief", brief.model_dump_json(), now=datetime.now(UTC))
    shown = cli("meetings", "show", "mtg-brief")
    assert shown.exit_code == 0, shown.output
    assert "Prep brief: Acme renewal" in shown.stdout
    assert "Join: https://meet.google.com/abc-defg-hij" in shown.stdout
    assert "  - [SLA] credits" in shown.stdout  # rich markup is not applied to the brief
    as_json = cli("meetings", "show", "mtg-brief", "--json")
    assert '"talking_points"' in as_json.stdout
