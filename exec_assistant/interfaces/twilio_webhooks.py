"""Twilio's webhooks: ``POST /twilio/sms`` (replies) and ``POST /twilio/status`` (delivery
receipts) — verified first, then acted on.

Every request is checked with twilio's own ``RequestValidator`` (``X-Twilio-Signature``: HMAC-SHA1
of the public URL Twilio called plus the sorted form parameters, base64) before anything is
parsed further or read from the store. A missing or wrong signature, a body that is not a form,
or a deployment without a Twilio auth token is a 403 and changes nothing.

The URL checked is ``PUBLIC_BASE_URL`` + the path (+ the query string): the address Twilio was
given, which behind API Gateway or a proxy is not the one the server sees. Without
``PUBLIC_BASE_URL`` the request's own ``Host`` (and ``X-Forwarded-Proto``) are used. A status
callback's query string carries the cycle's ledger key and attempt
(:mod:`~exec_assistant.notifications.receipt_routing`): signed with the URL, so authenticated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from exec_assistant.components import Runtime
from exec_assistant.errors import ExecAssistantError
from exec_assistant.logs import log_event
from exec_assistant.models import Channel, ErrorClass
from exec_assistant.notifications.channels.sms import STATUS_CALLBACK_PATH, sms_receipt
from exec_assistant.notifications.receipt_routing import target_from_query
from exec_assistant.workflows.prep_conversation import ConversationEngine
from exec_assistant.workflows.receipts import apply_receipt
from exec_assistant.workflows.sms_replies import answer_sms

logger = logging.getLogger(__name__)

SMS_PATH = "/twilio/sms"
STATUS_PATH = STATUS_CALLBACK_PATH
#: A Message SID (SMS ``SM…``, MMS ``MM…``).
MESSAGE_SID = re.compile(r"^(?:SM|MM)[0-9a-fA-F]{32}$")
TWIML = "application/xml"
#: More form fields than Twilio ever sends (about 20) means it is not Twilio.
MAX_FIELDS = 100


@dataclass(frozen=True)
class WebhookReply:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


FORBIDDEN = WebhookReply(403, "forbidden")


def public_url(runtime: Runtime, path: str, query: str, headers: Mapping[str, str]) -> str:
    """The URL Twilio signed for this request (see the module docstring)."""
    base = runtime.settings.public_base_url
    if not base:
        proto = headers.get("x-forwarded-proto", "http").split(",")[0].strip() or "http"
        base = f"{proto}://{headers.get('host', 'localhost')}"
    return f"{base.rstrip('/')}{path}{'?' + query if query else ''}"


def verified_form(
    runtime: Runtime, url: str, headers: Mapping[str, str], body: bytes
) -> dict[str, str] | None:
    """The form parameters if the request is Twilio's (signature valid), else None (logged)."""
    from twilio.request_validator import RequestValidator

    signature = headers.get("x-twilio-signature", "")
    token = runtime.settings.secret("twilio_auth_token")
    reason = ""
    params: dict[str, str] = {}
    if not token:
        reason = "no Twilio auth token configured"
    elif not signature:
        reason = "no signature"
    else:
        try:
            pairs = parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS
            )
        except (UnicodeDecodeError, ValueError):
            pairs, reason = [], "body is not a form"
        params = dict(pairs)
        if not reason and len(params) != len(pairs):
            reason = "repeated form field"
        if not reason and not RequestValidator(token).validate(url, params, signature):
            reason = "bad signature"
    if reason:
        log_event(logger, logging.WARNING, "twilio.refused", reason=reason, url=url)
        return None
    return params


def twiml(text: str | None) -> WebhookReply:
    """A TwiML answer: one message back, or none."""
    from twilio.twiml.messaging_response import MessagingResponse

    response = MessagingResponse()
    if text:
        response.message(text)
    return WebhookReply(200, str(response), TWIML)


def handle_sms(
    runtime: Runtime,
    engine: ConversationEngine,
    *,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
) -> WebhookReply:
    """``POST /twilio/sms``: verify, act on the reply, answer with TwiML."""
    params = verified_form(runtime, url, headers, body)
    if params is None:
        return FORBIDDEN
    sender, text = params.get("From", ""), params.get("Body", "")
    try:
        answer = answer_sms(runtime, engine, sender=sender, body=text)
    except ExecAssistantError as exc:
        log_event(
            logger,
            logging.ERROR,
            "twilio.sms_failed",
            sid=params.get("MessageSid", ""),
            error_class=exc.error_class.value,
            code=exc.code,
        )
        status = 503 if exc.error_class == ErrorClass.TRANSIENT else 200
        return WebhookReply(status, "") if status == 503 else twiml(None)
    log_event(logger, logging.INFO, "twilio.sms_answered", sid=params.get("MessageSid", ""))
    return twiml(answer)


def handle_status(
    runtime: Runtime, *, url: str, headers: Mapping[str, str], body: bytes
) -> WebhookReply:
    """``POST /twilio/status``: verify, then record the message's delivery receipt
    (:mod:`exec_assistant.workflows.receipts`). Progress statuses (queued, sent…) and unknown
    messages are answered 200 and change nothing; a signed form that is not a status callback
    is 400; a store or bus outage is 503 (Twilio's connection overrides may retry it)."""
    params = verified_form(runtime, url, headers, body)
    if params is None:
        return FORBIDDEN
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if not MESSAGE_SID.match(sid) or not status:
        log_event(logger, logging.WARNING, "twilio.status_malformed", has_sid=bool(sid))
        return WebhookReply(400, "not a message status callback")
    receipt = sms_receipt(status, params.get("ErrorCode"), now=runtime.clock())
    if receipt is None:
        log_event(logger, logging.INFO, "twilio.status_progress", sid=sid, status=status[:32])
        return WebhookReply(200, "")
    target = target_from_query(urlsplit(url).query)  # signed with the URL: authenticated
    try:
        apply_receipt(runtime, Channel.SMS, sid, receipt, target)
    except ExecAssistantError as exc:
        log_event(
            logger,
            logging.ERROR,
            "twilio.status_failed",
            sid=sid,
            error_class=exc.error_class.value,
            code=exc.code,
        )
        return WebhookReply(503 if exc.error_class == ErrorClass.TRANSIENT else 200, "")
    return WebhookReply(200, "")
