"""Fixtures for the event bus and scheduler tests: moto-backed AWS clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def events_client(aws: None) -> Any:
    import boto3

    return boto3.client("events", region_name="us-east-1")


@pytest.fixture
def scheduler_client(aws: None) -> Any:
    import boto3

    return boto3.client("scheduler", region_name="us-east-1")


@pytest.fixture
def sqs_client(aws: None) -> Any:
    import boto3

    return boto3.client("sqs", region_name="us-east-1")
