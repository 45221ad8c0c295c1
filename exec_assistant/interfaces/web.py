"""A small WSGI router for the local server, and the plain request/response it hands around.

Routes are path templates (``/slack/webhook``, ``/actions/{token}``) with one handler per
method: an unknown path is 404, a known path with another method 405 (with ``Allow``), a body
over the limit 413 (unread). A handler takes an :class:`HttpRequest` and returns an
:class:`HttpReply`, so the same handler code serves the local server and, through
:mod:`~exec_assistant.interfaces.api_gateway`, Lambda. A handler that raises is a bug: logged
with the route and the error type, answered 500 without details.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from exec_assistant.logs import log_event
from exec_assistant.models import ErrorClass

logger = logging.getLogger(__name__)

JSON_HEADERS = {"content-type": "application/json"}
#: Largest body accepted (Slack's and Twilio's payloads are far smaller).
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class HttpReply:
    """A response, whichever door it leaves by."""

    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, **headers: str) -> HttpReply:
        return cls(status, json.dumps(document), JSON_HEADERS | headers)

    @classmethod
    def error(cls, status: int, message: str, **headers: str) -> HttpReply:
        return cls.json(status, {"error": message}, **headers)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    #: values of the route's ``{name}`` segments
    params: dict[str, str]
    #: lower-case names
    headers: dict[str, str]
    query: str
    body: bytes


Handler = Callable[[HttpRequest], HttpReply]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


class Router:
    """``router.add("/slack/webhook", POST=handler)``; the router is the WSGI application."""

    def __init__(self, max_body: int = MAX_BODY_BYTES) -> None:
        self.max_body = max_body
        self._routes: list[tuple[str, re.Pattern[str], dict[str, Handler]]] = []

    def add(self, template: str, **handlers: Handler) -> None:
        """Serve ``template`` with one handler per (upper-case) method name."""
        if any(existing == template for existing, _, _ in self._routes):
            raise ValueError(f"route {template} is already served")
        self._routes.append((template, _pattern(template), dict(handlers)))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        reply = self.reply(environ)
        body = reply.body.encode("utf-8")
        status = f"{reply.status} {HTTPStatus(reply.status).phrase}"
        headers = [*reply.headers.items(), ("content-length", str(len(body)))]
        start_response(status, headers)
        return [body]

    def reply(self, environ: dict[str, Any]) -> HttpReply:
        path = str(environ.get("PATH_INFO") or "/")
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        for template, pattern, handlers in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            handler = handlers.get(method)
            if handler is None:
                return HttpReply.error(405, "method not allowed", allow=", ".join(sorted(handlers)))
            body = self._body(environ)
            if body is None:
                return HttpReply.error(413, "request too large")
            request = HttpRequest(
                method=method,
                path=path,
                params=match.groupdict(),
                headers=_headers(environ),
                query=str(environ.get("QUERY_STRING") or ""),
                body=body,
            )
            try:
                return handler(request)
            except Exception as exc:  # noqa: BLE001 - a bug in a handler: logged, a bare 500
                log_event(
                    logger,
                    logging.ERROR,
                    "http.handler_failed",
                    route=template,
                    error=type(exc).__name__,
                    error_class=ErrorClass.UNKNOWN.value,
                )
                return HttpReply.error(500, "internal error")
        return HttpReply.error(404, "not found")

    def _body(self, environ: Mapping[str, Any]) -> bytes | None:
        """The request body, or ``None`` if it is larger than the limit."""
        length = str(environ.get("CONTENT_LENGTH") or "").strip()
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        if length.isdigit():
            if int(length) > self.max_body:
                return None
            return bytes(stream.read(int(length)))
        data = bytes(stream.read(self.max_body + 1))  # chunked: read up to the limit
        return None if len(data) > self.max_body else data


def health_handler(checks: Mapping[str, Callable[[], None]]) -> Handler:
    """``GET /healthz``: 200 when every check passes (a check raises when it does not), else
    503; the body names each check and its result (the error type only, never details)."""

    def handle(_request: HttpRequest) -> HttpReply:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - a failing check is the answer, logged
                results[name] = f"failing: {type(exc).__name__}"
                log_event(
                    logger, logging.WARNING, "http.health_failing", check=name, error=str(exc)[:200]
                )
        healthy = all(result == "ok" for result in results.values())
        return HttpReply.json(
            200 if healthy else 503, {"status": "ok" if healthy else "failing", "checks": results}
        )

    return handle
