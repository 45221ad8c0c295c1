"""The boto3 client cache: one client per service and region, all from one session."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from exec_assistant import aws


def test_clients_are_cached_and_share_one_session(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[Any] = []
    real_session = boto3.session.Session

    def counting_session(*args: Any, **kwargs: Any) -> Any:
        session = real_session(*args, **kwargs)
        created.append(session)
        return session

    monkeypatch.setattr(boto3.session, "Session", counting_session)
    dynamodb = aws.client("dynamodb")
    assert aws.client("dynamodb") is dynamodb
    aws.client("secretsmanager")
    aws.client("scheduler", region="eu-west-1")
    assert len(created) == 1, "every client comes from one session (endpoint data loaded once)"
    assert dynamodb.meta.config.retries["mode"] == "standard"

    aws.reset_clients()
    assert aws.client("dynamodb") is not dynamodb
    assert len(created) == 2
