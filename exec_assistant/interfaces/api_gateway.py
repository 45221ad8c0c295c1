"""API Gateway proxy events (HTTP API v2, REST v1, Function URLs) to and from plain HTTP parts.

Tolerant of what API Gateway leaves out (``headers``, ``body``, ``isBase64Encoded`` when empty)
and of any header case. A body that cannot be decoded (invalid base64, a string that is not
encodable) comes out as ``None``, which the ingress refuses like a bad signature.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from exec_assistant.interfaces.web import HttpReply


def _method(event: Mapping[str, Any]) -> str:
    context = event.get("requestContext")
    if isinstance(context, Mapping):
        http = context.get("http")
        if isinstance(http, Mapping) and isinstance(http.get("method"), str):
            return str(http["method"])
        if isinstance(context.get("httpMethod"), str):
            return str(context["httpMethod"])
    return str(event.get("httpMethod") or "")


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    raw = event.get("headers")
    if not isinstance(raw, Mapping):
        return {}
    return {str(k).lower(): v for k, v in raw.items() if isinstance(v, str)}


def _body(event: Mapping[str, Any]) -> bytes | None:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        return None
    try:
        if event.get("isBase64Encoded"):
            return base64.b64decode(body, validate=True)
        return body.encode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: non-ASCII base64, lone surrogates
        return None


def from_api_gateway(event: Mapping[str, Any]) -> tuple[str, bytes | None, dict[str, str]]:
    """``(method, raw body or None, lower-cased headers)``."""
    return _method(event), _body(event), _headers(event)


def to_api_gateway(reply: HttpReply) -> dict[str, Any]:
    return {
        "statusCode": reply.status,
        "headers": reply.headers,
        "body": reply.body,
        "isBase64Encoded": False,
    }
