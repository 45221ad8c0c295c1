"""Signed, expiring, single-use links for the email's Start Prep and Remind Later.

A link is ``{PUBLIC_BASE_URL}/actions/{token}``. The token is itsdangerous'
``URLSafeSerializer`` (HMAC-SHA1 over the payload with a key derived from
``ACTION_LINK_SECRET`` and a salt for this purpose only, URL-safe base64): the payload names the
ledger key of the cycle the email delivered, the meeting, the action, a random nonce and an
expiry. The expiry is in the payload, set from the runtime's clock (the meeting's start, at most
:data:`MAX_AGE` after sending), rather than itsdangerous' timed serializer, whose wall-clock
timestamp a test clock cannot move.

*Single use* is the acknowledgement's own conditional write: the first POST records the cycle's
acknowledgement with the nonce in its detail, and any later use of that link (or of the other
link, or another channel's answer) finds an acknowledgement standing and changes nothing.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from exec_assistant.errors import ExecAssistantError
from exec_assistant.logs import log_event
from exec_assistant.models import AckAction, AwareDatetime, utcnow
from exec_assistant.notifications.rendering import SMS_SNOOZE_MINUTES
from exec_assistant.notifications.types import PrepNotification

if TYPE_CHECKING:
    from itsdangerous import URLSafeSerializer

logger = logging.getLogger(__name__)

#: The longest a link stays valid (it also ends when the meeting starts).
MAX_AGE = timedelta(hours=24)
_SALT = "exec-assistant.email-action-link"
ACTIONS_PATH = "/actions/"


class ActionClaims(BaseModel):
    """What a link's token carries (signed, not secret: it names no person)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    key: str = Field(min_length=1, max_length=512)
    meeting_id: str = Field(min_length=1, max_length=512)
    action: AckAction
    nonce: str = Field(min_length=8, max_length=64)
    expires_at: AwareDatetime


class LinkProblem(StrEnum):
    INVALID = "invalid"  # tampered, truncated, signed with another key
    EXPIRED = "expired"


class LinkError(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


#: The email's link labels and what each does.
LINK_LABELS = {
    "Start Prep": AckAction.START_PREP,
    f"Remind me in {SMS_SNOOZE_MINUTES} min": AckAction.REMIND_LATER,
}


def _serializer(secret: str) -> URLSafeSerializer:
    from itsdangerous import URLSafeSerializer  # here: most cold starts never sign or read one

    return URLSafeSerializer(secret, salt=_SALT)


def make_token(
    secret: str,
    *,
    key: str,
    meeting_id: str,
    action: AckAction,
    now: datetime,
    meeting_start: datetime,
) -> str:
    claims = ActionClaims(
        key=key,
        meeting_id=meeting_id,
        action=action,
        nonce=secrets.token_urlsafe(12),
        expires_at=min(meeting_start, now + MAX_AGE),
    )
    return str(_serializer(secret).dumps(claims.model_dump(mode="json")))


def read_token(secret: str, token: str, *, now: datetime) -> ActionClaims:
    """The token's claims; :class:`LinkError` if it is not ours, altered, or expired."""
    from itsdangerous import BadData

    try:
        claims = ActionClaims.model_validate(_serializer(secret).loads(token))
    except (BadData, ValidationError, ValueError, TypeError):
        raise LinkError(LinkProblem.INVALID) from None
    if now >= claims.expires_at:
        raise LinkError(LinkProblem.EXPIRED)
    return claims


def action_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{ACTIONS_PATH}{token}"


class ActionLinks:
    """Builds an email's two links. ``secret`` is read when an email is sent (Secrets Manager
    on Lambda); if it cannot be read the email goes out without links (logged), never not at all."""

    def __init__(
        self, *, secret: Callable[[], str], base_url: str, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._secret = secret
        self._base_url = base_url
        self._clock = clock

    def for_notification(self, notification: PrepNotification) -> dict[str, str]:
        try:
            secret = self._secret()
        except ExecAssistantError as exc:
            log_event(
                logger,
                logging.ERROR,
                "action_link.secret_unreadable",
                key=notification.key,
                error_class=exc.error_class.value,
                code=exc.code,
            )
            return {}
        meeting, now = notification.meeting, self._clock()
        return {
            label: action_url(
                self._base_url,
                make_token(
                    secret,
                    key=notification.key,
                    meeting_id=meeting.meeting_id,
                    action=action,
                    now=now,
                    meeting_start=meeting.start_time,
                ),
            )
            for label, action in LINK_LABELS.items()
        }
