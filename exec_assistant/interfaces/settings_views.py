"""The executive's own settings on the App Home: what they are, the **Edit settings** button,
and the modal that changes them (``views.open``), read back from its ``view_submission``.

Each input's ``block_id`` is the setting's name, the same name
:class:`~exec_assistant.workflows.user_settings.SettingError` carries, so a value that does not
parse becomes that field's error in the modal (``response_action: errors``). The text of each
field is what ``exec-assistant users set`` takes (``07:30``, ``mon-fri``, ``22:00-07:00`` or
``off``, ``30m``), parsed by the same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from exec_assistant.interfaces.slack_payloads import InputValue
from exec_assistant.models import User
from exec_assistant.notifications.rendering import Block
from exec_assistant.workflows.user_settings import (
    SettingError,
    format_digest_days,
    format_escalation,
    format_quiet_hours,
    parse_digest_days,
    parse_digest_time,
    parse_escalate_after,
    parse_quiet_hours,
)

EDIT_SETTINGS_ACTION = "edit_settings"
SETTINGS_CALLBACK = "settings"
#: The action id of every input in the modal (the block id names the setting).
INPUT_ACTION = "value"
DIGEST_ON = "digest_on"
DIGEST_TIME = "digest_time"
DIGEST_DAYS = "digest_days"
QUIET_HOURS = "quiet_hours"
ESCALATION = "escalation_delay"

#: Each text field: block id → (label, hint, parser, preference it sets).
_TEXT_FIELDS: dict[str, tuple[str, str, Callable[[str], Any], str]] = {
    DIGEST_TIME: (
        "Digest time",
        "HH:MM in your time zone, e.g. 07:30",
        parse_digest_time,
        "digest_time",
    ),
    DIGEST_DAYS: ("Digest days", "mon-fri, mon,wed,fri or all", parse_digest_days, "digest_days"),
    QUIET_HOURS: (
        "Quiet hours",
        "No SMS in this daily window, e.g. 22:00-07:00, or off",
        parse_quiet_hours,
        "quiet_hours",
    ),
    ESCALATION: (
        "Escalate after",
        "Try the next channel when a delivered prep is not acted on within this time: 30m, 2h",
        parse_escalate_after,
        "escalation_delay_minutes",
    ),
}


def digest_text(user: User) -> str:
    prefs = user.preferences
    if prefs.digest_time is None or not prefs.digest_days:
        return "off"
    return f"{prefs.digest_time:%H:%M}, {format_digest_days(prefs.digest_days)}"


def settings_blocks(user: User) -> list[Block]:
    """The Home tab's settings section: the current values and the Edit settings button."""
    prefs = user.preferences
    quiet = format_quiet_hours(prefs.quiet_hours) if prefs.quiet_hours else "none"
    escalation = format_escalation(prefs.escalation_delay_minutes)
    return [
        {"type": "divider"},
        {
            "type": "section",
            "block_id": "settings",
            "text": {"type": "mrkdwn", "text": f"*Your settings* (times in {user.timezone})"},
            "fields": [
                {"type": "mrkdwn", "text": f"*Morning digest*\n{digest_text(user)}"},
                {"type": "mrkdwn", "text": f"*Quiet hours*\n{quiet}"},
                {"type": "mrkdwn", "text": f"*Escalate after*\n{escalation}"},
            ],
            "accessory": {
                "type": "button",
                "action_id": EDIT_SETTINGS_ACTION,
                "text": {"type": "plain_text", "text": "Edit settings"},
                "value": "edit",
            },
        },
    ]


def _text_input(block_id: str, initial: str) -> Block:
    label, hint, _, _ = _TEXT_FIELDS[block_id]
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "hint": {"type": "plain_text", "text": hint},
        "optional": block_id == DIGEST_TIME,  # not needed with the digest off
        "element": {
            "type": "plain_text_input",
            "action_id": INPUT_ACTION,
            "initial_value": initial,
            "max_length": 40,
        },
    }


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def settings_modal(user: User) -> dict[str, Any]:
    """The modal the Edit settings button opens, filled with the current values."""
    prefs = user.preferences
    on = prefs.digest_time is not None and bool(prefs.digest_days)
    choices = [_option("on", "On"), _option("off", "Off")]
    return {
        "type": "modal",
        "callback_id": SETTINGS_CALLBACK,
        "title": {"type": "plain_text", "text": "Your settings"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": DIGEST_ON,
                "label": {"type": "plain_text", "text": "Morning digest"},
                "element": {
                    "type": "radio_buttons",
                    "action_id": INPUT_ACTION,
                    "options": choices,
                    "initial_option": choices[0 if on else 1],
                },
            },
            _text_input(
                DIGEST_TIME, f"{prefs.digest_time:%H:%M}" if prefs.digest_time else "07:30"
            ),
            _text_input(DIGEST_DAYS, format_digest_days(prefs.digest_days or [1, 2, 3, 4, 5])),
            _text_input(QUIET_HOURS, format_quiet_hours(prefs.quiet_hours)),
            _text_input(ESCALATION, format_escalation(prefs.escalation_delay_minutes)),
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"Times are in your time zone, {user.timezone}."}
                ],
            },
        ],
    }


def read_settings(
    values: Mapping[str, Mapping[str, InputValue]],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The preferences a submitted modal sets, and the errors by field (block id); with any
    error, nothing is to be saved."""
    text = {
        block: (values.get(block, {}).get(INPUT_ACTION) or InputValue()).value or ""
        for block in _TEXT_FIELDS
    }
    chosen = values.get(DIGEST_ON, {}).get(INPUT_ACTION)
    digest_on = (
        chosen is None or chosen.selected_option is None or (chosen.selected_option.value != "off")
    )
    preferences: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for block, (_, _, parse, preference) in _TEXT_FIELDS.items():
        if block == DIGEST_TIME and not (digest_on and text[block].strip()):
            preferences[preference] = None  # off: the time is not needed (on: asked below)
            continue
        try:
            preferences[preference] = parse(text[block])
        except SettingError as exc:
            errors[block] = str(exc)
    if digest_on and DIGEST_TIME not in errors and preferences.get("digest_time") is None:
        errors[DIGEST_TIME] = "give a time such as 07:30 (or choose Off above)"
    return preferences, errors
