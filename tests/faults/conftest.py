"""Fixtures of the fault-injection suite: fakes, one moto server per module behind the
serialising proxy, and a :class:`~tests.faults.harness.Harness` per case and backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.fixtures import fake_slack, fake_twilio
from tests.fakes.ses import MotoServer
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.faults.dynamo_proxy import DynamoProxy
from tests.faults.harness import Harness
from tests.faults.world import DYNAMODB_ENVIRONMENT

__all__ = ["fake_slack", "fake_twilio"]

BACKENDS = ["sqlite", "dynamodb"]


@pytest.fixture(autouse=True)
def _no_botocore_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard mode sleeps before each retry: skip the sleep in this process. The
    retries themselves (how many, on which errors) are botocore's, unchanged."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.fixture(scope="module")
def dynamo_proxy() -> Iterator[DynamoProxy]:
    """One moto server per module, reached only through the serialising proxy, with the
    store's tables created once (each case uses ids of its own)."""
    import boto3

    from exec_assistant.config import Settings
    from exec_assistant.store.dynamodb import DynamoDBStore

    server = MotoServer()
    server.start()
    try:
        with DynamoProxy(server.url) as proxy:
            client = boto3.client(
                "dynamodb",
                endpoint_url=proxy.url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            settings = Settings(environment=DYNAMODB_ENVIRONMENT)
            DynamoDBStore(
                users_table=settings.table_name("users"),
                meetings_table=settings.table_name("meetings"),
                chat_sessions_table=settings.table_name("chat_sessions"),
                notifications_table=settings.table_name("notifications"),
                client=client,
            ).create_tables()
            yield proxy
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def harness(
    backend: str,
    fake_slack: FakeSlackAPI,
    fake_twilio: FakeTwilioAPI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Harness:
    proxy: DynamoProxy | None = None
    if backend == "dynamodb":
        proxy = request.getfixturevalue("dynamo_proxy")
        proxy.clear()
    return Harness(
        backend=backend,
        slack=fake_slack,
        twilio=fake_twilio,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
        proxy=proxy,
    )
