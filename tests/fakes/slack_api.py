"""A fake Slack Web API on 127.0.0.1 that the real ``slack_sdk.WebClient`` talks to.

Usage::

    with FakeSlackAPI() as fake:
        client = WebClient(token="xoxb-test", base_url=fake.url)
        fake.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=0)
        client.chat_postMessage(channel="U123ABC", text="hi")   # retried by the SDK handler
        assert [c.method for c in fake.calls] == ["chat.postMessage", "chat.postMessage"]

Every call is recorded (:attr:`FakeSlackAPI.calls`) with its method name, its parameters (query
string, form body and JSON body merged) and its headers. Answers follow Slack's documented
shapes for ``auth.test``, ``chat.postMessage`` (increasing ``ts``; a user id as ``channel`` is
answered with that user's DM channel id, as Slack does), ``chat.update``, ``chat.postEphemeral``,
``views.publish``, ``conversations.open``, ``users.info`` and ``apps.connections.open`` (the
Socket Mode URL set as :attr:`FakeSlackAPI.socket_mode_url`; only for an app-level ``xapp-``
token, as Slack); any other method answers ``{"ok": true}``. Failures are scripted per method
with :meth:`FakeSlackAPI.fail_next` and :meth:`FakeSlackAPI.hang_next`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from tests.fakes._server import LoopbackFake, Reply, Request

TEAM_ID = "T0FAKE001"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"


@dataclass(frozen=True)
class SlackCall:
    """One Web API call as the fake received it."""

    method: str  # e.g. "chat.postMessage"
    params: dict[str, Any]
    headers: dict[str, str]

    @property
    def token(self) -> str | None:
        """The bearer token sent (``Authorization: Bearer …``), or a ``token`` parameter."""
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        token = self.params.get("token")
        return str(token) if token else None


def dm_channel_for(user_id: str) -> str:
    """The DM channel id the fake assigns to a user id (``U0ABC`` → ``D0ABC``)."""
    return "D" + user_id[1:]


class FakeSlackAPI(LoopbackFake):
    """Fake Slack Web API. Start it (or use ``with``), then point a client at :attr:`url`.

    ``token``: when given, any other bearer token gets ``invalid_auth``; a call without a token
    always gets ``not_authed``.
    """

    def __init__(self, *, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self._calls: list[SlackCall] = []
        self._ts = itertools.count(1)
        self._users: dict[str, dict[str, Any]] = {}
        #: What ``apps.connections.open`` hands out (e.g. ``FakeSocketMode.url``); unset, the
        #: method is refused with ``access_denied``.
        self.socket_mode_url: str | None = None

    @property
    def url(self) -> str:
        """Base URL for ``WebClient(base_url=...)`` (ends with ``/api/``)."""
        return f"{self.origin}/api/"

    # inspection ------------------------------------------------------------------------------

    @property
    def calls(self) -> list[SlackCall]:
        """Every call received so far, in order (a copy)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        """The calls of one Web API method, in order."""
        return [c for c in self.calls if c.method == method]

    def reset(self) -> None:
        """Forget recorded calls and scripted failures (users stay)."""
        with self._lock:
            self._calls.clear()
        self.clear_failures()

    # scripting -------------------------------------------------------------------------------

    def add_user(self, user_id: str, **fields: Any) -> None:
        """Make ``users.info`` know ``user_id``; ``fields`` override the defaults (``tz``,
        ``real_name``, ``profile``…). Unknown users get ``user_not_found``."""
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": user_id.lower(),
            "real_name": f"User {user_id}",
            "tz": "America/New_York",
            "tz_label": "Eastern Standard Time",
            "tz_offset": -18000,
            "is_bot": False,
            "deleted": False,
            "profile": {"real_name": f"User {user_id}", "email": f"{user_id.lower()}@example.com"},
        }
        user.update(fields)
        with self._lock:
            self._users[user_id] = user

    def fail_next(
        self,
        method: str,
        *,
        error: str = "internal_error",
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``.

        ``status`` is the HTTP status (Slack sends most errors with 200; ``ratelimited`` comes
        with 429 and should get a ``retry_after``, sent as the ``Retry-After`` header; 5xx
        simulates an outage). The call is still recorded.
        """
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._script(method, Reply(status, {"ok": False, "error": error}, headers), times)

    def hang_next(self, method: str, *, seconds: float = 5.0, times: int = 1) -> None:
        """Accept the next ``times`` calls of ``method`` but answer only after ``seconds``.

        The call *is* processed (a ``chat.postMessage`` is posted) — exactly the "request left,
        no answer before the client's timeout" case. Use a client timeout below ``seconds``;
        stopping the fake releases the hanging handler at once.
        """
        self._script(method, Reply(delay=seconds), times)

    # serving ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        method = request.path.rsplit("/", 1)[-1]
        call = SlackCall(method=method, params=request.params, headers=request.headers)
        with self._lock:
            self._calls.append(call)
        scripted = self._scripted(method)
        if scripted is not None and scripted.body is not None:
            return scripted
        delay = scripted.delay if scripted is not None else 0.0
        if not call.token:
            return Reply(200, {"ok": False, "error": "not_authed"}, delay=delay)
        if method == "apps.connections.open":  # the app-level token, not the bot's
            if not call.token.startswith("xapp-"):
                return Reply(200, {"ok": False, "error": "not_allowed_token_type"}, delay=delay)
        elif self.token is not None and call.token != self.token:
            return Reply(200, {"ok": False, "error": "invalid_auth"}, delay=delay)
        return Reply(200, self._answer(method, call.params), delay=delay)

    def _next_ts(self) -> str:
        with self._lock:
            n = next(self._ts)
        return f"{1_700_000_000 + n}.{n:06d}"

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if channel.startswith(("U", "W")):
            channel = dm_channel_for(channel)
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake-workspace.slack.com/",
                "team": "Fake Workspace",
                "user": "exec-assistant",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            ts = self._next_ts()
            message = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": params.get("text", ""),
                "ts": ts,
            }
            if "blocks" in params:
                message["blocks"] = params["blocks"]
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            return {
                "ok": True,
                "channel": channel,
                "ts": params.get("ts"),
                "text": params.get("text", ""),
                "message": {"text": params.get("text", ""), "blocks": params.get("blocks", [])},
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "views.publish":
            view = params.get("view", {})
            return {
                "ok": True,
                "view": {
                    "id": "V0FAKE0001",
                    "team_id": TEAM_ID,
                    "type": view.get("type", "home") if isinstance(view, dict) else "home",
                    "blocks": view.get("blocks", []) if isinstance(view, dict) else [],
                },
            }
        if method == "conversations.open":
            users = str(params.get("users", "")).split(",")[0]
            if not users:
                return {"ok": False, "error": "users_list_not_supplied"}
            return {"ok": True, "channel": {"id": dm_channel_for(users)}}
        if method == "apps.connections.open":
            if self.socket_mode_url is None:
                return {"ok": False, "error": "access_denied"}
            return {"ok": True, "url": self.socket_mode_url}
        if method == "users.info":
            with self._lock:
                user = self._users.get(str(params.get("user", "")))
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": user}
        return {"ok": True}
