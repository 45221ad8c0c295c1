"""An executive's SMS opt-out (Twilio's STOP) and opt-in (START), recorded on the user.

One code path for every way we learn of it (``source``):

* ``reply`` — the executive texted STOP / START to our number (``POST /twilio/sms``);
* ``send_refused`` — Twilio refused a send with error :data:`UNSUBSCRIBED_CODE` (21610,
  "unsubscribed recipient"): the number replied STOP at some time our webhook did not see
  (before the number was configured here, or the reply was lost);
* ``status_callback`` — a status callback reported ``ErrorCode`` 21610 for a message.

While ``User.sms_opted_out_at`` is set the SMS channel skips the user (a recorded, permanent
skip), so later cycles go straight to the next channel; START clears it, whichever way it was set.
The write is idempotent: a user already in that state is not written again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from exec_assistant.errors import ExecAssistantError
from exec_assistant.logs import log_event
from exec_assistant.models import DeliveryAttempt
from exec_assistant.notifications.types import DeliveryError, PrepNotification
from exec_assistant.store.base import Store

logger = logging.getLogger(__name__)

#: Twilio's error code for a recipient who replied STOP to the sender ("unsubscribed recipient").
UNSUBSCRIBED_CODE = "21610"


def record_sms_opt_out(
    store: Store,
    user_id: str,
    *,
    opted_out: bool,
    now: datetime,
    source: str,
    **ids: object,
) -> bool:
    """Set (``opted_out``) or clear the user's ``sms_opted_out_at``, read afresh by id.

    Returns whether it wrote (False: no such user, or already in that state). Logged as
    ``sms.opted_out`` (WARNING) / ``sms.opted_in`` with the user id, ``source`` and ``ids``.
    Store failures propagate."""
    user = store.get_user(user_id)
    if user is None or (user.sms_opted_out_at is not None) == opted_out:
        return False
    store.put_user(
        user.model_copy(update={"sms_opted_out_at": now if opted_out else None, "updated_at": now})
    )
    log_event(
        logger,
        logging.WARNING if opted_out else logging.INFO,
        "sms.opted_out" if opted_out else "sms.opted_in",
        user_id=user_id,
        source=source,
        **ids,
    )
    return True


def opt_out_if_unsubscribed(
    error: DeliveryError,
    store: Store,
    notification: PrepNotification,
    started: Sequence[DeliveryAttempt],
    ids: Mapping[str, object],
) -> None:
    """After a send failed with ``error``: if the provider refused because the recipient opted
    out with it (``error.unsubscribed``: Twilio's 21610) once the request had left (``started``:
    the attempt), record the opt-out (``source`` ``send_refused``, at the attempt's start).

    Called by the delivery walk, which goes on to the next channel either way: a store failure
    here is logged (``sms.opt_out_failed``, ERROR, with its class) rather than raised — the
    cycle must not wait for it, and the next refused send records it again."""
    if not error.unsubscribed or not started:
        return
    user_id, attempt = notification.user.user_id, started[0]
    fields = {**ids, "attempt": attempt.seq}
    try:
        record_sms_opt_out(
            store,
            user_id,
            opted_out=True,
            now=attempt.started_at,
            source="send_refused",
            **fields,
        )
    except ExecAssistantError as exc:
        log_event(
            logger,
            logging.ERROR,
            "sms.opt_out_failed",
            user_id=user_id,
            **fields,
            error_class=exc.error_class,
            error_code=exc.code,
        )
