"""``exec-assistant manifest``: the Slack app manifest with its request URLs filled in.

The manifest's request URLs are the placeholder :data:`PLACEHOLDER_URL`; this command replaces
every one of them line by line, so layout survives and comments are left as written. The
manifest ships inside the package (``exec_assistant/cli/manifest.yml``, a symlink to the
repository's ``manifest.yml`` that the wheel build resolves) so a pip-installed CLI has it too;
``--file`` reads another one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from exec_assistant.errors import ConfigurationError, ExecAssistantError, PermanentError

PLACEHOLDER_HOST = "example.invalid"
PLACEHOLDER_URL = f"https://{PLACEHOLDER_HOST}/slack/webhook"
WEBHOOK_PATH = "/slack/webhook"
STACK_OUTPUT = "slack_webhook_url"


def packaged_manifest() -> str:
    return resources.files("exec_assistant.cli").joinpath("manifest.yml").read_text("utf-8")


def webhook_url(url: str) -> str:
    """Validate a request URL; a bare origin gets the webhook path (``/slack/webhook``)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname or any(c in url for c in " \"'\n"):
        raise typer.BadParameter(f"{url!r} is not an https:// URL (Slack requires https)")
    if parts.hostname == PLACEHOLDER_HOST:
        raise typer.BadParameter("that is the placeholder; give your public URL")
    path = parts.path if parts.path not in ("", "/") else WEBHOOK_PATH
    query = f"?{parts.query}" if parts.query else ""
    return f"https://{parts.netloc}{path}{query}"


def fill(manifest: str, url: str) -> str:
    """Replace the placeholder request URL on every YAML line (comments are left as written).

    Refuses a manifest without a placeholder, or with another ``example.invalid`` URL left.
    """
    lines = manifest.splitlines(keepends=True)
    filled = [
        line if line.lstrip().startswith("#") else line.replace(PLACEHOLDER_URL, url)
        for line in lines
    ]
    if filled == lines:
        raise PermanentError(f"the manifest has no placeholder request URL ({PLACEHOLDER_URL})")
    if any(PLACEHOLDER_HOST in line and not line.lstrip().startswith("#") for line in filled):
        raise PermanentError(
            f"the manifest still has {PLACEHOLDER_HOST} URLs with another path; fix the manifest"
        )
    return "".join(filled)


def stack_webhook_url(stack: str, infra_dir: Path) -> str:
    """``slack_webhook_url`` from ``pulumi stack output --json`` of a deployed stack."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise ConfigurationError(
            "the pulumi CLI is not on PATH (install it, or pass --url instead of --stack)",
            code="pulumi_missing",
        )
    completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [pulumi, "stack", "output", "--json", "--stack", stack],
        cwd=infra_dir,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise ExecAssistantError(f"pulumi stack output failed for stack {stack}: {last}")
    try:
        outputs: Any = json.loads(completed.stdout)
    except ValueError:
        raise ExecAssistantError("pulumi stack output did not print JSON") from None
    url = outputs.get(STACK_OUTPUT) if isinstance(outputs, dict) else None
    if not isinstance(url, str) or not url:
        names = ", ".join(sorted(outputs)) if isinstance(outputs, dict) else "none"
        raise PermanentError(f"stack {stack} has no output {STACK_OUTPUT} (outputs: {names})")
    return url


def render(
    url: Annotated[
        str | None, typer.Option(help="Public request URL (https://…/slack/webhook).")
    ] = None,
    stack: Annotated[
        str | None, typer.Option(help=f"Take the URL from this Pulumi stack's {STACK_OUTPUT}.")
    ] = None,
    infra_dir: Annotated[
        Path, typer.Option(help="Directory of the Pulumi project (for --stack).")
    ] = Path("infra"),
    file: Annotated[
        Path | None, typer.Option(help="Manifest to fill (default: the one shipped).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the Slack app manifest with every request URL filled in.

    Paste the result into https://api.slack.com/apps → Create New App → From a manifest.
    Without --url or --stack it prints the template, placeholder URLs and all.
    """
    if url is not None and stack is not None:
        raise typer.BadParameter("give one of --url or --stack, not both")
    text = file.read_text("utf-8") if file is not None else packaged_manifest()
    if url is None and stack is None:
        typer.echo(
            "the template: its request URLs are placeholders (give --url or --stack to fill them)",
            err=True,
        )
        target, filled = "unchanged", text
    else:
        target = webhook_url(url if url is not None else stack_webhook_url(str(stack), infra_dir))
        filled = fill(text, target)
    if output is not None:
        output.write_text(filled, "utf-8")
        typer.echo(f"wrote {output} (request URL {target})", err=True)
    else:
        sys.stdout.write(filled)


EPILOG = (
    "Example: exec-assistant manifest --url https://abc123.execute-api.us-east-1.amazonaws.com"
    "/slack/webhook > slack-manifest.yml  |  exec-assistant manifest (the template)"
)
