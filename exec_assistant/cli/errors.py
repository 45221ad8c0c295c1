"""One place turns every failure into a one-line red error and an exit code, never a traceback.

The root command group runs click in non-standalone mode and maps what escapes: click's usage
errors, the package's :class:`~exec_assistant.errors.ExecAssistantError` family, pydantic
validation errors, botocore and Slack SDK errors. ``EXEC_ASSISTANT_DEBUG=1`` re-raises errors
nobody classified, for the traceback a bug report needs.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from exec_assistant.cli.output import ExitCode, error_line
from exec_assistant.errors import (
    ConfigurationError,
    ExecAssistantError,
    NotFoundError,
    RefusedError,
)

#: Model fields whose CLI option is not ``--`` + the field name with dashes.
OPTION_NAMES = {
    "prep_hours_before": "--prep-hours",
    "meeting_type": "--type",
    "start_time": "--start",
    "end_time": "--end",
    "user_id": "--user",
    "meeting_id": "--id",
    "attendees": "--attendee",
    "channel_order": "--channels",
    "escalation_delay_minutes": "--escalation-delay",
}


def option_name(field: str) -> str:
    """The CLI option a model field is given with (``prep_hours_before`` → ``--prep-hours``)."""
    return OPTION_NAMES.get(field, "--" + field.replace("_", "-"))


def _validation_message(exc: ValidationError) -> str:
    """One line naming what the user typed: environment variables for Settings, else options."""
    settings = exc.title == "Settings"
    parts = []
    for item in exc.errors():
        fields = [str(p) for p in item.get("loc", ()) if isinstance(p, str)]
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        if settings:
            where = fields[0].upper() if fields else "configuration"
        else:
            where = option_name(fields[-1]) if fields else ""
            message = re.sub(r"\b[a-z]+(?:_[a-z]+)+\b", lambda m: option_name(m.group()), message)
        parts.append(f"{where}: {message}" if where else message)
    prefix = "invalid configuration: " if settings else "invalid input: "
    return prefix + "; ".join(parts)


def _aws_message(exc: Exception) -> str | None:
    if not type(exc).__module__.startswith(("botocore", "boto3")):
        return None
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        operation = getattr(exc, "operation_name", "request")
        return f"AWS {operation} failed: {error.get('Code', '?')}: {error.get('Message', '')}"
    return f"AWS: {exc}"


def _slack_message(exc: Exception) -> str | None:
    if not type(exc).__module__.startswith("slack_sdk"):
        return None
    response = getattr(exc, "response", None)
    code = response.get("error") if response is not None else None
    return f"Slack API error: {code or type(exc).__name__}"


def _is_click_error(exc: Exception) -> bool:
    """Click's exceptions (typer vendors click in recent releases, so match by shape)."""
    return callable(getattr(exc, "format_message", None)) and isinstance(
        getattr(exc, "exit_code", None), int
    )


def classify(exc: Exception) -> tuple[str, ExitCode]:
    """The message and exit code for an exception that escaped a command."""
    if isinstance(exc, typer.Abort):
        return "aborted", ExitCode.INTERRUPTED
    if _is_click_error(exc):
        message: str = getattr(exc, "format_message")()  # noqa: B009
        if getattr(exc, "exit_code") == ExitCode.USAGE:  # noqa: B009
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            return message + hint, ExitCode.USAGE
        return message, ExitCode.FAILED
    if isinstance(exc, ConfigurationError):
        return str(exc), ExitCode.CONFIG
    if isinstance(exc, (NotFoundError, RefusedError)):  # bad input: what it names, or its state
        return str(exc), ExitCode.USAGE
    if isinstance(exc, ExecAssistantError):
        return str(exc), ExitCode.FAILED
    if isinstance(exc, ValidationError):
        code = ExitCode.CONFIG if exc.title == "Settings" else ExitCode.USAGE
        return _validation_message(exc), code
    provider = _aws_message(exc) or _slack_message(exc)
    if provider:
        return provider, ExitCode.FAILED
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", (
            ExitCode.FAILED
        )
    return (
        f"unexpected {type(exc).__name__}: {exc} (set EXEC_ASSISTANT_DEBUG=1 for the traceback)",
        ExitCode.FAILED,
    )


def _known(exc: Exception) -> bool:
    return (
        isinstance(exc, (typer.Abort, ExecAssistantError, ValidationError, OSError))
        or _is_click_error(exc)
        or bool(_aws_message(exc) or _slack_message(exc))
    )


class ErrorHandlingGroup(TyperGroup):
    """The root group: runs the command and reports whatever escapes as one line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except Exception as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # click's "no arguments: show help"
                getattr(exc, "show")()  # noqa: B009
                if standalone_mode:
                    sys.exit(int(ExitCode.USAGE))
                raise
            if os.environ.get("EXEC_ASSISTANT_DEBUG") == "1" and not _known(exc):
                raise
            message, code = classify(exc)
            error_line(message)
            if not standalone_mode:
                raise
            sys.exit(int(code))
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else 0)
        return result
