"""The world every fault case starts from: the deployment's settings and one meeting to prepare.

:func:`deployment_env` is the environment a Lambda of this deployment would have (Slack and
Twilio credentials pointing at the loopback fakes, the store: a SQLite file or DynamoDB through
the moto proxy). :func:`seed` stores the executive (Slack and SMS) and a meeting six hours ahead,
PREP_REQUIRED, its prep window open at :data:`T0`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from exec_assistant.models import Meeting, MeetingStatus, User
from exec_assistant.store.base import Store

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
SLACK_USER = "U0ADA1234"
PHONE = "+14155550123"
SLACK_TOKEN = "xoxb-faults-token"
TWILIO_SID = "AC" + "fa017" * 6 + "00"
TWILIO_TOKEN = "twilio-faults-token"
TWILIO_FROM = "+15005550006"
#: The tables' environment on moto (created once per module: ``create_tables``).
DYNAMODB_ENVIRONMENT = "faults"


def deployment_env(
    backend: str,
    *,
    slack_url: str,
    twilio_url: str,
    sqlite_path: Path,
    dynamodb_url: str | None,
) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_API_URL": slack_url,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": TWILIO_FROM,
        "TWILIO_API_URL": twilio_url,
        "LOG_LEVEL": "INFO",
    }
    if backend == "sqlite":
        return env | {"EXEC_ASSISTANT_STORE": f"sqlite:///{sqlite_path}"}
    if dynamodb_url is None:
        raise ValueError("the dynamodb backend needs the moto proxy")
    return env | {
        "EXEC_ASSISTANT_STORE": "dynamodb",
        "ENVIRONMENT": DYNAMODB_ENVIRONMENT,
        "AWS_ENDPOINT_URL": dynamodb_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def seed(store: Store, *, user_id: str, meeting_id: str) -> None:
    store.put_user(
        User(
            user_id=user_id,
            slack_user_id=SLACK_USER,
            name="Ada Exec",
            phone=PHONE,
            timezone="America/New_York",
            created_at=T0,
            updated_at=T0,
        )
    )
    start = T0 + timedelta(hours=6)
    store.upsert_meeting_calendar(
        Meeting(
            meeting_id=meeting_id,
            user_id=user_id,
            title="Q4 Business Review",
            start_time=start,
            end_time=start + timedelta(hours=1),
            attendees=["cfo@example.com"],
            created_at=T0,
            updated_at=T0,
        )
    )
    assert store.transition_meeting(meeting_id, MeetingStatus.PREP_REQUIRED, now=T0)
