"""JSON log lines: Lambda's request id on every line, LOG_LEVEL checked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from exec_assistant import logs
from exec_assistant.logs import configure_logging, log_event, parse_log_level


class RuntimeFilter(logging.Filter):
    """What the Lambda Python runtime adds to its root handler: the current invocation's id."""

    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


@pytest.fixture
def lambda_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[io.StringIO, RuntimeFilter]]:
    """The root logger as the Lambda runtime leaves it: one handler with the request-id filter."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    runtime_filter = RuntimeFilter()
    handler.addFilter(runtime_filter)
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(logs, "_state", {"configured": False})
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    level = root.level
    yield stream, runtime_filter
    root.setLevel(level)


def test_every_line_carries_the_lambda_request_id(
    lambda_root: tuple[io.StringIO, RuntimeFilter],
) -> None:
    stream, runtime_filter = lambda_root
    configure_logging()
    logger = logging.getLogger("exec_assistant.test")
    for request_id in ("req-1", "req-2"):
        runtime_filter.request_id = request_id
        log_event(logger, logging.INFO, "prep_trigger.notified", meeting_id="mtg-1")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["req-1", "req-2"]
    assert all(line["meeting_id"] == "mtg-1" for line in lines)


def test_no_request_id_outside_lambda(lambda_root: tuple[io.StringIO, RuntimeFilter]) -> None:
    stream, _ = lambda_root
    configure_logging()
    log_event(logging.getLogger("exec_assistant.test"), logging.INFO, "cli.event")
    assert "request_id" not in json.loads(stream.getvalue())


def test_a_bogus_log_level_is_refused(
    lambda_root: tuple[io.StringIO, RuntimeFilter], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "bogus")
    with pytest.raises(ValueError, match="DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        configure_logging()


@pytest.mark.parametrize("value", ["debug", " INFO ", "Warning"])
def test_level_names_in_any_case(value: str) -> None:
    assert parse_log_level(value) == value.strip().upper()
