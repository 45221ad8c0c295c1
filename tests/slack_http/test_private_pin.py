"""``PooledWebClient`` overrides a private slack_sdk method, so slack_sdk is pinned exactly and
these tests fail the moment an upgrade changes what the override relies on.

Upgrading slack_sdk: bump the pin in pyproject.toml (``python3 dev.py lock``), read the new
``BaseClient._perform_urllib_http_request`` and ``..._internal`` against
``exec_assistant/slack_http.py`` and ``tests/slack_http`` (the behaviour it reproduces), then
update the version and the digests below.
"""

from __future__ import annotations

import hashlib
import inspect
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from slack_sdk.version import __version__ as installed
from slack_sdk.web.base_client import BaseClient

from exec_assistant.slack_http import PooledWebClient

PINNED = "3.48.0"
#: sha256 of the source of each private method the override depends on, at PINNED.
DIGESTS = {
    # calls _perform_urllib_http_request_internal(url, req) and handles what it raises
    "_perform_urllib_http_request": (
        "eb84978f50485f1c8f1980313dfe3bebd4257713ebfff242becc1549a5672b3a"
    ),
    # the transport PooledWebClient replaces (it falls back to it behind a proxy)
    "_perform_urllib_http_request_internal": (
        "fabcc4caa02c991cf45de3e0463c01d45742b569c718a095192b64dec5a726e3"
    ),
}
ROOT = Path(__file__).resolve().parents[2]


def _pyproject_pin() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for line in data["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == "slack-sdk":
            (spec,) = requirement.specifier
            assert spec.operator == "==", "slack-sdk must be pinned exactly (private override)"
            return spec.version
    raise AssertionError("slack-sdk is not a dependency")


def test_slack_sdk_is_pinned_exactly_and_installed_at_the_pin() -> None:
    assert _pyproject_pin() == PINNED
    assert installed == PINNED


def test_the_private_methods_are_unchanged_at_the_pin() -> None:
    for name, digest in DIGESTS.items():
        source = inspect.getsource(getattr(BaseClient, name))
        assert hashlib.sha256(source.encode()).hexdigest() == digest, name


def test_the_override_is_still_on_the_call_path() -> None:
    caller = inspect.getsource(BaseClient._perform_urllib_http_request)
    assert "self._perform_urllib_http_request_internal(url, req)" in caller
    base = inspect.signature(BaseClient._perform_urllib_http_request_internal)
    ours = inspect.signature(PooledWebClient._perform_urllib_http_request_internal)
    assert list(base.parameters) == list(ours.parameters) == ["self", "url", "req"]
