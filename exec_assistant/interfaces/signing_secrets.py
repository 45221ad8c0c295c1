"""Which Slack signing secrets a request may be signed with: the current one, and the previous
one for a grace window after a rotation (``SLACK_SIGNING_SECRET_GRACE_SECONDS``).

Why a grace window: after the secret is rotated, requests Slack signed just before (a retry, a
lazy listener re-invocation that re-verifies the original request) still carry the old
signature. Accepting the previous secret for a bounded time loses none of them.

Two sources, picked by :func:`signing_secret_source`:

* environment (local runtime): ``SLACK_SIGNING_SECRET``, plus optionally
  ``SLACK_SIGNING_SECRET_PREVIOUS`` and ``SLACK_SIGNING_SECRET_ROTATED_AT``;
* AWS Secrets Manager (``SLACK_SIGNING_SECRET_SECRET_ARN``): the ``AWSCURRENT`` version, the
  ``AWSPREVIOUS`` version, and the ``AWSCURRENT`` version's ``CreatedDate`` as the rotation
  time. Read through a short TTL cache, so a rotation is picked up without a cold start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from exec_assistant.config import SettingsModel
from exec_assistant.errors import ConfigurationError
from exec_assistant.logs import log_event, register_secret
from exec_assistant.models import utcnow

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: How long values read from Secrets Manager are reused before they are read again.
DEFAULT_CACHE_TTL = timedelta(minutes=5)
#: After a failed refresh, how long the last good values are reused before trying again.
REFRESH_BACKOFF = timedelta(seconds=30)


@dataclass(frozen=True)
class SigningSecrets:
    """The current secret, and the one it replaced at ``rotated_at`` (if any)."""

    current: str = field(repr=False)
    previous: str | None = field(default=None, repr=False)
    rotated_at: datetime | None = None

    def accepted(self, now: datetime, grace: timedelta) -> list[str]:
        """Secrets a request signed at ``now`` may use: the current one, and the previous one
        until ``rotated_at + grace``."""
        secrets = [self.current]
        if (
            self.previous
            and self.previous != self.current
            and self.rotated_at is not None
            and now < self.rotated_at + grace
        ):
            secrets.append(self.previous)
        return secrets


class SigningSecretSource(Protocol):
    def load(self) -> SigningSecrets:
        """The secrets as they are now (may be cached; raises ConfigurationError if unreadable)."""
        ...


class StaticSigningSecrets:
    """Secrets fixed for the life of the process (the environment, or tests)."""

    def __init__(self, secrets: SigningSecrets) -> None:
        self._secrets = secrets

    def load(self) -> SigningSecrets:
        return self._secrets


class SecretsManagerSigningSecrets:
    """AWSCURRENT / AWSPREVIOUS of one secret, re-read at most every ``ttl``.

    The previous version is only fetched while it can still be accepted (inside the grace
    window after the current version's ``CreatedDate``), so steady state is one
    ``ListSecretVersionIds`` and one ``GetSecretValue`` per ``ttl``. If a refresh fails, the last
    good values are kept (and the failure logged) rather than refusing every request.
    """

    def __init__(
        self,
        secret_arn: str,
        *,
        grace: timedelta,
        clock: Clock = utcnow,
        ttl: timedelta = DEFAULT_CACHE_TTL,
        client: Any = None,
    ) -> None:
        self._arn = secret_arn
        self._grace = grace
        self._clock = clock
        self._ttl = ttl
        self._client = client
        self._lock = threading.Lock()
        self._cached: SigningSecrets | None = None
        self._expires: datetime | None = None

    def load(self) -> SigningSecrets:
        now = self._clock()
        with self._lock:
            if self._cached is not None and self._expires is not None and now < self._expires:
                return self._cached
            try:
                fresh = self._read(now)
            except Exception as exc:
                if self._cached is None:
                    raise ConfigurationError(
                        "cannot read the Slack signing secret from Secrets Manager: "
                        f"{type(exc).__name__}",
                        code="secret_unreadable",
                    ) from exc
                log_event(
                    logger,
                    logging.WARNING,
                    "slack.signing_secret.refresh_failed",
                    error=type(exc).__name__,
                    error_class="transient",
                )
                self._expires = now + REFRESH_BACKOFF
                return self._cached
            self._cached, self._expires = fresh, now + self._ttl
            return fresh

    def _read(self, now: datetime) -> SigningSecrets:
        if self._client is None:
            from exec_assistant.aws import client

            self._client = client("secretsmanager")
        versions = self._client.list_secret_version_ids(SecretId=self._arn)["Versions"]
        by_stage = {stage: v for v in versions for stage in v.get("VersionStages", [])}
        current_version = by_stage.get("AWSCURRENT")
        if current_version is None:
            raise ConfigurationError("the signing secret has no AWSCURRENT version")
        current = self._value(current_version["VersionId"])
        rotated_at: datetime | None = current_version.get("CreatedDate")
        previous: str | None = None
        previous_version = by_stage.get("AWSPREVIOUS")
        if (
            previous_version is not None
            and rotated_at is not None
            and now < rotated_at + self._grace
        ):
            previous = self._value(previous_version["VersionId"])
        return SigningSecrets(current=current, previous=previous, rotated_at=rotated_at)

    def _value(self, version_id: str) -> str:
        response = self._client.get_secret_value(SecretId=self._arn, VersionId=version_id)
        value = str(response.get("SecretString") or "")
        register_secret(value)
        return value


def signing_secret_source(settings: SettingsModel, *, clock: Clock = utcnow) -> SigningSecretSource:
    """The source the settings call for.

    The environment if ``SLACK_SIGNING_SECRET`` is set, else Secrets Manager if
    ``SLACK_SIGNING_SECRET_SECRET_ARN`` is; ConfigurationError if neither.
    """
    direct = settings.slack_signing_secret
    if direct is not None and direct.get_secret_value():
        previous = settings.slack_signing_secret_previous
        previous_value = previous.get_secret_value() if previous is not None else ""
        if previous_value and settings.slack_signing_secret_rotated_at is None:
            raise ConfigurationError(
                "SLACK_SIGNING_SECRET_PREVIOUS needs SLACK_SIGNING_SECRET_ROTATED_AT (ISO time)",
                code="missing_setting",
            )
        register_secret(direct.get_secret_value())
        register_secret(previous_value)
        return StaticSigningSecrets(
            SigningSecrets(
                current=direct.get_secret_value(),
                previous=previous_value or None,
                rotated_at=settings.slack_signing_secret_rotated_at,
            )
        )
    if settings.slack_signing_secret_secret_arn:
        return SecretsManagerSigningSecrets(
            settings.slack_signing_secret_secret_arn,
            grace=timedelta(seconds=settings.slack_signing_secret_grace_seconds),
            clock=clock,
        )
    raise ConfigurationError(
        "SLACK_SIGNING_SECRET is not set (nor SLACK_SIGNING_SECRET_SECRET_ARN)",
        code="missing_setting",
    )
