"""The Bedrock brief writer's grant: only when ``bedrock_model_id`` is configured, only to the
function that writes briefs (the Slack bot), only on that model (and its inference profile)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.infra.conftest import ACCOUNT, BASE_CONFIG, REGION, Deployment

Run = Callable[[str, Mapping[str, str]], Deployment]
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
BEDROCK_ENV = {"BRIEF_WRITER", "BEDROCK_MODEL_ID", "BEDROCK_REGION"}


def _bedrock_statements(deployment: Deployment) -> dict[str, dict[str, dict[str, Any]]]:
    """Per policy name, the statements that name any bedrock action."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for policy in deployment.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in policy.policy()["Statement"]:
            actions = statement["Action"]
            if any(a.startswith("bedrock:") for a in actions):
                found.setdefault(policy["name"], {})[statement["Sid"]] = {
                    k: v for k, v in statement.items() if k not in ("Sid", "Effect")
                }
    return found


def _env(deployment: Deployment, component: str) -> dict[str, str]:
    variables: dict[str, str] = deployment.function(component)["environment"]["variables"]
    return variables


def test_no_bedrock_grant_or_setting_without_the_model_id(any_deployment: Deployment) -> None:
    assert _bedrock_statements(any_deployment) == {}
    for function in any_deployment.of_type("aws:lambda/function:Function"):
        assert not BEDROCK_ENV & set(function["environment"]["variables"])


def test_foundation_model_id_grants_exactly_that_model_to_the_slack_bot(run: Run) -> None:
    deployed = run("dev", {**BASE_CONFIG, "bedrock_model_id": HAIKU})
    assert _bedrock_statements(deployed) == {
        "exec-assistant-slack-bot-policy-dev": {
            "InvokeBriefModel": {
                "Action": ["bedrock:InvokeModel"],
                "Resource": [f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU}"],
            }
        }
    }
    env = _env(deployed, "slack-bot")
    assert (env["BRIEF_WRITER"], env["BEDROCK_MODEL_ID"]) == ("bedrock", HAIKU)
    assert "BEDROCK_REGION" not in env  # the SDK's (the function's) Region
    for component in ("calendar-monitor", "prep-trigger", "digest"):
        assert not BEDROCK_ENV & set(_env(deployed, component)), component


def test_inference_profile_grants_the_profile_and_its_model_only_through_it(run: Run) -> None:
    profile_id = f"eu.{HAIKU}"
    deployed = run(
        "prod", {**BASE_CONFIG, "bedrock_model_id": profile_id, "bedrock_region": "eu-west-1"}
    )
    profile = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/{profile_id}"
    assert _bedrock_statements(deployed) == {
        "exec-assistant-slack-bot-policy-prod": {
            "InvokeBriefModelProfile": {"Action": ["bedrock:InvokeModel"], "Resource": [profile]},
            "InvokeBriefModelThroughProfile": {
                "Action": ["bedrock:InvokeModel"],
                # the Regions a profile routes to are AWS's choice: any Region, this model,
                # and only when the request came through this profile
                "Resource": [f"arn:aws:bedrock:*::foundation-model/{HAIKU}"],
                "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
            },
        }
    }
    env = _env(deployed, "slack-bot")
    assert (env["BEDROCK_MODEL_ID"], env["BEDROCK_REGION"]) == (profile_id, "eu-west-1")


def test_environment_reaches_settings_the_package_reads(run: Run) -> None:
    from exec_assistant.config import Settings
    from exec_assistant.workflows.bedrock_writer import BedrockBriefWriter, brief_writer_for

    deployed = run("dev", {**BASE_CONFIG, "bedrock_model_id": HAIKU, "bedrock_region": "us-west-2"})
    env = {k.lower(): v for k, v in _env(deployed, "slack-bot").items() if k in BEDROCK_ENV}
    writer = brief_writer_for(Settings.model_validate(env))
    assert isinstance(writer, BedrockBriefWriter)
    assert (writer.model_id, writer.region) == (HAIKU, "us-west-2")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"bedrock_model_id": f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU}"}, "not an ARN"),
        ({"bedrock_model_id": "claude"}, "bedrock_model_id"),
        ({"bedrock_model_id": "anthropic.claude v1"}, "bedrock_model_id"),
        ({"bedrock_model_id": HAIKU, "bedrock_region": "Europe"}, "bedrock_region"),
        ({"bedrock_region": "eu-west-1"}, "bedrock_model_id is not"),
    ],
)
def test_bad_bedrock_config_fails_the_preview(
    run: Run, extra: dict[str, str], message: str
) -> None:
    with pytest.raises(Exception, match=message):
        run("dev", {**BASE_CONFIG, **extra})
