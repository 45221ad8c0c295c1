"""MkDocs hooks: pages that are generated from the code, so they cannot drift from it.

A page asks for a generated section with a marker line:

* ``<!-- generated: cli-reference -->`` — every command, option and default of the Typer app, as
  Typer's own documented generator writes it (``typer exec_assistant.cli utils docs``);
* ``<!-- generated: settings -->`` — every setting of :class:`exec_assistant.config.Settings`:
  its environment variable, type, default and description.

Run by ``mkdocs build`` (``python3 dev.py docs``); nothing here touches the network.
"""

from __future__ import annotations

import re
import subprocess
import sys
import types
import typing
from typing import Any

CLI_MARKER = "<!-- generated: cli-reference -->"
SETTINGS_MARKER = "<!-- generated: settings -->"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    if SETTINGS_MARKER in markdown:
        markdown = markdown.replace(SETTINGS_MARKER, settings_reference())
    return markdown


def cli_reference() -> str:
    """The CLI reference from Typer's generator, its headings one level down (under the page's)."""
    argv = [sys.executable, "-m", "typer", "exec_assistant.cli", "utils", "docs"]
    result = subprocess.run(  # noqa: S603 - fixed argv, this interpreter
        [*argv, "--name", "exec-assistant"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"typer utils docs failed: {result.stderr.strip()}")
    return re.sub(r"^(#+) ", r"#\1 ", result.stdout, flags=re.MULTILINE)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        names = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " | ".join(names)
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    return str(getattr(annotation, "__name__", annotation))


def settings_reference() -> str:
    """A table of every Settings field: variable, type, default, description."""
    from pydantic import SecretStr

    from exec_assistant.config import Settings

    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        secret = "SecretStr" in str(annotation) or annotation is SecretStr
        default = "unset" if field.default is None else f"`{field.default}`"
        if field.is_required():
            default = "required"
        kind = "secret" if secret else _type_name(annotation)
        meaning = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{name.upper()}` | {kind} | {default} | {meaning} |")
    return "\n".join(rows) + "\n"
