"""``PooledWebClient`` overrides a private slack_sdk method. It is only used on the releases in
``VERIFIED_SLACK_SDK`` (the lock files install one of them); these tests fail the moment the
installed release's method differs from what was read, and check that any other release gets
slack_sdk's own client.

Upgrading slack_sdk in the lock files (``python3 dev.py lock``): read the new
``BaseClient._perform_urllib_http_request`` and ``..._internal`` against
``exec_assistant/slack_http.py`` and ``tests/slack_http`` (the behaviour it reproduces), then
add the version to ``VERIFIED_SLACK_SDK`` and update the digests below.
"""

from __future__ import annotations

import hashlib
import inspect
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from slack_sdk import WebClient
from slack_sdk.version import __version__ as installed
from slack_sdk.web.base_client import BaseClient

from exec_assistant import slack_http
from exec_assistant.slack_http import VERIFIED_SLACK_SDK, PooledWebClient, web_client

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


def _pyproject_requirement() -> Requirement:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for line in data["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == "slack-sdk":
            return requirement
    raise AssertionError("slack-sdk is not a dependency")


def _locked_versions() -> set[str]:
    found = set()
    for lock in sorted((ROOT / "requirements").glob("*.txt")):
        for line in lock.read_text().splitlines():
            if line.startswith("slack-sdk=="):
                found.add(line.split("==", 1)[1].split()[0])
    return found


def test_the_library_allows_a_range_and_the_locks_install_the_verified_release() -> None:
    requirement = _pyproject_requirement()
    assert not any(spec.operator == "==" for spec in requirement.specifier), "no exact pin"
    assert requirement.specifier.contains(PINNED)
    assert _locked_versions() == {PINNED}
    assert installed == PINNED
    assert PINNED in VERIFIED_SLACK_SDK


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


def test_a_verified_release_gets_the_pooled_client() -> None:
    client = web_client(token="xoxb-test", base_url="http://127.0.0.1:9/api/")
    assert isinstance(client, PooledWebClient)


def test_any_other_release_gets_slack_sdks_own_client(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("slack_sdk.version.__version__", "3.99.0")
    slack_http._warn_unverified.cache_clear()
    with caplog.at_level("WARNING"):
        first = web_client(token="xoxb-test", base_url="http://127.0.0.1:9/api/", timeout=3)
        second = web_client(token="xoxb-test", base_url="http://127.0.0.1:9/api/")
    assert type(first) is WebClient and type(second) is WebClient
    assert first.timeout == 3
    warnings = [r for r in caplog.records if "slack.unpooled_client" in r.getMessage()]
    assert len(warnings) == 1  # once per process, not per client
    assert warnings[0].fields["slack_sdk"] == "3.99.0"  # type: ignore[attr-defined]
