"""What the calendar knows about a meeting, for the brief: facts first.

Everything here is derived from outside input (an invite's LOCATION, DESCRIPTION, attendee list),
so every function takes any string and returns a bounded result; nothing raises on odd text.

* :func:`find_join_url` — the video-call link: Google Meet, Microsoft Teams, Zoom, Webex, Chime.
* :func:`agenda_from` — the description without the join boilerplate Google and Teams append
  (the ``-::~:~::`` block, the ``____`` line and what follows), blank runs collapsed, cut to a
  limit without cutting a link in half.
* :func:`meeting_brief_facts` — time in the executive's zone, duration, where / how to join,
  organiser, attendees (names, count, who is external by e-mail domain).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.models import Meeting, User
from exec_assistant.notifications.rendering import format_when, one_line

AGENDA_LIMIT = 1_500
_JOIN = re.compile(
    r"https://(?:[\w-]+\.)*(?:"
    r"meet\.google\.com/[\w-]+"
    r"|teams\.microsoft\.com/l/meetup-join/[^\s<>\"']+"
    r"|teams\.live\.com/meet/[^\s<>\"']+"
    r"|zoom\.us/(?:j|my|w|s)/[^\s<>\"']+"
    r"|webex\.com/[^\s<>\"']+"
    r"|chime\.aws/\d+"
    r")",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://[^\s<>\"']+")
_GOOGLE_BLOCK = re.compile(r"-::~[:~]*::-.*?-::~[:~]*::-", re.DOTALL)
_TEAMS_RULE = re.compile(r"^_{20,}\s*$", re.MULTILINE)
_TRAILING = ".,;:)]>'\""


def _clean_url(url: str) -> str:
    return url.rstrip(_TRAILING)


def find_join_url(*texts: str) -> str:
    """The first video-call link in ``texts`` (in order), or ""."""
    for text in texts:
        match = _JOIN.search(text or "")
        if match:
            return _clean_url(match.group(0))[:2_000]
    return ""


def agenda_from(description: str, limit: int = AGENDA_LIMIT) -> str:
    """The description as an agenda: join boilerplate dropped, links kept whole, ≤ ``limit``."""
    text = _GOOGLE_BLOCK.sub("", description or "")
    rule = _TEAMS_RULE.search(text)
    if rule:
        text = text[: rule.start()]
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    text = "\n".join(kept).strip()
    if len(text) <= limit:
        return text
    cut = limit - 1
    for match in _URL.finditer(text):
        if match.start() < cut < match.end():  # never cut a link in half
            cut = match.start()
            break
    head = text[:cut]
    space = head.rfind(" ")
    if space > cut - 40 and not head.endswith(" "):
        head = head[:space]
    return head.rstrip() + "…"


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower() if "@" in address else ""


class Person(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    email: str
    name: str = ""
    external: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} ({self.email})" if self.name else self.email


class BriefFacts(BaseModel):
    """The facts the brief opens with."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    title: str
    when: str
    duration_minutes: int
    location: str = ""
    join_url: str = ""
    organizer: Person | None = None
    attendees: list[Person] = Field(default_factory=list)
    agenda: str = ""
    meeting_type: str = "general"

    @property
    def external_count(self) -> int:
        return sum(1 for p in self.attendees if p.external)


def meeting_brief_facts(meeting: Meeting, user: User) -> BriefFacts:
    """The brief's facts about ``meeting`` for ``user`` (the executive, left out of attendees).

    "External" means another e-mail domain than the executive's (their e-mail, else the
    organiser's when the executive has none)."""
    own = (user.email or "").lower()
    home = _domain(own) or _domain(meeting.organizer or "")
    names = {k.lower(): v for k, v in meeting.attendee_names.items()}

    def person(address: str) -> Person:
        domain = _domain(address)
        return Person(
            email=address,
            name=one_line(names.get(address.lower(), ""))[:200],
            external=bool(home and domain and domain != home),
        )

    seen: set[str] = set()
    attendees: list[Person] = []
    for address in meeting.attendees:
        key = address.lower()
        if key in seen or key == own:
            continue
        seen.add(key)
        attendees.append(person(address))
    location = one_line(meeting.location)
    return BriefFacts(
        title=one_line(meeting.title),
        when=format_when(meeting, user),
        duration_minutes=int(meeting.duration.total_seconds() // 60),
        location=location,
        join_url=meeting.join_url or find_join_url(meeting.location, meeting.description),
        organizer=person(meeting.organizer) if meeting.organizer else None,
        attendees=attendees,
        agenda=agenda_from(meeting.description),
        meeting_type=meeting.meeting_type,
    )
