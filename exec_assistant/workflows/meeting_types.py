"""Meeting types as configuration: recognition rules, prep lead times and questionnaires.

The built-in default is ``exec_assistant/meeting_types.toml`` (1:1, QBR, leadership team,
interview debrief, vendor, and a general default). ``MEETING_TYPES_FILE`` points at a TOML file
of the same shape to replace it; a bad file is a :class:`~exec_assistant.errors.ConfigurationError`
naming the problem. The rules feed the ICS import (:class:`~exec_assistant.workflows.ics_import.
ImportRules`), the question sets the prep questionnaire.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exec_assistant.errors import ConfigurationError
from exec_assistant.workflows.brief_history import Question
from exec_assistant.workflows.import_rules import ImportRules, MeetingRule


class QuestionSpec(BaseModel):
    model_config = ConfigDict(defer_build=True)

    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=1000)


class MeetingTypes(BaseModel):
    model_config = ConfigDict(defer_build=True)

    default_type: str = Field(default="general", min_length=1, max_length=64)
    default_prep_hours_before: float = Field(default=24.0, ge=0, le=24 * 14)
    rules: list[MeetingRule] = Field(default_factory=list)
    questions: dict[str, list[QuestionSpec]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_has_questions(self) -> MeetingTypes:
        if not self.questions.get(self.default_type):
            raise ValueError(f"no questions for the default type {self.default_type!r}")
        for kind, specs in self.questions.items():
            keys = [s.key for s in specs]
            if not specs or len(set(keys)) != len(keys):
                raise ValueError(f"questions of {kind!r} must be non-empty with unique keys")
        return self

    @property
    def import_rules(self) -> ImportRules:
        return ImportRules(
            rules=self.rules,
            default_meeting_type=self.default_type,
            default_prep_hours_before=self.default_prep_hours_before,
        )

    def question_sets(self) -> dict[str, tuple[Question, ...]]:
        """Questions by type; a type without its own set asks the default type's."""
        sets = {
            kind: tuple(Question(s.key, s.label, s.text) for s in specs)
            for kind, specs in self.questions.items()
        }
        for rule in self.rules:
            sets.setdefault(rule.meeting_type, sets[self.default_type])
        return sets

    def default_questions(self) -> tuple[Question, ...]:
        return self.question_sets()[self.default_type]


@functools.lru_cache(maxsize=8)
def load_meeting_types(path: Path | None = None) -> MeetingTypes:
    """The meeting types of ``path`` (TOML), or the built-in default."""
    try:
        if path is None:
            text = resources.files("exec_assistant").joinpath("meeting_types.toml").read_text()
        else:
            text = Path(path).read_text(encoding="utf-8")
        return MeetingTypes.model_validate(tomllib.loads(text))
    except OSError as exc:
        raise ConfigurationError(f"cannot read meeting types file {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0:3]
        raise ConfigurationError(
            f"invalid meeting types file {path or '(built-in)'}: {' '.join(first)}"
        ) from exc
