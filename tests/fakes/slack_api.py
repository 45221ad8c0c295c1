"""A fake Slack Web API on 127.0.0.1 that the real ``slack_sdk.WebClient`` talks to.

Usage::

    with FakeSlackAPI() as fake:
        client = WebClient(token="xoxb-test", base_url=fake.url)
        fake.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=0)
        client.chat_postMessage(channel="U123ABC", text="hi")   # retried by the SDK handler
        assert [c.method for c in fake.calls] == ["chat.postMessage", "chat.postMessage"]

Every call is recorded (:attr:`FakeSlackAPI.calls`) with its method name, its parameters (query
string, form body and JSON body merged) and its headers. Answers follow Slack's documented
shapes for ``auth.test``, ``chat.postMessage`` (a user id as ``channel`` is answered with that
user's DM channel id, as Slack does), ``chat.update``, ``chat.postEphemeral``,
``views.publish``, ``conversations.open`` (``users=U…`` → the DM channel id),
``conversations.history``, ``users.info`` and ``apps.connections.open`` (the Socket Mode URL set
as :attr:`FakeSlackAPI.socket_mode_url`; only for an app-level ``xapp-`` token, as Slack); any
other method answers ``{"ok": true}``.

Posted messages are kept per channel (:meth:`FakeSlackAPI.messages_in`) with their message
metadata (``metadata={"event_type": …, "event_payload": {…}}``, sent as JSON or as a JSON string
in a form body). With :attr:`FakeSlackAPI.clock` set, ``ts`` is that clock's epoch seconds
(strictly increasing), so a test with an injected clock sees timestamps on its own time line
(``oldest`` = an attempt's start works); unset, the n-th ``ts`` is ``1700000000+n.00000n``.
``conversations.history`` answers newest first within ``oldest``/``latest`` (exclusive unless
``inclusive``), ``limit`` per page (default 100) with ``response_metadata.next_cursor`` and
``has_more``; a message carries ``metadata`` only when ``include_all_metadata`` is true, as Slack.

Failures are scripted per method with :meth:`FakeSlackAPI.fail_next` and
:meth:`FakeSlackAPI.hang_next` (nothing posted; resp. posted, answered late), and — the provider
acted but the answer is lost — :meth:`~tests.fakes._server.LoopbackFake.lose_response_next`
(HTTP 5xx or a connection reset after posting). :meth:`~tests.fakes._server.LoopbackFake.on`
runs a hook when a method's request arrives, after the fake acted, or after it answered.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.fakes._server import LoopbackFake, Reply, Request

TEAM_ID = "T0FAKE001"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"
#: ``conversations.history``'s page size when the call gives no ``limit`` (Slack's default).
HISTORY_DEFAULT_LIMIT = 100
_TS_STEP = Decimal("0.000001")


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

    def __init__(
        self, *, token: str | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__()
        self.token = token
        #: Where message timestamps come from (a test's injected clock); unset, the n-th
        #: ``ts`` is ``1700000000+n.00000n`` (a fixed sequence other tests rely on).
        self.clock = clock
        self._calls: list[SlackCall] = []
        self._counter = itertools.count(1)
        self._last_ts = Decimal(0)
        self._messages: dict[str, list[dict[str, Any]]] = {}
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

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Messages actually posted to ``channel`` (a user id means their DM), oldest first,
        each with its ``metadata`` when it was posted with some."""
        with self._lock:
            return [dict(m) for m in self._messages.get(_resolve(channel), [])]

    @property
    def posted(self) -> list[dict[str, Any]]:
        """Every message actually posted, in any channel, oldest first (with ``channel``)."""
        with self._lock:
            every = [dict(m, channel=c) for c, ms in self._messages.items() for m in ms]
        return sorted(every, key=lambda m: Decimal(m["ts"]))

    def reset(self) -> None:
        """Forget recorded calls, posted messages and scripted failures (users stay)."""
        with self._lock:
            self._calls.clear()
            self._messages.clear()
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
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``.

        ``status`` is the HTTP status (Slack sends most errors with 200; ``ratelimited`` comes
        with 429 and should get a ``retry_after``, sent as the ``Retry-After`` header; 5xx
        simulates an outage). The call is still recorded; nothing is posted. ``delay``: seconds
        before the failure is answered (a slow outage).
        """
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        reply = Reply(status, {"ok": False, "error": error}, headers, delay=delay)
        self._script(method, reply, times)

    def hang_next(self, method: str, *, seconds: float = 5.0, times: int = 1) -> None:
        """Accept the next ``times`` calls of ``method`` but answer only after ``seconds``.

        The call *is* processed (a ``chat.postMessage`` is posted) — exactly the "request left,
        no answer before the client's timeout" case. Use a client timeout below ``seconds``;
        stopping the fake releases the hanging handler at once.
        """
        self._script(method, Reply(delay=seconds), times)

    # serving ---------------------------------------------------------------------------------

    def route(self, request: Request) -> str:
        return request.path.rsplit("/", 1)[-1]

    def handle(self, request: Request) -> Reply:
        method = self.route(request)
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
        """Epoch seconds of :attr:`clock`, 6 decimals, strictly increasing (Slack's ts)."""
        if self.clock is None:
            with self._lock:
                n = next(self._counter)
                self._last_ts = Decimal(f"{1_700_000_000 + n}.{n:06d}")
                return f"{self._last_ts:.6f}"
        now = Decimal(f"{self.clock().timestamp():.6f}")
        with self._lock:
            self._last_ts = max(now, self._last_ts + _TS_STEP)
            return f"{self._last_ts:.6f}"

    def _post(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": params.get("text", ""),
            "ts": ts,
        }
        if "blocks" in params:
            message["blocks"] = params["blocks"]
        metadata = params.get("metadata")
        if isinstance(metadata, str) and metadata:
            metadata = json.loads(metadata)
        if isinstance(metadata, dict):
            message["metadata"] = {
                "event_type": metadata.get("event_type"),
                "event_payload": metadata.get("event_payload", {}),
            }
        with self._lock:
            self._messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _history(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            known = channel in self._messages
            stored = list(self._messages.get(channel, []))
        if not known and not channel.startswith("D"):
            return {"ok": False, "error": "channel_not_found"}
        oldest = Decimal(str(params.get("oldest") or "0"))
        latest = Decimal(str(params["latest"])) if params.get("latest") else None
        inclusive = _flag(params.get("inclusive"))

        def within(message: dict[str, Any]) -> bool:
            ts = Decimal(message["ts"])
            above = ts >= oldest if inclusive else ts > oldest
            below = latest is None or (ts <= latest if inclusive else ts < latest)
            return above and below

        with_metadata = _flag(params.get("include_all_metadata"))
        found = [
            m if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
            for m in reversed(stored)
            if within(m)
        ]
        limit = int(params.get("limit") or HISTORY_DEFAULT_LIMIT)
        cursor = str(params.get("cursor") or "")
        start = int(base64.b64decode(cursor).decode().removeprefix("next:")) if cursor else 0
        page = found[start : start + limit]
        more = start + limit < len(found)
        next_cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        channel = _resolve(str(params.get("channel", "")))
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
            return self._post(channel, params)
        if method == "conversations.history":
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            return self._history(channel, params)
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


def _resolve(channel: str) -> str:
    """A user id names that user's DM channel (as Slack resolves ``channel=U…``)."""
    return dm_channel_for(channel) if channel.startswith(("U", "W")) else channel


def _flag(value: Any) -> bool:
    """A boolean Web API argument: JSON ``true``, or ``1`` / ``true`` in a query or form."""
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true")
