"""PooledWebClient answers and fails exactly as slack_sdk's urllib transport does.

The callers (slack_sdk's retry loop, SlackChannel's error classification, the Bolt app's retry
handlers) depend on: the 2xx return shape, ``HTTPError`` for any other status, ``URLError`` only
when the request was certainly not sent, ``TimeoutError`` / connection errors afterwards.
Where both transports can be pointed at the same server, the tests compare them side by side.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator

from exec_assistant.notifications.channels.slack import slack_retry_handlers
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack_http.conftest import TOKEN, ClientFactory
from tests.slack_http.raw import RawServer, answer, reset


class CountingInterval(RetryIntervalCalculator):
    """No wait between attempts; counts the retries slack_sdk's handlers schedule."""

    def __init__(self) -> None:
        self.retries = 0

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        self.retries += 1
        return 0.0


def _send(client: WebClient, url: str) -> dict[str, Any]:
    """One call through the transport method both clients implement, as slack_sdk makes it."""
    request = Request(
        method="POST",
        url=url,
        data=b"channel=U0ABC&text=hi",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Bearer {TOKEN}",
        },
    )
    return client._perform_urllib_http_request_internal(url, request)


def _error_from(client: WebClient, url: str) -> Exception:
    with pytest.raises(Exception) as caught:
        _send(client, url)
    assert isinstance(caught.value, Exception)
    return caught.value


@pytest.fixture
def stock() -> WebClient:
    return WebClient(token=TOKEN, timeout=5)


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that refuses connections (bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/api/"


# answers ----------------------------------------------------------------------------------------


def test_a_2xx_answer_has_urlopens_shape(
    fake_slack: FakeSlackAPI, stock: WebClient, make_client: ClientFactory
) -> None:
    url = fake_slack.url + "auth.test"
    expected, got = _send(stock, url), _send(make_client(), url)
    assert got["status"] == expected["status"] == 200
    assert isinstance(got["headers"], http.client.HTTPMessage)
    assert got["headers"].get_content_charset() == expected["headers"].get_content_charset()
    assert got["headers"]["Content-Type"] == expected["headers"]["Content-Type"]
    assert isinstance(got["body"], str)
    assert json.loads(got["body"]) == json.loads(expected["body"])
    # what the fake received: the same method, token and form body
    first, second = fake_slack.calls
    assert (second.method, second.token, second.params) == (first.method, first.token, first.params)


def test_a_gzip_answer_is_bytes_as_upstream(stock: WebClient, make_client: ClientFactory) -> None:
    payload = b"\x1f\x8b\x08\x00not-really-gzip"

    def gzip_file(server: RawServer, sock: socket.socket, index: int) -> None:
        while server.read_request(sock, index):
            answer(sock, payload, content_type="application/gzip")

    with RawServer(gzip_file) as server:
        url = server.url + "admin.analytics.getFile"
        expected, got = _send(stock, url), _send(make_client(), url)
    assert got["body"] == expected["body"] == payload


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [(429, "ratelimited", 3), (500, "internal_error", None), (404, "unknown_method", None)],
)
def test_a_non_2xx_answer_raises_http_error_as_urlopen(
    fake_slack: FakeSlackAPI,
    stock: WebClient,
    make_client: ClientFactory,
    status: int,
    error: str,
    retry_after: int | None,
) -> None:
    url = fake_slack.url + "chat.postMessage"
    errors = []
    for client in (stock, make_client()):
        fake_slack.fail_next(
            "chat.postMessage", error=error, status=status, retry_after=retry_after
        )
        errors.append(_error_from(client, url))
    for exc in errors:
        assert isinstance(exc, HTTPError)
        assert exc.code == status
        assert exc.headers.get_content_charset() == "utf-8"
        assert dict(exc.headers.items()).get("Retry-After") == (
            None if retry_after is None else str(retry_after)
        )
        assert json.loads(exc.read()) == {"ok": False, "error": error}


def test_429_goes_through_the_rate_limit_handler(
    fake_slack: FakeSlackAPI, make_client: ClientFactory
) -> None:
    client = make_client(
        base_url=fake_slack.url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)]
    )
    fake_slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=0)
    response = client.chat_postMessage(channel="U0ABC", text="hi")
    assert response["ok"] is True
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


