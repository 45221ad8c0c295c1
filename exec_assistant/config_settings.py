"""``Settings``: the settings read with pydantic-settings (the CLI, ``serve``, library users).

The fields, their validation and the secret helpers are :class:`SettingsModel`'s
(:mod:`exec_assistant.config_fields`); this class adds pydantic-settings' sources: the
environment, case-insensitive, no prefix, and keyword arguments over it (``Settings(environment=
"prod")``). The Lambda handlers read the same fields without this module, see
:mod:`exec_assistant.config`.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from exec_assistant.config_fields import SettingsModel


class Settings(BaseSettings, SettingsModel):
    """All configuration. Environment variable names are the field names in upper case."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")
