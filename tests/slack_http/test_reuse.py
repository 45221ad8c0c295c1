"""PooledWebClient reuses connections, safely: stale ones are replaced before a request is sent."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from exec_assistant.notifications.channels.slack import SlackChannel
from exec_assistant.slack_http import MAX_IDLE_SECONDS, PooledWebClient
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack_http.conftest import TOKEN, ClientFactory
from tests.slack_http.raw import RawServer, answer


def test_calls_reuse_one_connection(fake_slack: FakeSlackAPI, make_client: ClientFactory) -> None:
    client = make_client(base_url=fake_slack.url)
    answers = [client.chat_postMessage(channel="U0ABC", text=f"m{i}") for i in range(20)]
    assert [a["message"]["text"] for a in answers] == [f"m{i}" for i in range(20)]
    assert len({a["ts"] for a in answers}) == 20
    assert fake_slack.connections == 1


def test_the_stock_client_opens_a_connection_per_call(fake_slack: FakeSlackAPI) -> None:
    # why PooledWebClient exists (and proof the connection count can tell the difference)
    client = WebClient(token=TOKEN, base_url=fake_slack.url, timeout=5)
    for i in range(3):
        client.chat_postMessage(channel="U0ABC", text=f"m{i}")
    assert fake_slack.connections == 3


def test_a_rate_limited_answer_keeps_the_connection(
    fake_slack: FakeSlackAPI, make_client: ClientFactory
) -> None:
    client = make_client(base_url=fake_slack.url)  # WebClient's default handlers: none for 429
    fake_slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=1)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="U0ABC", text="a")
    assert caught.value.response.status_code == 429
    assert client.chat_postMessage(channel="U0ABC", text="b")["ok"] is True
    assert fake_slack.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_before_sending(
    make_client: ClientFactory,
) -> None:
    close_idle, closed = threading.Event(), threading.Event()

    def keep_alive_then_close(server: RawServer, sock: socket.socket, index: int) -> None:
        while server.read_request(sock, index):
            answer(sock)
            if index == 0:
                close_idle.wait(10)
                sock.shutdown(socket.SHUT_RDWR)  # FIN while the client holds it idle
                closed.set()
                return

    with RawServer(keep_alive_then_close) as server:
        client = make_client(base_url=server.url, retry_handlers=[])  # nothing may hide a failure
        assert client.chat_postMessage(channel="U0ABC", text="first")["ok"] is True
        close_idle.set()
        assert closed.wait(10)
        assert client.chat_postMessage(channel="U0ABC", text="second")["ok"] is True
    # exactly one request per connection: the second was never sent on the dead one
    assert [index for index, _ in server.requests] == [0, 1]
    assert server.connections == 2


def test_a_connection_idle_longer_than_the_limit_is_not_reused(
    fake_slack: FakeSlackAPI, make_client: ClientFactory
) -> None:
    now = [1_000.0]
    client = make_client(base_url=fake_slack.url, clock=lambda: now[0])
    client.auth_test()
    now[0] += MAX_IDLE_SECONDS / 2
    client.auth_test()
    assert fake_slack.connections == 1
    now[0] += MAX_IDLE_SECONDS + 0.5
    client.auth_test()
    assert fake_slack.connections == 2
    assert len(fake_slack.calls_to("auth.test")) == 3


def test_concurrent_calls_each_get_their_own_answer(
    fake_slack: FakeSlackAPI, make_client: ClientFactory
) -> None:
    client = make_client(base_url=fake_slack.url)
    texts = [f"t{thread}-{i}" for thread in range(8) for i in range(25)]

    def post(text: str) -> str:
        return str(client.chat_postMessage(channel="U0ABC", text=text)["message"]["text"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(post, texts))
    assert got == texts
    assert len(fake_slack.calls_to("chat.postMessage")) == len(texts)
    assert fake_slack.connections <= 8


def test_with_a_proxy_the_call_goes_through_slack_sdks_urllib_transport(
    fake_slack: FakeSlackAPI, make_client: ClientFactory
) -> None:
    # the fake answers absolute-URI requests too, so it can stand in for an HTTP proxy
    client = make_client(base_url="http://127.0.0.1:9/api/", proxy=fake_slack.origin)
    assert client.chat_postMessage(channel="U0ABC", text="via proxy")["ok"] is True
    assert client.chat_postMessage(channel="U0ABC", text="again")["ok"] is True
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    assert fake_slack.connections == 2  # unpooled, as slack_sdk does it


def test_slack_channel_posts_through_a_pooled_client(fake_slack: FakeSlackAPI) -> None:
    channel = SlackChannel(token=TOKEN, base_url=fake_slack.url, timeout=5)
    assert isinstance(channel.client, PooledWebClient)
    for i in range(3):
        channel.client.chat_postMessage(channel="U0ABC", text=f"m{i}")
    assert fake_slack.connections == 1
    channel.client.close()
