"""The local server (cheroot behind a small router): routes, health, bind errors, and 32
concurrent clients with zero errors and every side effect exactly once."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from exec_assistant.errors import ConfigurationError
from exec_assistant.interfaces.web import HttpReply, HttpRequest, Router
from exec_assistant.models import MeetingStatus, User, chat_session_id_for
from exec_assistant.runtime import Runtime
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import T0, make_meeting
from tests.slack.harness import HttpTransport, Payloads, Reply, wait_for


def _get(url: str) -> Reply:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return Reply(response.status, response.read().decode(), dict(response.headers))
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.read().decode(), dict(err.headers))


def test_get_on_the_webhook_is_405(via_http: HttpTransport) -> None:
    reply = _get(via_http.url)
    assert (reply.status, reply.headers.get("allow")) == (405, "POST")


def test_healthz_names_what_it_checked(runtime: Runtime) -> None:
    from exec_assistant.interfaces.local_server import start_slack_server

    broken: list[str] = []

    def loops() -> None:
        if broken:
            raise RuntimeError("loop(s) stopped: Thread-9")

    server = start_slack_server(runtime, host="127.0.0.1", port=0, health={"loops": loops})
    try:
        reply = _get(f"{server.origin}/healthz")
        assert reply.status == 200
        assert reply.json() == {"status": "ok", "checks": {"store": "ok", "loops": "ok"}}
        broken.append("x")
        reply = _get(f"{server.origin}/healthz")
        assert reply.status == 503
        assert reply.json()["checks"] == {"store": "ok", "loops": "failing: RuntimeError"}
    finally:
        server.stop()


def test_healthz_is_503_when_the_store_fails(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exec_assistant.errors import StoreUnavailableError
    from exec_assistant.interfaces.local_server import start_slack_server

    def unreachable(_user_id: str) -> None:
        raise StoreUnavailableError("database is locked")

    server = start_slack_server(runtime, host="127.0.0.1", port=0)
    try:
        monkeypatch.setattr(runtime.store, "get_user", unreachable)
        reply = _get(f"{server.origin}/healthz")
        assert reply.status == 503
        assert reply.json()["checks"] == {"store": "failing: StoreUnavailableError"}
    finally:
        server.stop()


def test_a_taken_port_is_an_error_naming_host_and_port(runtime: Runtime) -> None:
    from exec_assistant.interfaces.local_server import start_slack_server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port}") as refused:
            start_slack_server(runtime, host="127.0.0.1", port=port)
    assert str(refused.value).startswith(
        f"cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def test_router_matches_templates_and_answers_404_405_413() -> None:
    import io

    seen: list[HttpRequest] = []

    def token(request: HttpRequest) -> HttpReply:
        seen.append(request)
        return HttpReply(200, request.params["token"])

    router = Router(max_body=10)
    router.add("/actions/{token}", GET=token, POST=token)
    with pytest.raises(ValueError, match="already"):
        router.add("/actions/{token}", GET=token)

    def call(method: str, path: str, body: bytes = b"") -> HttpReply:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        return router.reply(environ)

    assert call("GET", "/actions/abc.def").body == "abc.def"
    assert call("POST", "/actions/t1", b"x=1").status == 200
    assert seen[-1].body == b"x=1"
    assert call("GET", "/actions/a/b").status == 404
    assert call("DELETE", "/actions/t1").headers["allow"] == "GET, POST"
    assert call("POST", "/actions/t1", b"x" * 11).status == 413


def test_32_concurrent_clients_no_errors_each_click_once(
    runtime: Runtime,
    owner: User,
    via_http: HttpTransport,
    payloads: Payloads,
    fake_slack: FakeSlackAPI,
) -> None:
    """320 requests from 32 clients: each of 40 meetings clicked 4 times (Start Prep) plus
    /meetings listings. Zero errors; one chat session, one opening question and one message
    update per meeting."""
    meetings = [
        make_meeting(runtime, owner, f"mtg-load-{i:03d}", T0 + timedelta(hours=6), f"Load {i}")
        for i in range(40)
    ]
    bodies = [
        payloads.block_action("start_prep", value=m.meeting_id) for m in meetings for _ in range(4)
    ] + [payloads.command("week") for _ in range(160)]

    def send(i: int) -> int:
        return via_http.send(bodies[i]).status

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(send, range(len(bodies))))
    assert statuses == [200] * len(bodies)

    wait_for(lambda: len(fake_slack.calls_to("chat.update")) >= len(meetings), timeout=60)
    wait_for(lambda: sum(c.method.isdigit() for c in fake_slack.calls) >= 160, timeout=60)
    for m in meetings:
        stored = runtime.store.get_meeting(m.meeting_id)
        assert stored is not None and stored.status == MeetingStatus.PREP_IN_PROGRESS
        assert runtime.store.get_chat_session(chat_session_id_for(m.meeting_id)) is not None
    assert len(fake_slack.calls_to("chat.update")) == len(meetings)
    assert len(fake_slack.calls_to("chat.postMessage")) == len(meetings)
    assert sum(c.method.isdigit() for c in fake_slack.calls) == 160
    assert {c.params["text"] for c in fake_slack.calls_to("chat.update")} == {
        "Prep started: answer the questions in our DM."
    }
