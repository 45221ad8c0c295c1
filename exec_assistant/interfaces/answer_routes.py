"""The executive's other doors on the local server's router: ``POST /twilio/sms`` (SMS replies,
Twilio-signed), ``POST /twilio/status`` (SMS delivery receipts, Twilio-signed) and
``GET``/``POST /actions/{token}`` (email action links: GET shows the confirmation page, POST
acts). The handlers live in :mod:`.twilio_webhooks` and :mod:`.action_pages`; this module only
adapts them to :class:`~.web.Router`."""

from __future__ import annotations

from exec_assistant.components import Runtime
from exec_assistant.interfaces import action_pages
from exec_assistant.interfaces.twilio_webhooks import (
    SMS_PATH,
    STATUS_PATH,
    handle_sms,
    handle_status,
    public_url,
)
from exec_assistant.interfaces.web import HttpReply, HttpRequest, Router
from exec_assistant.workflows.prep_conversation import QuestionnaireEngine

ACTIONS_PATH = "/actions/{token}"


def add_answer_routes(router: Router, runtime: Runtime) -> None:
    """Serve SMS replies, SMS delivery receipts and email action links from ``runtime`` on
    ``router``."""
    engine = QuestionnaireEngine(runtime.store, clock=runtime.clock)

    def sms(request: HttpRequest) -> HttpReply:
        url = public_url(runtime, request.path, request.query, request.headers)
        reply = handle_sms(runtime, engine, url=url, headers=request.headers, body=request.body)
        return HttpReply(reply.status, reply.body, {"content-type": reply.content_type})

    def status(request: HttpRequest) -> HttpReply:
        url = public_url(runtime, request.path, request.query, request.headers)
        reply = handle_status(runtime, url=url, headers=request.headers, body=request.body)
        return HttpReply(reply.status, reply.body, {"content-type": reply.content_type})

    def show(request: HttpRequest) -> HttpReply:
        page = action_pages.show(runtime, request.params["token"])
        return HttpReply(page.status, page.body, {"content-type": page.content_type})

    def confirm(request: HttpRequest) -> HttpReply:
        page = action_pages.confirm(runtime, engine, request.params["token"])
        return HttpReply(page.status, page.body, {"content-type": page.content_type})

    router.add(SMS_PATH, POST=sms)
    router.add(STATUS_PATH, POST=status)
    router.add(ACTIONS_PATH, GET=show, POST=confirm)
