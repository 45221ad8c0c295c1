"""What every Slack listener shares: how a failure is classified and logged, how a payload is
read (pydantic models, bad input logged once and dropped), the matchers and no-op listener
:func:`~exec_assistant.interfaces.slack_bot.create_app` registers, and how a click is answered
(a refusal, the clicker's DM)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, ValidationError
from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from exec_assistant.errors import ExecAssistantError
from exec_assistant.interfaces.slack_payloads import BlockActions, error_fields, parse
from exec_assistant.logs import log_event
from exec_assistant.models import ErrorClass

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)


def error_class(exc: BaseException) -> ErrorClass:
    """How a listener failure is classified in the logs."""
    if isinstance(exc, ExecAssistantError):
        return exc.error_class
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        if status == 429 or status >= 500 or exc.response.get("error") == "ratelimited":
            return ErrorClass.TRANSIENT
        return ErrorClass.PERMANENT
    return ErrorClass.UNKNOWN


def logged(func: Callable[P, R]) -> Callable[P, R]:
    """Log a listener's failure with its name and error class, then re-raise it (to Bolt's
    error handling locally, to ``after_response.run_all`` on Lambda)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            log_event(
                logger,
                logging.ERROR,
                "slack.listener_failed",
                listener=func.__name__,
                error=f"{type(exc).__name__}: {exc}",
                error_class=error_class(exc).value,
            )
            raise

    return wrapper


def ack_now(ack: Ack) -> None:
    """Acknowledge and do nothing (events the app ignores)."""
    ack()


def is_user_dm(event: Any) -> bool:
    """A person's plain message in a DM with the bot (not a bot's, not an edit or join)."""
    return (
        isinstance(event, dict)
        and event.get("channel_type") == "im"
        and "subtype" not in event
        and not event.get("bot_id")
        and bool(event.get("user"))
    )


def payload(model: type[M], data: Any, listener: str) -> M | None:
    """The parts of ``data`` a listener reads, or ``None`` (one warning line, no payload) when
    they do not fit: bad input is acknowledged and changes nothing."""
    parsed = parse(model, data)
    if isinstance(parsed, ValidationError):
        log_event(
            logger,
            logging.WARNING,
            "slack.payload_malformed",
            listener=listener,
            fields=error_fields(parsed),
        )
        return None
    return parsed


def refuse(body: BlockActions, client: WebClient, text: str) -> None:
    """An ephemeral answer to the clicking user (a DM from the App Home, which has no channel to
    post an ephemeral in)."""
    slack_user = body.user.id
    channel = body.channel_id
    if channel:
        client.chat_postEphemeral(channel=channel, user=slack_user, text=text)
    else:
        client.chat_postMessage(channel=slack_user, text=text)


def dm_channel(body: BlockActions, client: WebClient) -> str:
    """The DM with the clicking user: the message's channel when the click came from the DM."""
    channel = body.channel_id or ""
    if channel.startswith("D"):
        return channel
    opened = client.conversations_open(users=body.user.id)
    return str(opened["channel"]["id"])