def test_5xx_raises_slack_api_error_and_the_server_error_handler_retries_it(
    fake_slack: FakeSlackAPI, make_client: ClientFactory
) -> None:
    bare = make_client(base_url=fake_slack.url, retry_handlers=[])
    fake_slack.fail_next("chat.postMessage", error="internal_error", status=500)
    with pytest.raises(SlackApiError) as caught:
        bare.chat_postMessage(channel="U0ABC", text="hi")
    assert caught.value.response.status_code == 500
    assert caught.value.response["error"] == "internal_error"

    interval = CountingInterval()
    retrying = make_client(
        base_url=fake_slack.url,
        retry_handlers=[ServerErrorRetryHandler(max_retry_count=1, interval_calculator=interval)],
    )
    fake_slack.fail_next("chat.postMessage", error="internal_error", status=500)
    assert retrying.chat_postMessage(channel="U0ABC", text="hi")["ok"] is True
    assert interval.retries == 1


# transport failures ----------------------------------------------------------------------------


def test_connect_refused_is_url_error_and_retried_by_the_url_error_handler(
    refused_url: str, stock: WebClient, make_client: ClientFactory
) -> None:
    expected = _error_from(stock, refused_url + "chat.postMessage")
    interval = CountingInterval()
    client = make_client(
        base_url=refused_url,
        retry_handlers=[
            ConnectionErrorRetryHandler(
                max_retry_count=2, interval_calculator=interval, error_types=[URLError]
            )
        ],
    )
    with pytest.raises(URLError) as caught:
        client.chat_postMessage(channel="U0ABC", text="hi")
    assert isinstance(expected, URLError)
    assert type(caught.value.reason) is type(expected.reason) is ConnectionRefusedError
    assert interval.retries == 2  # three attempts: the request was never sent


def test_a_failed_tls_handshake_is_url_error(make_client: ClientFactory) -> None:
    class SpyContext(ssl.SSLContext):
        used = False

        def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
            SpyContext.used = True
            return super().wrap_socket(*args, **kwargs)

    def plain_http(server: RawServer, sock: socket.socket, index: int) -> None:
        sock.recv(65536)  # the ClientHello
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    context = SpyContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with RawServer(plain_http) as server:
        client = make_client(
            base_url=server.url.replace("http://", "https://"), ssl=context, retry_handlers=[]
        )
        with pytest.raises(URLError) as caught:
            client.api_call("auth.test")
    assert isinstance(caught.value.reason, ssl.SSLError)
    assert SpyContext.used  # the client's ssl context did the handshake
    assert server.requests == []


def test_a_read_timeout_is_timeout_error_and_not_resent(
    fake_slack: FakeSlackAPI, make_client: ClientFactory
) -> None:
    client = make_client(
        base_url=fake_slack.url, timeout=1, retry_handlers=slack_retry_handlers(backoff_factor=0)
    )
    fake_slack.hang_next("chat.postMessage", seconds=5)
    with pytest.raises(TimeoutError) as caught:
        client.chat_postMessage(channel="U0ABC", text="hi")
    assert not isinstance(caught.value, URLError)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    # the timed-out connection is dropped; the next call gets an answer on a new one
    assert client.chat_postMessage(channel="U0ABC", text="again")["ok"] is True
    assert fake_slack.connections == 2


def _hang_up(server: RawServer, sock: socket.socket, index: int) -> None:
    server.read_request(sock, index)  # FIN once the request is in


def _reset(server: RawServer, sock: socket.socket, index: int) -> None:
    server.read_request(sock, index)
    reset(sock)


@pytest.mark.parametrize(
    ("behaviour", "error_type"),
    [(_hang_up, http.client.RemoteDisconnected), (_reset, ConnectionResetError)],
    ids=["hang-up", "reset"],
)
def test_a_connection_lost_after_sending_is_the_socket_error_not_url_error(
    stock: WebClient,
    make_client: ClientFactory,
    behaviour: Any,
    error_type: type[Exception],
) -> None:
    with RawServer(behaviour) as server:
        expected = _error_from(stock, server.url + "chat.postMessage")
        client = make_client(
            base_url=server.url, retry_handlers=slack_retry_handlers(backoff_factor=0)
        )
        with pytest.raises(Exception) as caught:
            client.chat_postMessage(channel="U0ABC", text="hi")
    assert type(caught.value) is type(expected) is error_type
    assert not isinstance(caught.value, URLError)
    assert len(server.requests) == 2  # one each: SlackChannel's handlers never resend it
