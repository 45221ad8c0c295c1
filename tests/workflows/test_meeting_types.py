"""Meeting types are configuration: the built-in TOML, a replacement file, and bad files refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from exec_assistant.errors import ConfigurationError
from exec_assistant.workflows.meeting_types import load_meeting_types
from exec_assistant.workflows.prep_conversation import QUESTIONS


def test_builtin_types_classify_and_ask_their_own_questions() -> None:
    types = load_meeting_types()
    rules = types.import_rules
    assert rules.classify("Interview debrief: Staff Engineer", 3) == ("interview_debrief", 2)
    assert rules.classify("Q4 QBR", 8) == ("qbr", 72)
    assert rules.classify("Ada / Bo 1:1", 2) == ("one_on_one", 4)
    assert rules.classify("Acme renewal", 3) == ("vendor", 24)
    assert rules.classify("Coffee", 2) == ("general", 24)
    sets = types.question_sets()
    assert [q.key for q in sets["vendor"]] == ["goal", "topics", "walkaway"]
    assert types.default_questions() == QUESTIONS  # the built-in default set


def test_a_replacement_file(tmp_path: Path) -> None:
    path = tmp_path / "types.toml"
    path.write_text(
        'default_type = "other"\ndefault_prep_hours_before = 6\n'
        '[[rules]]\nmeeting_type = "board"\nkeywords = ["board"]\nprep_hours_before = 168\n'
        '[[questions.other]]\nkey = "goal"\nlabel = "Goal"\ntext = "Why?"\n'
    )
    types = load_meeting_types(path)
    assert types.import_rules.classify("Board meeting", 9) == ("board", 168)
    assert types.import_rules.classify("Lunch", 1) == ("other", 6)
    assert [q.text for q in types.question_sets()["board"]] == ["Why?"]  # default set


@pytest.mark.parametrize(
    "text",
    [
        "default_type = 'x'\n",  # no questions for the default type
        "[[questions.general]]\nkey = 'Bad Key'\nlabel = 'L'\ntext = 'T'\n",
        "[[rules]]\nmeeting_type = 'x'\nprep_hours_before = 1\n"  # no condition
        "[[questions.general]]\nkey = 'a'\nlabel = 'L'\ntext = 'T'\n",
        "not toml at all [",
    ],
)
def test_a_bad_file_is_a_configuration_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match="invalid meeting types file"):
        load_meeting_types(path)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_meeting_types(tmp_path / "missing.toml")
