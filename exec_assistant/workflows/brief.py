"""The prep brief: facts first, then the executive's answers, then talking points.

A :class:`BriefWriter` turns :class:`BriefMaterial` (the calendar's facts, the answers, the
previous occurrence's prep) into a :class:`Brief`. :class:`BuiltinWriter` composes it locally and
never fails; :class:`~exec_assistant.workflows.bedrock_writer.BedrockBriefWriter` drafts the
talking points with Amazon Bedrock and falls back to the built-in writer on any error. The brief is
rendered for Slack within Block Kit's limits (:func:`brief_blocks`: at most 50 blocks, 3000
characters per text) and as plain text (:func:`brief_text`, also what ``meetings show`` prints).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.notifications.rendering import mrkdwn_escape, truncate
from exec_assistant.workflows.brief_facts import BriefFacts

MAX_BLOCKS = 50
TEXT_LIMIT = 3_000
MAX_TALKING_POINTS = 8
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    label: str
    text: str


class PreviousPrep(BaseModel):
    """What was prepared for the previous occurrence (same series or same attendees)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    meeting_id: str
    when: str
    answers: list[Answer] = Field(default_factory=list)
    open_items: list[str] = Field(default_factory=list)


class BriefMaterial(BaseModel):
    """Everything a writer may use; nothing else about the meeting leaves the process."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    facts: BriefFacts
    answers: list[Answer] = Field(default_factory=list)
    previous: PreviousPrep | None = None
    open_items: list[str] = Field(default_factory=list)  # still open after this prep


class Brief(BaseModel):
    model_config = ConfigDict(defer_build=True)

    facts: BriefFacts
    answers: list[Answer] = Field(default_factory=list)
    previous: PreviousPrep | None = None
    open_items: list[str] = Field(default_factory=list)
    talking_points: list[str] = Field(default_factory=list)
    writer: str = "builtin"


class BriefWriter(Protocol):
    name: str

    def write(self, material: BriefMaterial) -> Brief:
        """A brief from ``material``. The built-in writer never raises."""
        ...


def split_items(text: str) -> list[str]:
    """Bullet or line items of a free-text answer ("- a\\n- b", "1. a", "a; b")."""
    parts = [p for line in text.splitlines() for p in line.split(";")]
    items = [_BULLET.sub("", p).strip() for p in parts]
    return [i for i in items if i and i.lower() not in {"none", "n/a", "-", "—"}]


class BuiltinWriter:
    """Composes the brief from the material alone: talking points are the topics the executive
    named, then the open items carried from last time."""

    name = "builtin"

    def write(self, material: BriefMaterial) -> Brief:
        points: list[str] = []
        for answer in material.answers:
            if answer.label.lower().startswith("topic"):
                points.extend(split_items(answer.text))
        points.extend(f"Follow up: {item}" for item in material.open_items if item not in points)
        return Brief(
            facts=material.facts,
            answers=list(material.answers),
            previous=material.previous,
            open_items=list(material.open_items),
            talking_points=points[:MAX_TALKING_POINTS],
            writer=self.name,
        )


# --- rendering ------------------------------------------------------------------------------


def _facts_pairs(facts: BriefFacts, *, mrkdwn: bool) -> list[tuple[str, str]]:
    """(label, value) lines of the facts; ``mrkdwn`` escapes values and links the join URL."""
    esc = mrkdwn_escape if mrkdwn else (lambda text: text)
    pairs = [("When", f"{facts.when} ({facts.duration_minutes} min)")]
    if facts.location:
        pairs.append(("Where", esc(truncate(facts.location, 300))))
    if facts.join_url:
        pairs.append(("Join", f"<{facts.join_url}|video call link>" if mrkdwn else facts.join_url))
    if facts.organizer:
        pairs.append(("Organiser", esc(facts.organizer.label)))
    if facts.attendees:
        external = f", {facts.external_count} external" if facts.external_count else ""
        shown = ", ".join(
            esc(p.label) + (" (external)" if p.external else "") for p in facts.attendees[:25]
        )
        more = f" and {len(facts.attendees) - 25} more" if len(facts.attendees) > 25 else ""
        pairs.append((f"Attendees ({len(facts.attendees)}{external})", f"{shown}{more}"))
    return pairs


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, TEXT_LIMIT)}}


def _bullets(items: list[str]) -> str:
    return "\n".join(f"• {mrkdwn_escape(i)}" for i in items)


def brief_blocks(brief: Brief) -> list[dict[str, Any]]:
    """Block Kit for the brief, within Slack's limits (≤ 50 blocks, ≤ 3000 characters a text)."""
    facts = brief.facts
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(f"Prep brief: {facts.title}", 150)},
        },
        _section("\n".join(f"*{k}:* {v}" for k, v in _facts_pairs(facts, mrkdwn=True))),
    ]
    if facts.agenda:
        blocks.append(_section(f"*Agenda*\n{mrkdwn_escape(facts.agenda)}"))
    if brief.previous is not None:
        last = [f"*Since last time* ({mrkdwn_escape(brief.previous.when)})"]
        last += [
            f"_{mrkdwn_escape(a.label)}:_ {mrkdwn_escape(a.text)}" for a in brief.previous.answers
        ]
        blocks.append(_section("\n".join(last)))
    if brief.open_items:
        blocks.append(_section(f"*Still open*\n{_bullets(brief.open_items)}"))
    blocks.append({"type": "divider"})
    for answer in brief.answers:
        blocks.append(
            _section(f"*{mrkdwn_escape(answer.label)}*\n{mrkdwn_escape(answer.text or '—')}")
        )
    if brief.talking_points:
        blocks.append(_section(f"*Talking points*\n{_bullets(brief.talking_points)}"))
    footer = {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": f"Prep complete. Written by the {brief.writer} writer."}
        ],
    }
    return [*blocks[: MAX_BLOCKS - 1], footer]


def brief_text(brief: Brief) -> str:
    """The brief as plain text (Slack's fallback ``text``, ``meetings show``)."""
    facts = brief.facts
    lines = [f"Prep brief: {facts.title}"]
    lines += [f"{k}: {v}" for k, v in _facts_pairs(facts, mrkdwn=False)]
    if facts.agenda:
        lines += ["", "Agenda:", facts.agenda]
    if brief.previous is not None:
        lines += ["", f"Since last time ({brief.previous.when}):"]
        lines += [f"  {a.label}: {a.text}" for a in brief.previous.answers]
    if brief.open_items:
        lines += ["", "Still open:", *(f"  - {i}" for i in brief.open_items)]
    lines += ["", *(f"{a.label}: {a.text or '—'}" for a in brief.answers)]
    if brief.talking_points:
        lines += ["", "Talking points:", *(f"  - {p}" for p in brief.talking_points)]
    return "\n".join(lines)
