"""pytest fixtures for the provider fakes. Import them into a ``conftest.py``::

    from tests.fakes.fixtures import fake_slack, fake_twilio, fake_ses, moto_server  # noqa: F401

``fake_slack`` / ``fake_twilio`` start a fresh fake per test. ``fake_ses`` points boto3 (through
``AWS_ENDPOINT_URL``) at a moto server shared by the session, resets it, verifies the sender
:data:`tests.fakes.ses.SENDER` and returns a :class:`~tests.fakes.ses.FakeSES` bound to the
cached ``exec_assistant.aws.client("sesv2")`` that the email channel uses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.ses import FakeSES, MotoServer
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI() as fake:
        yield fake


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_ses(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> FakeSES:
    from exec_assistant.aws import reset_clients
    from exec_assistant.notifications.channels.email import EmailChannel

    moto_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    reset_clients()
    fake = FakeSES(EmailChannel.ses_client())
    fake.verify_sender()
    return fake
