"""`import exec_assistant` is cheap and its public names all resolve."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import exec_assistant

HEAVY_SDKS = ("boto3", "botocore", "slack_sdk", "slack_bolt", "twilio")


def _modules_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
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
