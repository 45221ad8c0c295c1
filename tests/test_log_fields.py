"""Log lines carry the Lambda request id when the runtime put it on the record."""

from __future__ import annotations

import json
import logging

from exec_assistant.logs import JsonFormatter


def _line(**attributes: object) -> dict[str, object]:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "prep_trigger.notified", (), None)
    for name, value in attributes.items():
        setattr(record, name, value)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_the_lambda_request_id_is_on_every_line() -> None:
    line = _line(aws_request_id="0c3c5ab6-1b3e", fields={"meeting_id": "m-1", "channel": "sms"})
    assert line["request_id"] == "0c3c5ab6-1b3e"
    assert line["meeting_id"] == "m-1"
    assert line["channel"] == "sms"


def test_no_request_id_outside_lambda() -> None:
    assert "request_id" not in _line()
    assert "request_id" not in _line(aws_request_id="")
