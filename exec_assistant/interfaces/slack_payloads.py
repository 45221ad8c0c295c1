"""The parts of Slack payloads the listeners read, as small pydantic models.

Each model names only the fields a listener uses (extra fields are ignored, as Slack adds fields
over time); a payload that does not fit is bad input: the listener logs one warning line with the
listener's name and the failing field locations (never the payload) and does nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class SlackUser(_Part):
    id: str = Field(min_length=1)


class Channel(_Part):
    id: str | None = None


class SelectedOption(_Part):
    value: str = ""


class Action(_Part):
    action_id: str = ""
    block_id: str | None = None
    value: str | None = None
    selected_option: SelectedOption | None = None


class Container(_Part):
    type: str = Field(min_length=1)
    is_ephemeral: bool = False
    channel_id: str | None = None
    message_ts: str | None = None


class Message(_Part):
    ts: str | None = None
    text: str | None = None
    #: the clicked message's blocks as Slack shows them (the digest rewrites one line of them)
    blocks: list[dict[str, Any]] | None = None


class BlockActions(_Part):
    """A ``block_actions`` interaction (a button click or a menu choice)."""

    user: SlackUser
    #: what ``views.open`` needs (valid for 3 seconds after the click)
    trigger_id: str | None = None
    actions: list[Action] = Field(min_length=1)
    channel: Channel | None = None
    container: Container
    message: Message | None = None

    @property
    def action(self) -> Action:
        return self.actions[0]

    @property
    def channel_id(self) -> str | None:
        return self.channel.id if self.channel is not None else None

    def message_location(self) -> tuple[str, str] | None:
        """``(channel, ts)`` of the clicked message, if the payload says where it is."""
        channel = self.container.channel_id or self.channel_id
        ts = self.container.message_ts or (self.message.ts if self.message else None)
        return (channel, ts) if channel and ts else None


class InputValue(_Part):
    """One input's value in a submitted modal (a text input's ``value``, a choice's option)."""

    type: str = ""
    value: str | None = None
    selected_option: SelectedOption | None = None


class ViewState(_Part):
    #: block id → action id → value
    values: dict[str, dict[str, InputValue]] = Field(default_factory=dict)


class SubmittedView(_Part):
    callback_id: str = ""
    state: ViewState = Field(default_factory=ViewState)


class ViewSubmission(_Part):
    """A modal's ``view_submission``: who submitted it and what the inputs hold."""

    user: SlackUser
    view: SubmittedView


class SlashCommand(_Part):
    user_id: str = Field(min_length=1)
    text: str = ""


class MessageEvent(_Part):
    """A person's message in a DM with the bot."""

    user: str = Field(min_length=1)
    channel: str = Field(min_length=1)
    text: str | None = None
    ts: str | None = None


class HomeOpened(_Part):
    user: str = Field(min_length=1)
    tab: str = "home"


class _Team(_Part):
    id: str | None = None


class _Requester(_Part):
    """Who sent a request, whatever its kind (for telling them when their work failed)."""

    user: SlackUser | None = None
    user_id: str | None = None
    team: _Team | None = None
    team_id: str | None = None
    event: dict[str, Any] | None = None


def requester(body: Any) -> tuple[str | None, str | None]:
    """``(slack_user_id, team_id)`` of a request body, each ``None`` when it does not say."""
    try:
        parsed = _Requester.model_validate(body)
    except ValidationError:
        return None, None
    user = parsed.user.id if parsed.user else parsed.user_id
    if user is None and parsed.event is not None and isinstance(parsed.event.get("user"), str):
        user = parsed.event["user"]
    team = parsed.team.id if parsed.team else parsed.team_id
    return user or None, team or None


class _ActionId(_Part):
    action_id: str


class _Actions(_Part):
    """What Bolt's action matching indexes in a ``block_actions`` body."""

    actions: list[_ActionId] = Field(min_length=1)


class _EventType(_Part):
    type: str


class _Event(_Part):
    """What Bolt's event matching indexes in an ``event_callback`` body."""

    event: _EventType


_ENVELOPES: dict[str, type[BaseModel]] = {"block_actions": _Actions, "event_callback": _Event}


def envelope_problems(body: dict[str, Any]) -> list[str]:
    """Where a body of a kind the app listens to does not have the shape Bolt's matchers index
    (``"actions": "x"``, ``"event": null``…); empty when it does (or it is another kind)."""
    model = _ENVELOPES.get(str(body.get("type")))
    if model is None:
        return []
    try:
        model.model_validate(body)
    except ValidationError as exc:
        return error_fields(exc)
    return []


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M | ValidationError:
    """``model`` from ``data``, or the validation error (the caller logs it and stops)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return exc


def error_fields(exc: ValidationError) -> list[str]:
    """Where the payload did not fit (``actions.0.value``, …), without the values."""
    return [".".join(str(part) for part in error["loc"]) or "(root)" for error in exc.errors()]
