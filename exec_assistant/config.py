"""Configuration from the environment: :func:`get_settings`, :class:`Settings`, the Lambda reader.

The fields (names = environment variables in lower case, a contract: DESIGN.md), their validation
and the secret helpers are declared once, in :class:`~exec_assistant.config_fields.SettingsModel`.
Two readers fill them:

* :class:`Settings` (:mod:`exec_assistant.config_settings`, pydantic-settings) — the CLI,
  ``serve``, tests and library users: ``Settings()`` reads the environment, keyword arguments
  override it. ``exec_assistant.config.Settings`` is resolved on first use (PEP 562), so importing
  this module does not import pydantic-settings;
* :func:`read_environment` — the Lambda handlers (:func:`get_settings` on Lambda): the same
  lookup pydantic-settings makes for these fields (variable names matched case-insensitively, no
  prefix, no nested keys — no field is a model, list or dict — empty strings kept, the last of two
  names differing only in case wins) handed to the same model's validation, so the values, the
  errors and their messages ("1 validation error for Settings …") are the same. A property test
  (``tests/test_config_readers.py``) checks that both read any environment identically; it
  refuses a field the reader could not read as pydantic-settings would (an alias, a complex type).

Why two readers (issue 16, measured; decision recorded here and in docs/benchmarks.md): on a cold
Lambda, importing pydantic-settings cost the prep trigger ~73 ms of its ~227 ms import (with
``.pyc``; python -X importtime, median of 5) — more than any other single piece, and its floor
(bare boto3 + slack_sdk) imports nothing of it. pydantic-settings does nothing on Lambda that the
reader does not: no ``.env`` file, secrets directory or CLI source is configured, and nothing is
nested. Everywhere else :class:`Settings` stays the one reader.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from exec_assistant.config_fields import (
    DEFAULT_SLACK_API_URL,
    SecretName,
    SettingsModel,
    clear_secret_cache,
)

if TYPE_CHECKING:
    from exec_assistant.config_settings import Settings

__all__ = [
    "DEFAULT_SLACK_API_URL",
    "SecretName",
    "Settings",
    "SettingsModel",
    "clear_secret_cache",
    "get_settings",
    "read_environment",
    "running_on_lambda",
]


def running_on_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def read_environment(environ: Mapping[str, str] | None = None) -> SettingsModel:
    """The settings from ``environ`` (default ``os.environ``), as ``Settings()`` reads them.

    Raises ``pydantic.ValidationError`` (title ``Settings``) or the fields' own
    :class:`~exec_assistant.errors.ConfigurationError`, exactly as ``Settings()`` does.
    """
    source = os.environ if environ is None else environ
    lowered = {name.lower(): value for name, value in source.items()}
    found = {name: lowered[name] for name in SettingsModel.model_fields if name in lowered}
    return SettingsModel.model_validate(found)


@lru_cache(maxsize=1)
def get_settings() -> SettingsModel:
    """Process-wide settings, read once (tests call ``get_settings.cache_clear()``): on Lambda
    with :func:`read_environment`, elsewhere with :class:`Settings` (pydantic-settings)."""
    if running_on_lambda():
        return read_environment()
    from exec_assistant.config_settings import Settings

    return Settings()


def __getattr__(name: str) -> Any:
    """``Settings`` on first use, so that importing this module skips pydantic-settings."""
    if name == "Settings":
        from exec_assistant.config_settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
