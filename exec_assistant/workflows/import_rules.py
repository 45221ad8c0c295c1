"""How an imported meeting gets its type and prep time: ordered rules on its title and
attendee count (first match wins), else the defaults (``meeting_types.toml``'s ``[import]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MeetingRule(BaseModel):
    """Matches when the title contains any keyword (case-insensitive) and, if set, the meeting
    has at least ``min_attendees`` attendees. At least one condition is required."""

    model_config = ConfigDict(defer_build=True)

    keywords: list[str] = Field(default_factory=list)
    min_attendees: int | None = Field(default=None, ge=1)
    meeting_type: str = Field(min_length=1, max_length=64)
    prep_hours_before: float = Field(ge=0, le=24 * 14)

    @model_validator(mode="after")
    def _has_condition(self) -> MeetingRule:
        if not self.keywords and self.min_attendees is None:
            raise ValueError("a rule needs keywords, min_attendees, or both")
        return self

    def matches(self, title: str, attendee_count: int) -> bool:
        lowered = title.lower()
        if self.keywords and not any(k.lower() in lowered for k in self.keywords):
            return False
        return self.min_attendees is None or attendee_count >= self.min_attendees


class ImportRules(BaseModel):
    """Ordered rules (first match wins) and the default for meetings no rule matches."""

    model_config = ConfigDict(defer_build=True)

    rules: list[MeetingRule] = Field(default_factory=list)
    default_meeting_type: str = Field(default="general", min_length=1, max_length=64)
    default_prep_hours_before: float = Field(default=24.0, ge=0, le=24 * 14)

    def classify(self, title: str, attendee_count: int) -> tuple[str, float]:
        for rule in self.rules:
            if rule.matches(title, attendee_count):
                return rule.meeting_type, rule.prep_hours_before
        return self.default_meeting_type, self.default_prep_hours_before
