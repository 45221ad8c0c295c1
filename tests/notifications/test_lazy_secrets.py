"""Twilio's secrets are read on the first SMS, not when the channels are built: a cold start
that only ever delivers on Slack makes no Secrets Manager call for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from exec_assistant.config import Settings
from exec_assistant.models import Channel, ErrorClass
from exec_assistant.notifications.channels import build_channels
from exec_assistant.notifications.types import DeliveryError
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.notifications.conftest import send_now
from tests.notifications.test_channels import note

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:exec-assistant/twilio-{}-AbCdEf"


@pytest.fixture
def secretsmanager() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def _settings(fake_twilio_url: str, arns: dict[str, str]) -> Settings:
    return Settings(
        twilio_account_sid_secret_arn=arns["sid"],
        twilio_auth_token_secret_arn=arns["token"],
        twilio_from_number_secret_arn=arns["from"],
        twilio_api_url=fake_twilio_url,
    )


def test_building_the_sms_channel_reads_no_secret(
    secretsmanager: Any, fake_twilio: FakeTwilioAPI
) -> None:
    # The secrets do not exist: building must not notice, because it must not read them.
    settings = _settings(fake_twilio.url, {k: ARN.format(k) for k in ("sid", "token", "from")})
    channels = build_channels(settings)
    assert set(channels) == {Channel.SMS}
    with pytest.raises(DeliveryError) as info:
        send_now(channels[Channel.SMS], note())
    assert info.value.error_class == ErrorClass.PERMANENT
    assert info.value.code == "secret_unreadable"
    assert fake_twilio.messages == []


def test_first_sms_reads_the_secrets_and_sends(
    secretsmanager: Any, fake_twilio: FakeTwilioAPI
) -> None:
    values = {"sid": "AC" + "0" * 32, "token": "tw-token-123456", "from": "+15005550006"}
    arns = {
        key: secretsmanager.create_secret(Name=f"twilio-{key}", SecretString=value)["ARN"]
        for key, value in values.items()
    }
    channel = build_channels(_settings(fake_twilio.url, arns))[Channel.SMS]
    assert send_now(channel, note()).startswith("SM")
    assert len(fake_twilio.messages) == 1
    sent = fake_twilio.messages[0]
    assert (sent.account_sid, sent.auth_user) == (values["sid"], values["sid"])
    assert sent.params["From"] == values["from"]
