"""serve: starts the local runtime (loops, Slack HTTP server), shows it, stops cleanly."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from exec_assistant.models import Meeting, MeetingStatus, User
from tests.cli.conftest import Cli, assert_one_line_error
from tests.fakes.slack_api import FakeSlackAPI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(condition: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_serve_runs_the_monitor_loop_and_stops_cleanly(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = cli.store()
    store.put_user(User(user_id="usr-ceo", name="Ada"))
    start = datetime.now(UTC) + timedelta(hours=1)
    store.upsert_meeting_calendar(
        Meeting(
            meeting_id="mtg-soon",
            user_id="usr-ceo",
            title="Soon",
            start_time=start,
            end_time=start + timedelta(hours=1),
        )
    )
    seen: dict[str, object] = {}

    def fake_wait(stop: threading.Event) -> None:
        def scheduled() -> bool:
            meeting = cli.store().get_meeting("mtg-soon")
            return meeting is not None and meeting.status == MeetingStatus.PREP_SCHEDULED

        _until(scheduled, "the calendar monitor to notify")
        seen["threads"] = [t for t in threading.enumerate() if t.daemon and t.is_alive()]
        # Ctrl-C

    monkeypatch.setattr("exec_assistant.cli.serve._wait", fake_wait)
    result = cli("serve")
    assert result.exit_code == 0, result.output
    assert "in-process" in result.stdout and "LocalScheduler" in result.stdout
    assert "SLACK_BOT_TOKEN is not set" in result.stdout
    assert "console" in result.stdout
    assert "Slack DM to Ada" in result.stdout  # the console channel, from the monitor's loop
    assert "stopped cleanly" in result.stdout
    assert seen["threads"]  # the loops were running while we waited


@pytest.fixture
def slack_env(fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bot token and signing secret, Slack on the fake: serve runs the HTTP app."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-serve-test-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "e3b0c44298fc1c149afbf4c8996fb924")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)


@pytest.mark.usefixtures("slack_env")
def test_serve_http_answers_slack_and_stops(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/slack/webhook"
    statuses: list[int] = []
    health: list[bytes] = []

    def fake_wait(stop: threading.Event) -> None:
        request = urllib.request.Request(url, data=b"payload=%7B%7D", method="POST")
        try:
            urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            health.append(answer.read())

    monkeypatch.setattr("exec_assistant.cli.serve._wait", fake_wait)
    result = cli("serve", "--port", str(port), "--http")
    assert result.exit_code == 0, result.output
    assert statuses == [401]  # unsigned request refused by the running app
    assert json.loads(health[0]) == {"status": "ok", "checks": {"store": "ok", "loops": "ok"}}
    assert url in result.stdout
    assert "stopped cleanly" in result.stdout
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # the server is gone


def test_serve_http_without_signing_secret_is_one_line(
    cli: Cli, fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-serve-test-1")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    monkeypatch.setattr("exec_assistant.cli.serve._wait", lambda stop: None)
    result = cli("serve", "--port", str(_free_port()), "--http")
    assert_one_line_error(result, contains="SLACK_SIGNING_SECRET")
    assert result.exit_code == 3


@pytest.mark.usefixtures("slack_env")
def test_serve_on_a_taken_port_names_it_in_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("exec_assistant.cli.serve._wait", lambda stop: None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port), "--http")
    assert result.exit_code != 0
    [line] = [line for line in result.stderr.splitlines() if "cannot listen" in line]
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in line
