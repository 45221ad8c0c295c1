"""manifest --url / --stack: every placeholder request URL replaced, clear errors otherwise."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from exec_assistant.cli.manifest import PLACEHOLDER_URL, packaged_manifest
from tests.cli.conftest import Cli, assert_one_line_error

ROOT = Path(__file__).resolve().parents[2]
URL = "https://abc123.execute-api.us-east-1.amazonaws.com/slack/webhook"

SAMPLE = f"""\
# request URLs: {PLACEHOLDER_URL} until rendered
display_information:
  name: exec-assistant  # comments survive
features:
  slash_commands:
    - command: /prep
      url: {PLACEHOLDER_URL}
settings:
  event_subscriptions:
    request_url: {PLACEHOLDER_URL}
  interactivity:
    is_enabled: true
    request_url: {PLACEHOLDER_URL}
"""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.yml"
    path.write_text(SAMPLE)
    return path


def test_packaged_manifest_is_the_repository_manifest() -> None:
    """The package's copy is a symlink, so there is one manifest to edit."""
    assert (ROOT / "exec_assistant" / "cli" / "manifest.yml").resolve() == (
        ROOT / "manifest.yml"
    ).resolve()
    assert packaged_manifest() == (ROOT / "manifest.yml").read_text("utf-8")
    assert PLACEHOLDER_URL in packaged_manifest()


def test_url_replaces_every_request_url_of_the_shipped_manifest(cli: Cli) -> None:
    result = cli("manifest", "--url", URL)
    assert result.exit_code == 0, result.output
    shipped = packaged_manifest().splitlines()
    rendered = result.stdout.splitlines()
    assert len(rendered) == len(shipped)
    yaml_lines = [i for i, line in enumerate(shipped) if not line.lstrip().startswith("#")]
    expected = sum(shipped[i].count(PLACEHOLDER_URL) for i in yaml_lines)
    assert expected >= 3  # slash command, events, interactivity
    assert sum(rendered[i].count(URL) for i in yaml_lines) == expected
    assert not any("example.invalid" in rendered[i] for i in yaml_lines)
    for i, line in enumerate(shipped):
        if i not in yaml_lines or PLACEHOLDER_URL not in line:
            assert rendered[i] == line  # everything else, comments included, is untouched


def test_url_fills_a_given_file_and_keeps_comments(cli: Cli, sample: Path) -> None:
    result = cli("manifest", "--url", URL, "--file", str(sample))
    assert result.exit_code == 0, result.output
    assert result.stdout.count(URL) == 3
    assert "# comments survive" in result.stdout
    assert result.stdout.splitlines()[0] == SAMPLE.splitlines()[0]  # comments not rewritten
    assert "example.invalid" not in "".join(result.stdout.splitlines(keepends=True)[1:])


def test_bare_origin_gets_the_webhook_path(cli: Cli, sample: Path) -> None:
    result = cli("manifest", "--url", "https://abc.ngrok.app", "--file", str(sample))
    assert result.stdout.count("https://abc.ngrok.app/slack/webhook") == 3


def test_output_file(cli: Cli, sample: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.yml"
    result = cli("manifest", "--url", URL, "--file", str(sample), "-o", str(target))
    assert result.exit_code == 0
    assert target.read_text().count(URL) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "http://insecure.example.com/slack/webhook"], "https"),
        (["--url", "not a url"], "https"),
        (["--url", PLACEHOLDER_URL], "placeholder"),
        (["--url", URL, "--stack", "dev"], "one of --url or --stack, not both"),
    ],
)
def test_bad_arguments(cli: Cli, sample: Path, args: list[str], message: str) -> None:
    result = cli("manifest", "--file", str(sample), *args)
    assert_one_line_error(result, contains=message)
    assert result.stdout == ""


def test_without_arguments_prints_the_template(cli: Cli, sample: Path) -> None:
    result = cli("manifest", "--file", str(sample))
    assert result.exit_code == 0, result.output
    assert result.stdout == sample.read_text()
    assert "placeholders" in result.stderr


def test_manifest_without_placeholder_is_refused(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "m.yml"
    other.write_text("settings:\n  event_subscriptions:\n    request_url: https://x.test/\n")
    assert_one_line_error(
        cli("manifest", "--url", URL, "--file", str(other)), contains="no placeholder"
    )


def _fake_pulumi(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir()
    pulumi = bin_dir / "pulumi"
    pulumi.write_text("#!/bin/sh\n" + script)
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)


def test_stack_reads_pulumi_stack_output(
    cli: Cli, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args_file = tmp_path / "args"
    outputs = {"slack_webhook_url": URL, "api_id": "abc123"}
    _fake_pulumi(
        tmp_path / "bin",
        f"echo \"$@\" > {args_file}\necho '{json.dumps(outputs)}'\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = cli("manifest", "--stack", "prod", "--infra-dir", str(tmp_path), "--file", str(sample))
    assert result.exit_code == 0, result.output
    assert result.stdout.count(URL) == 3
    assert args_file.read_text().split() == ["stack", "output", "--json", "--stack", "prod"]


def test_stack_without_the_output(
    cli: Cli, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_pulumi(tmp_path / "bin", 'echo \'{"api_id": "abc"}\'\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = cli("manifest", "--stack", "prod", "--infra-dir", str(tmp_path))
    assert_one_line_error(result, contains="no output slack_webhook_url (outputs: api_id)")


def test_stack_when_pulumi_fails(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_pulumi(tmp_path / "bin", "echo 'error: no stack named prod found' >&2\nexit 255\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = cli("manifest", "--stack", "prod", "--infra-dir", str(tmp_path))
    assert_one_line_error(result, contains="no stack named prod found")


def test_stack_without_pulumi_cli(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = cli("manifest", "--stack", "prod")
    assert_one_line_error(result, contains="pulumi CLI is not on PATH")
    assert result.exit_code == 3


def test_other_placeholder_urls_are_refused(cli: Cli, tmp_path: Path) -> None:
    odd = tmp_path / "m.yml"
    odd.write_text(
        SAMPLE + "oauth_config:\n  redirect_urls:\n    - https://example.invalid/oauth\n"
    )
    result = cli("manifest", "--url", URL, "--file", str(odd))
    assert_one_line_error(result, contains="another path")
    assert result.stdout == ""
