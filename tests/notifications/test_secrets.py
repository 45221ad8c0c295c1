"""Every secret set, every channel exercised (failures too): none shows up in logs or results."""

from __future__ import annotations

import io
import logging

import pytest

from exec_assistant.config import Settings
from exec_assistant.logs import JsonFormatter
from exec_assistant.notifications.channels import build_channels
from exec_assistant.notifications.service import NotificationService
from exec_assistant.store.sqlite import SQLiteStore
from tests.fakes.ses import SENDER, FakeSES
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.notifications.conftest import Clock, make_meeting, make_user

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-9876543210-SECRET-bot-token",
    "SLACK_SIGNING_SECRET": "signing-SECRET-0123456789abcdef",
    "SLACK_APP_TOKEN": "xapp-1-SECRET-app-token-abcdef",
    "TWILIO_ACCOUNT_SID": "AC" + "f00dfeed" * 4,
    "TWILIO_AUTH_TOKEN": "twilio-SECRET-auth-token-99",
    "TWILIO_FROM_NUMBER": "+15005550006",
}


def test_no_secret_reaches_logs_or_results(
    monkeypatch: pytest.MonkeyPatch,
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
    fake_ses: FakeSES,
    store: SQLiteStore,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    monkeypatch.setenv("TWILIO_API_URL", fake_twilio.url)
    monkeypatch.setenv("SES_FROM_EMAIL", SENDER)
    channels = build_channels(Settings())
    service = NotificationService(store, channels, clock=clock)

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with caplog.at_level(logging.DEBUG):
            fake_slack.fail_next("chat.postMessage", error="invalid_auth")
            fake_twilio.fail_next(error_code=20003)
            failed_over = service.notify(make_meeting(), make_user(), key="k1")
            clean = service.notify(make_meeting(), make_user(), key="k2")
    finally:
        root.removeHandler(handler)

    assert failed_over.delivered_channel == "email"
    assert clean.delivered_channel == "slack"
    assert fake_slack.calls[0].token == SECRETS["SLACK_BOT_TOKEN"]  # the secrets were used
    assert fake_twilio.messages[0].auth_user == SECRETS["TWILIO_ACCOUNT_SID"]

    json_output = stream.getvalue()
    assert "notification.attempt_failed" in json_output
    assert "/Accounts/***/Messages.json" in json_output  # urllib3 logged the URL: scrubbed
    results = failed_over.model_dump_json() + clean.model_dump_json()
    # The JSON log output (every level, every library), and what our own code logged
    # (INFO and up, before any scrubbing), and the results.
    ours = "\n".join(
        f"{r.getMessage()} {getattr(r, 'fields', '')}"
        for r in caplog.records
        if r.name.startswith("exec_assistant") or r.levelno >= logging.INFO
    )
    ledger = "".join(r.model_dump_json() for r in store.list_notifications_for_meeting("mtg-qbr-1"))
    for name, value in SECRETS.items():
        assert value not in json_output, name
        assert value not in results, name
        assert value not in ours, name
        assert value not in ledger, name
