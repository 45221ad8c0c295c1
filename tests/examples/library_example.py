import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import exec_assistant as ea

# The embedded runtime on a SQLite file (an absolute path: four slashes after "sqlite:").
db = Path(tempfile.mkdtemp()) / "exec-assistant.db"
runtime = ea.build_runtime(ea.Settings(exec_assistant_store=f"sqlite:///{db}"))

ada = runtime.store.put_user(
    ea.User(
        user_id="usr-ada", name="Ada Lovelace", email="ada@example.com", timezone="Europe/London"
    )
)
now = datetime.now(UTC)
meeting = runtime.store.upsert_meeting_calendar(
    ea.Meeting(
        meeting_id="mtg-qbr",
        user_id=ada.user_id,
        title="Quarterly business review",
        start_time=now + timedelta(hours=2),
        end_time=now + timedelta(hours=3),
        prep_hours_before=24,  # the prep window is open: it opened 22 hours ago
    )
)

# What the calendar monitor does when the window opens; the in-process bus runs the prep trigger.
ea.publish_prep_event(runtime, meeting)

record = runtime.store.get_notification(f"{meeting.meeting_id}#prep")
assert record is not None
print(record.state, [(a.channel.value, a.status.value) for a in record.attempts])
after = runtime.store.get_meeting(meeting.meeting_id)
assert after is not None and after.status is ea.MeetingStatus.PREP_SCHEDULED
runtime.close()
