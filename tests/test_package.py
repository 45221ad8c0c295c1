"""`import exec_assistant` is cheap and its public names all resolve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import exec_assistant
from tests.test_snapshots import LAMBDA_ENV

HEAVY_SDKS = ("boto3", "botocore", "slack_sdk", "slack_bolt", "twilio")


def _modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY_SDKS}


def test_import_pulls_in_no_sdk() -> None:
    modules = _modules_after("import exec_assistant")
    assert "exec_assistant" in modules
    assert _heavy(modules) == set()


def test_the_guard_itself_can_see_an_sdk() -> None:
    # the check above would notice an SDK import: importing one shows up
    assert "botocore" in _heavy(_modules_after("import exec_assistant, botocore"))


@pytest.mark.parametrize("name", exec_assistant.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(exec_assistant, name) is not None
    assert name in dir(exec_assistant)


def test_models_store_and_config_names_stay_sdk_free() -> None:
    code = "import exec_assistant as ea\nea.User, ea.Meeting, ea.Settings, ea.open_store, ea.Store"
    assert _heavy(_modules_after(code)) == set()


def test_models_import_email_validator_only_when_an_address_is_validated() -> None:
    code = "from exec_assistant.models import User"
    assert "email_validator" not in _modules_after(code)
    code += "\nUser(user_id='u', name='Ada', email='ada@example.com')"
    assert "email_validator" in _modules_after(code)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = exec_assistant.no_such_name


def test_version_is_a_string() -> None:
    assert isinstance(exec_assistant.__version__, str)
    assert exec_assistant.__version__.count(".") >= 2


def test_the_aws_runtime_does_not_import_sqlite3(tmp_path: Path) -> None:
    """On Lambda the store is DynamoDB and the scheduler EventBridge Scheduler: the local
    scheduler's module (and sqlite3) stays out of the cold start."""
    aws = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "EXEC_ASSISTANT_STORE": "dynamodb",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing may leave the machine
        "EVENT_BUS_NAME": "arn:aws:events:us-east-1:123456789012:event-bus/exec-assistant-test",
        "SCHEDULER_GROUP_NAME": "exec-assistant-test",
        "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler",
        "SLACK_BOT_TOKEN": "xoxb-test-0000",
    }
    code = (
        "from exec_assistant.workflows import prep_trigger_handler\n"
        "from exec_assistant.runtime import get_runtime\n"
        "get_runtime()"
    )
    modules = _modules_after(code, aws)
    assert "exec_assistant.events.scheduler" in modules
    assert "sqlite3" not in modules
    assert "exec_assistant.events.local_scheduler" not in modules
    # the embedded default does use it (so the check above can see it)
    local = {"PATH": aws["PATH"], "EXEC_ASSISTANT_STORE": f"sqlite:///{tmp_path}/local.db"}
    local_modules = _modules_after(code, local)
    assert {"sqlite3", "exec_assistant.events.local_scheduler"} <= local_modules


# --- issue 16: what a Lambda cold start imports -----------------------------------------------

#: The deployed functions' settings (tests/test_snapshots.py) plus the trigger's channels.
COLD_ENV = {
    "PATH": os.environ.get("PATH", ""),
    **LAMBDA_ENV,
    "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
    "TWILIO_AUTH_TOKEN": "cold-test-twilio-token",
    "TWILIO_FROM_NUMBER": "+14155550100",
    "SES_FROM_EMAIL": "prep@example.com",
}
TRIGGER_COLD = (
    "from exec_assistant.workflows import prep_trigger_handler\n"
    "from exec_assistant.runtime import get_runtime\n"
    "get_runtime()\n"
)
#: Never on a handler's cold path: pydantic-settings (the Lambda reader reads the settings,
#: exec_assistant/config.py) and the CLI's libraries.
NEVER_COLD = {"pydantic_settings", "dotenv", "typer", "rich", "exec_assistant.config_settings"}


def _cold(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules} | {m for m in modules if m.startswith("exec_")}


def test_the_trigger_reads_its_settings_without_pydantic_settings_bolt_or_twilio() -> None:
    loaded = _cold(_modules_after(TRIGGER_COLD, COLD_ENV))
    assert "exec_assistant.workflows.prep_trigger_handler" in loaded
    assert loaded & (NEVER_COLD | {"slack_bolt", "twilio"}) == set()


def test_the_slack_bot_builds_its_app_without_pydantic_settings_or_twilio() -> None:
    code = "from exec_assistant.interfaces import slack_bot\nslack_bot.slack_ingress()"
    loaded = _cold(_modules_after(code, COLD_ENV))
    assert "slack_bolt" in loaded  # the app was built
    assert loaded & (NEVER_COLD | {"twilio"}) == set()


def test_off_lambda_the_same_code_reads_with_pydantic_settings() -> None:
    """The checks above can see it: without Lambda's variable, get_settings uses Settings."""
    off_lambda = {k: v for k, v in COLD_ENV.items() if k != "AWS_LAMBDA_FUNCTION_NAME"}
    loaded = _cold(_modules_after(TRIGGER_COLD, off_lambda))
    assert {"pydantic_settings", "exec_assistant.config_settings"} <= loaded
