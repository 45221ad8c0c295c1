"""EMF lines captured from :mod:`exec_assistant.metrics`, checked against the specification.

CloudWatch's "Specification: Embedded metric format": the root object has ``_aws`` with
``Timestamp`` (milliseconds since the epoch, a number) and ``CloudWatchMetrics`` (a non-empty
array of directives); each directive has ``Namespace`` (a string, 1-1024 characters),
``Dimensions`` (an array of dimension sets, each an array of at most 30 names, every name a
top-level member whose value is a string) and ``Metrics`` (at most 100 definitions, each with a
``Name`` that is a top-level member holding a number or an array of numbers, and optionally a
``Unit`` from CloudWatch's list).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from exec_assistant import metrics

UNITS = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
        "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
        "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
        "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
        "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
    }
)  # fmt: skip


def check_emf(doc: dict[str, Any]) -> None:
    """Raise AssertionError unless ``doc`` is a valid EMF document (see the module docstring)."""
    aws = doc["_aws"]
    assert isinstance(aws["Timestamp"], int) and not isinstance(aws["Timestamp"], bool)
    assert aws["Timestamp"] > 0
    directives = aws["CloudWatchMetrics"]
    assert isinstance(directives, list) and directives
    for directive in directives:
        namespace = directive["Namespace"]
        assert isinstance(namespace, str) and 1 <= len(namespace) <= 1024
        assert isinstance(directive["Dimensions"], list)
        for dimension_set in directive["Dimensions"]:
            assert isinstance(dimension_set, list) and len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(doc[name], str), name
        definitions = directive["Metrics"]
        assert isinstance(definitions, list) and 1 <= len(definitions) <= 100
        for definition in definitions:
            value = doc[definition["Name"]]
            values = value if isinstance(value, list) else [value]
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values), (
                definition
            )
            assert definition.get("Unit", "None") in UNITS


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def documents(self) -> list[dict[str, Any]]:
        """Every line written so far, parsed and checked against the specification."""
        docs = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        for doc in docs:
            check_emf(doc)
        return docs

    def of(self, metric: metrics.Metric) -> list[dict[str, Any]]:
        return [d for d in self.documents() if str(metric) in d]


@pytest.fixture
def emf() -> Iterator[Captured]:
    """Capture the EMF lines the code under test writes."""
    stream = io.StringIO()
    metrics.set_stream(stream)
    try:
        yield Captured(stream)
    finally:
        metrics.set_stream(None)
