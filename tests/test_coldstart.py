"""The collector pause of a Lambda cold start (:mod:`exec_assistant.coldstart`): paused on Lambda
only, resumed (what is alive frozen, thresholds restored) when the first invocation ends however
it ends. In a fresh interpreter (no collection during a handler module's import on Lambda, the
snapshot hooks resume): tests/test_snapshots.py."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exec_assistant import coldstart

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def restore_gc() -> Iterator[None]:
    """Whatever a test pauses or freezes in this process is undone after it."""
    threshold = gc.get_threshold()
    yield
    coldstart.resume()
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_pause_raises_the_threshold_and_resume_restores_it_and_freezes(restore_gc: None) -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()

    assert coldstart.pause() is True
    assert coldstart.paused()
    assert gc.get_threshold() == (coldstart.PAUSED_THRESHOLD, before[1], before[2])
    assert coldstart.pause() is False  # already paused: the saved thresholds stay the original
    alive = [object(), [1, 2]]

    assert coldstart.resume() is True
    assert not coldstart.paused()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() > frozen  # what was alive went to the permanent generation
    assert alive


def test_resume_without_a_pause_does_nothing(restore_gc: None) -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert coldstart.resume() is False
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen


def test_pause_on_lambda_only(restore_gc: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("_HANDLER", "exec_assistant.workflows.prep_trigger_handler.lambda_handler")
    assert coldstart.pause_on_lambda() is False and not coldstart.paused()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "exec-assistant-prep-trigger-test")
    assert coldstart.pause_on_lambda() is True and coldstart.paused()


@pytest.mark.parametrize("handler", [None, "app.handler", "my_service.exec_assistant.handler"])
def test_no_pause_in_a_lambda_whose_entry_point_is_not_ours(
    restore_gc: None, monkeypatch: pytest.MonkeyPatch, handler: str | None
) -> None:
    """A developer's own function that imports the library: nothing would ever resume."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "someone-elses-function")
    if handler is None:
        monkeypatch.delenv("_HANDLER", raising=False)
    else:
        monkeypatch.setenv("_HANDLER", handler)
    before = gc.get_threshold()
    assert coldstart.pause_on_lambda() is False and not coldstart.paused()
    assert gc.get_threshold() == before


@pytest.mark.parametrize("fails", [False, True])
def test_an_entry_resumes_when_its_invocation_ends(restore_gc: None, fails: bool) -> None:
    calls: list[tuple[Any, bool]] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        calls.append((event["id"], coldstart.paused()))
        if fails and event["id"] == "e":
            raise RuntimeError("the first event failed")
        return {"action": "skipped"}

    entry = coldstart.lambda_entry(handler)
    assert coldstart.is_entry(entry) and not coldstart.is_entry(handler)
    assert entry.__name__ == "handler"  # functools.wraps: logs and tracebacks name the handler
    coldstart.pause()
    if fails:
        with pytest.raises(RuntimeError, match="first event"):
            entry({"id": "e"}, None)
    else:
        assert entry({"id": "e"}, None) == {"action": "skipped"}
    assert not coldstart.paused()
    frozen = gc.get_freeze_count()
    assert entry({"id": "e2"}, None) == {"action": "skipped"}
    # later invocations freeze nothing more (the count may fall: frozen objects can be freed)
    assert gc.get_freeze_count() <= frozen
    # the first invocation itself ran paused (its first request is part of the cold start)
    assert calls == [("e", True), ("e2", False)]
