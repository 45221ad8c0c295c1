"""Console channel: prints the Slack message the user would get (the embedded default).

It renders the very Block Kit blocks the Slack channel posts — with rich when it is installed
(the ``cli`` extra), as plain text otherwise — so what you see locally is what Slack would show.
"""

from __future__ import annotations

import itertools
import sys
import threading
from dataclasses import dataclass
from typing import Any, TextIO

from exec_assistant.models import Channel, User
from exec_assistant.notifications.rendering import Block, slack_message
from exec_assistant.notifications.types import BeforeRequest, PrepNotification


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _mrkdwn(text: str) -> str:
    """mrkdwn to plain text: drop *bold* markers, undo the &-escapes."""
    return _unescape(text.replace("*", ""))


@dataclass(frozen=True)
class TextMessage:
    """A Block Kit message flattened for a terminal."""

    recipient: str
    header: str
    lines: list[str]
    buttons: list[str]


def flatten_blocks(recipient: str, blocks: list[Block]) -> TextMessage:
    """The header, body lines and button labels of a Block Kit message."""
    header = ""
    lines: list[str] = []
    buttons: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            header = str(block["text"]["text"])
        elif kind == "section":
            if "text" in block:
                lines.append(_mrkdwn(str(block["text"]["text"])))
            for field in block.get("fields", []):
                label, _, value = str(field["text"]).partition("\n")
                lines.append(f"{_mrkdwn(label)}: {_mrkdwn(value)}")
        elif kind == "context":
            lines.extend(_mrkdwn(str(e.get("text", ""))) for e in block.get("elements", []))
        elif kind == "actions":
            buttons.extend(str(e["text"]["text"]) for e in block.get("elements", []))
    return TextMessage(recipient=recipient, header=header, lines=lines, buttons=buttons)


class ConsoleChannel:
    """Writes the notification to ``stream`` (default: the current ``sys.stdout``)."""

    name = Channel.CONSOLE

    def __init__(self, stream: TextIO | None = None, *, width: int = 80) -> None:
        self._stream = stream
        self._width = width
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def skip_reason(self, user: User) -> str | None:
        return None

    #: Printing to a local stream: no network, nothing to wait for.
    request_seconds = 1.0

    def send(
        self, notification: PrepNotification, *, attempt: int, before_request: BeforeRequest
    ) -> str:
        stream = self._stream or sys.stdout
        text = flatten_blocks(notification.user.name, slack_message(notification).blocks)
        before_request(self.request_seconds)
        with self._lock:
            number = next(self._counter)
            try:
                _print_rich(stream, self._width, text)
            except ImportError:
                _print_plain(stream, text)
            stream.flush()
        return f"console:{notification.key}:{number}"


def _buttons(labels: list[str]) -> str:
    return "  ".join(f"[ {label} ]" for label in labels)


def _print_rich(stream: TextIO, width: int, message: TextMessage) -> None:
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.text import Text

    parts: list[Any] = [Text(message.header, style="bold")]
    parts.extend(
        Text(line, style="bold cyan" if i == 0 else "") for i, line in enumerate(message.lines)
    )
    if message.buttons:
        parts.append(Text(_buttons(message.buttons), style="bold green"))
    console = Console(file=stream, width=width, highlight=False, soft_wrap=False)
    title = Text(f"Slack DM to {message.recipient}")
    console.print(Panel(Group(*parts), title=title, title_align="left"))


def _print_plain(stream: TextIO, message: TextMessage) -> None:
    out = [f"--- Slack DM to {message.recipient} ---", message.header, *message.lines]
    if message.buttons:
        out.append(_buttons(message.buttons))
    out.append("-" * 20)
    stream.write("\n".join(out) + "\n")
