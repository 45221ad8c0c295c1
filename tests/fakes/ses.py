"""SES v2 for tests: moto's real HTTP server, plus client-side failure scripting.

Successful sends go over HTTP to ``moto.server.ThreadedMotoServer`` on 127.0.0.1 (the endpoint
reaches boto3 through ``AWS_ENDPOINT_URL``). Failures moto cannot produce (throttling, a paused
account, a read timeout) are injected through botocore's own ``before-send`` event on the client:
the handler returns a genuine SES error response (or raises botocore's ``ReadTimeoutError``), so
the client parses it and its standard retry mode acts on it exactly as it would on the wire.

Usage (see the ``fake_ses`` fixture)::

    fake_ses.fail_next("TooManyRequestsException", status=429, times=3)
    ... EmailChannel(...).send(...) ...
    assert len(fake_ses.sends) == 3
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Any

from moto.server import ThreadedMotoServer

SENDER = "exec-assistant@example.com"


@dataclass(frozen=True)
class SesSend:
    """One SendEmail request as the client sent it (parsed JSON body)."""

    params: dict[str, Any]
    answered_by: str  # "moto", or the scripted error code, or "timeout"

    @property
    def subject(self) -> str:
        return str(self.params["Content"]["Simple"]["Subject"]["Data"])

    @property
    def html(self) -> str:
        return str(self.params["Content"]["Simple"]["Body"]["Html"]["Data"])

    @property
    def text(self) -> str:
        return str(self.params["Content"]["Simple"]["Body"]["Text"]["Data"])

    @property
    def to(self) -> list[str]:
        return list(self.params["Destination"]["ToAddresses"])


class MotoServer:
    """A ``ThreadedMotoServer`` on 127.0.0.1 with a state reset between tests."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


class FakeSES:
    """Records SendEmail calls of one ``sesv2`` client and scripts failures for it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._sends: list[SesSend] = []
        self._script: deque[tuple[str, int]] = deque()
        client.meta.events.register_first(
            "before-send.sesv2.SendEmail", self._before_send, unique_id="fake-ses-before-send"
        )

    @property
    def sends(self) -> list[SesSend]:
        """Every SendEmail request the client made (retries included), in order."""
        with self._lock:
            return list(self._sends)

    @property
    def delivered(self) -> list[SesSend]:
        """The requests moto accepted."""
        return [s for s in self.sends if s.answered_by == "moto"]

    def verify_sender(self, address: str = SENDER) -> None:
        """Verify the sender identity (moto rejects mail from an unverified one)."""
        self.client.create_email_identity(EmailIdentity=address)

    def fail_next(self, code: str, *, status: int = 400, times: int = 1) -> None:
        """Answer the next ``times`` SendEmail calls with SES error ``code`` (HTTP ``status``).

        ``code="timeout"`` raises botocore's ``ReadTimeoutError`` after the request "left".
        """
        with self._lock:
            self._script.extend([(code, status)] * times)

    def _before_send(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse, HTTPHeaders
        from botocore.exceptions import ReadTimeoutError

        body = request.body
        params = json.loads(body.decode() if isinstance(body, bytes) else body or "{}")
        with self._lock:
            scripted = self._script.popleft() if self._script else None
            answered_by = scripted[0] if scripted else "moto"
            self._sends.append(SesSend(params=params, answered_by=answered_by))
        if scripted is None:
            return None  # go over HTTP to moto
        code, status = scripted
        if code == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        payload = json.dumps({"message": f"scripted {code}"}).encode()
        headers = HTTPHeaders.from_dict(
            {"x-amzn-ErrorType": f"{code}:", "Content-Type": "application/json"}
        )
        return AWSResponse(request.url, status, headers, _Raw(payload))


class _Raw:
    """The minimal raw-response object ``AWSResponse`` reads its body from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data
