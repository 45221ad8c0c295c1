"""Lambda entry for the executive's answers outside Slack: Twilio's webhooks and the email links.

Contract: ``exec_assistant.interfaces.webhooks.lambda_handler``, behind API Gateway's HTTP API
(payload format 2.0): ``POST /twilio/sms`` (SMS replies), ``POST /twilio/status`` (delivery
receipts), ``GET``/``POST /actions/{token}`` (email action links). The routes are exactly the
ones ``serve`` answers: the handler turns the event into a WSGI environ and hands it to the same
:class:`~exec_assistant.interfaces.web.Router` that
:func:`~exec_assistant.interfaces.answer_routes.add_answer_routes` fills, so both doors share one
code path (404 for an unknown path, 405 for another method, 413 for an oversized body). Bodies
may arrive base64-encoded (form posts through an HTTP API usually do); one that does not decode
is a 400 and changes nothing. Twilio signs the public URL it called, which is
``PUBLIC_BASE_URL`` + the path (:func:`~exec_assistant.interfaces.twilio_webhooks.public_url`):
the deployment sets it to the API's endpoint.

**One function of its own** (``exec-assistant-webhooks-{env}``), not the Slack bot's:

* the Slack bot answers Slack within 3 s and restores from a SnapStart snapshot of the Bolt app;
  these routes need twilio and itsdangerous instead, which would grow the bot's snapshot and
  import work for requests that never use them;
* least privilege: this function reads the Twilio auth token and the link-signing key and may
  publish a failed receipt's follow-up cycle to the bus; the bot needs none of that, and the
  webhooks need neither the Slack signing secret nor the bot's post-response dead-letter queue;
* separate alarms, logs and concurrency: a flood of SMS receipts cannot throttle Slack's clicks.

Cold start: importing this module imports neither twilio nor itsdangerous (each is imported
where a request uses it); the router and the runtime are built once per process, before the
SnapStart snapshot when it is on (:func:`before_snapshot`).
"""

from __future__ import annotations

import io
import threading
from typing import Any

from exec_assistant import coldstart, snapshots
from exec_assistant.interfaces.answer_routes import add_answer_routes
from exec_assistant.interfaces.api_gateway import from_api_gateway, to_api_gateway
from exec_assistant.interfaces.web import HttpReply, Router
from exec_assistant.logs import configure_logging
from exec_assistant.runtime import Runtime

#: The handler string Lambda is configured with (``infra/lambdas.py``).
HANDLER = "exec_assistant.interfaces.webhooks.lambda_handler"
#: The AWS services an answer calls (store; secrets; cancelling or creating reminders; the
#: follow-up cycle after a failed SMS receipt).
AWS_SERVICES = ("dynamodb", "secretsmanager", "scheduler", "events")

_router: Router | None = None
_router_lock = threading.Lock()


def build_router(runtime: Runtime) -> Router:
    """The answer routes of ``runtime``, as ``serve`` mounts them."""
    router = Router()
    add_answer_routes(router, runtime)
    return router


def environ(event: dict[str, Any]) -> dict[str, Any] | None:
    """The WSGI environ of an HTTP API v2 event (of a REST v1 event: its method, path, headers
    and body; no query string); ``None`` when its body cannot be decoded."""
    method, body, headers = from_api_gateway(event)
    if body is None:
        return None
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    path = event.get("rawPath") or (http or {}).get("path") or event.get("path") or "/"
    query = event.get("rawQueryString")
    if not isinstance(query, str):
        query = ""
    env: dict[str, Any] = {
        "REQUEST_METHOD": method.upper() or "GET",
        "PATH_INFO": str(path),
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in headers.items():
        if name == "content-type":
            env["CONTENT_TYPE"] = value
        elif name != "content-length":  # the decoded body's length counts, not the wire's
            env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def handle(router: Router, event: dict[str, Any]) -> dict[str, Any]:
    """One API Gateway event through ``router``; the API Gateway response."""
    env = environ(event)
    reply = HttpReply.error(400, "bad request body") if env is None else router.reply(env)
    return to_api_gateway(reply)


def router() -> Router:
    """The process's router, built once from ``get_runtime()``."""
    global _router  # noqa: PLW0603 - the per-process cache is the point
    with _router_lock:
        if _router is None:
            from exec_assistant.runtime import get_runtime

            _router = build_router(get_runtime())
        return _router


def reset_router() -> None:
    """Forget the cached router (tests; after the settings or the runtime changed)."""
    global _router  # noqa: PLW0603
    with _router_lock:
        _router = None


def before_snapshot() -> None:
    """SnapStart: botocore's data, the runtime with its routes and the models go into the
    snapshot."""
    snapshots.warm_aws(AWS_SERVICES)
    router()
    snapshots.seal()  # the models built, the collector running again


snapshots.register(before_snapshot=before_snapshot, after_restore=snapshots.refresh_process)


@coldstart.lambda_entry
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API (v2) → the answer routes → the API Gateway response."""
    configure_logging()
    return handle(router(), event)
