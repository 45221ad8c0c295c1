"""The settings' fields, declared once as a plain pydantic model, and secret resolution.

:class:`SettingsModel` holds every field, its validation and the secret helpers. Two readers fill
it from the environment (see :mod:`exec_assistant.config` for why there are two):
:class:`exec_assistant.config.Settings` (pydantic-settings: the CLI, ``serve``, library users)
and :func:`exec_assistant.config.read_environment` (the Lambda handlers' cold path).

Every secret is a ``SecretStr``: it never appears in a repr, a log line or an error message.
A secret may be given directly (``SLACK_BOT_TOKEN``) or as a Secrets Manager ARN
(``SLACK_BOT_TOKEN_SECRET_ARN``), which is how the Lambdas get it; the value is fetched on first use
and cached for the life of the process.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, field_validator

from exec_assistant.errors import ConfigurationError, TransientError
from exec_assistant.logs import parse_log_level

SecretName = Literal[
    "slack_bot_token",
    "slack_signing_secret",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_from_number",
    "action_link_secret",
]

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class SettingsModel(BaseModel):
    """Every setting, declared once. Environment variable names are the field names in upper case
    (a contract: DESIGN.md); :class:`exec_assistant.config.Settings` (pydantic-settings) and the
    Lambda reader (:func:`exec_assistant.config.read_environment`) both fill these fields."""

    # title: a validation error reads "... for Settings" whichever reader found it (the CLI
    # tells configuration errors by that title); validate_default as pydantic-settings does.
    model_config = ConfigDict(title="Settings", extra="ignore", validate_default=True)

    environment: str = Field(
        default="dev",
        description="Deployment environment (dev, prod, …); names the tables and resources.",
    )
    exec_assistant_store: str | None = Field(
        default=None,
        description="Where data lives: sqlite:////absolute/path.db (four slashes: an absolute "
        "path), sqlite:///~/path.db, or dynamodb. A relative path is refused. Default: SQLite in "
        "the user data directory, DynamoDB on Lambda.",
    )
    users_table_name: str | None = Field(
        default=None, description="DynamoDB users table (default exec-assistant-users-{env})."
    )
    meetings_table_name: str | None = Field(
        default=None, description="DynamoDB meetings table (default exec-assistant-meetings-{env})."
    )
    chat_sessions_table_name: str | None = Field(
        default=None,
        description="DynamoDB chat sessions table (default exec-assistant-chat-sessions-{env}).",
    )
    notifications_table_name: str | None = Field(
        default=None,
        description="DynamoDB notification ledger (default exec-assistant-notifications-{env}).",
    )
    feeds_table_name: str | None = Field(
        default=None, description="DynamoDB calendar feeds (default exec-assistant-feeds-{env})."
    )

    slack_bot_token: SecretStr | None = Field(
        default=None, description="Slack bot token (xoxb-…). Unset: the Slack channel is off."
    )
    slack_bot_token_secret_arn: str | None = Field(
        default=None, description="Secrets Manager ARN holding SLACK_BOT_TOKEN (the Lambdas' way)."
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="Slack request signing secret; required to serve Slack over HTTP."
    )
    slack_signing_secret_secret_arn: str | None = Field(
        default=None, description="Secrets Manager ARN holding SLACK_SIGNING_SECRET."
    )
    slack_signing_secret_grace_seconds: int = Field(
        default=3600,
        ge=0,
        description="How long the previous signing secret is still accepted after a rotation.",
    )
    slack_signing_secret_previous: SecretStr | None = Field(
        default=None, description="The signing secret before the last rotation (local runtime)."
    )
    slack_signing_secret_rotated_at: AwareDatetime | None = Field(
        default=None, description="When SLACK_SIGNING_SECRET replaced the previous one (ISO time)."
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        description="App-level token (xapp-…, connections:write): `serve` uses Socket Mode.",
    )
    slack_team_id: str | None = Field(
        default=None, description="Refuse requests from any other Slack workspace."
    )
    slack_api_url: str = Field(
        default=DEFAULT_SLACK_API_URL,
        description="Slack Web API base URL (GovSlack: https://slack-gov.com/api/).",
    )
    post_response_dlq_url: str | None = Field(
        default=None,
        description="SQS queue for Slack listener work that failed after its acknowledgement.",
    )

    twilio_account_sid: SecretStr | None = Field(
        default=None, description="Twilio account SID. Unset: the SMS channel is off."
    )
    twilio_account_sid_secret_arn: str | None = Field(
        default=None, description="Secrets Manager ARN holding TWILIO_ACCOUNT_SID."
    )
    twilio_auth_token: SecretStr | None = Field(default=None, description="Twilio auth token.")
    twilio_auth_token_secret_arn: str | None = Field(
        default=None, description="Secrets Manager ARN holding TWILIO_AUTH_TOKEN."
    )
    twilio_from_number: SecretStr | None = Field(
        default=None, description="The Twilio number SMS are sent from (E.164)."
    )
    twilio_from_number_secret_arn: str | None = Field(
        default=None, description="Secrets Manager ARN holding TWILIO_FROM_NUMBER."
    )
    twilio_api_url: str | None = Field(
        default=None, description="Twilio API base URL (default: Twilio's)."
    )

    public_base_url: str | None = Field(
        default=None,
        description="The public address of the webhooks and action links "
        "(https://…execute-api….amazonaws.com): Twilio signs it, email links point to it.",
    )

    action_link_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs the email's Start Prep / Remind Later links (32+ random "
        "characters). Unset (or no PUBLIC_BASE_URL): emails carry no links.",
    )
    action_link_secret_secret_arn: str | None = Field(
        default=None, description="Secrets Manager ARN holding ACTION_LINK_SECRET."
    )

    ses_from_email: str | None = Field(
        default=None, description="Verified SES sender address. Unset: the email channel is off."
    )
    ses_configuration_set: str | None = Field(
        default=None,
        description="SES configuration set the emails are sent through; its EventBridge event "
        "destination reports bounces, complaints and deliveries. Unset: no email receipts.",
    )

    event_bus_name: str = Field(
        default="default", description="EventBridge bus MeetingPrepRequired goes to (AWS)."
    )
    scheduler_group_name: str | None = Field(
        default=None,
        description="EventBridge Scheduler group for reminders. Unset: the local scheduler "
        "(embedded) or no reminders (AWS).",
    )
    scheduler_role_arn: str | None = Field(
        default=None, description="Role EventBridge Scheduler assumes (with SCHEDULER_GROUP_NAME)."
    )
    scheduler_target_arn: str | None = Field(
        default=None, description="ARN of the event bus schedules target (defaults from the bus)."
    )
    scheduler_dlq_arn: str | None = Field(
        default=None, description="SQS queue for schedules EventBridge Scheduler cannot deliver."
    )

    notification_lease_seconds: float = Field(
        default=120.0, gt=0, description="Ledger lease of one notification send, in seconds."
    )
    calendar_monitor_interval_seconds: float = Field(
        default=60.0, gt=0, description="Period of the local calendar monitor loop, in seconds."
    )
    log_level: str = Field(
        default="INFO", description="Log level of the JSON log lines (DEBUG, INFO, WARNING, …)."
    )

    # prep brief (docs/brief.md): nothing leaves the deployment unless BRIEF_WRITER=bedrock
    meeting_types_file: Path | None = Field(
        default=None, description="TOML of meeting types (rules, lead times, questions)."
    )
    brief_writer: Literal["builtin", "bedrock"] = Field(
        default="builtin",
        description="Who writes the prep brief's talking points: builtin (nothing leaves the "
        "deployment) or bedrock (Amazon Bedrock Converse; falls back to builtin on any error).",
    )
    bedrock_model_id: str | None = Field(
        default=None, description="Bedrock model or inference profile id (BRIEF_WRITER=bedrock)."
    )
    bedrock_region: str | None = Field(default=None, description="Bedrock's region (SDK default).")
    bedrock_max_tokens: int = Field(
        default=800, ge=50, le=4096, description="Token budget of the Bedrock answer (maxTokens)."
    )
    bedrock_timeout_seconds: float = Field(
        default=8.0, gt=0, le=60, description="Time budget of one Bedrock call (no retry)."
    )

    @field_validator("exec_assistant_store")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        # ConfigurationError, not ValueError: pydantic lets it through, so the message (with the
        # variable's own name) reaches the user as it is written here.
        if not value or value == "dynamodb":
            return value or None
        if not value.startswith("sqlite:///"):
            raise ConfigurationError(
                f"EXEC_ASSISTANT_STORE={value!r}: use sqlite:////absolute/path/file.db, "
                "sqlite:///~/path/file.db or dynamodb",
                code="bad_store_url",
            )
        path = value.removeprefix("sqlite:///")
        if not path:
            raise ConfigurationError(
                "EXEC_ASSISTANT_STORE=sqlite:/// needs a file path", code="bad_store_url"
            )
        try:
            expanded = Path(path).expanduser()
        except RuntimeError:  # ~name of a user this machine does not know
            raise ConfigurationError(
                f"EXEC_ASSISTANT_STORE={value!r}: cannot expand {path.split('/')[0]!r}",
                code="bad_store_url",
            ) from None
        if not expanded.is_absolute():
            raise ConfigurationError(
                f"EXEC_ASSISTANT_STORE={value!r} is a path relative to the working directory "
                f"({path}), so each directory would get its own database; write "
                f"sqlite:////{path} for /{path}, or sqlite:///{Path.cwd() / path} for this "
                "directory's file",
                code="bad_store_url",
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        try:
            return parse_log_level(value)
        except ValueError as exc:
            raise ConfigurationError(f"LOG_LEVEL: {exc}", code="bad_log_level") from None

    def table_name(
        self, table: Literal["users", "meetings", "chat_sessions", "notifications"]
    ) -> str:
        """Configured table name, or the ``exec-assistant-{table}-{environment}`` convention."""
        explicit: str | None = getattr(self, f"{table}_table_name")
        return explicit or f"exec-assistant-{table.replace('_', '-')}-{self.environment}"

    def secret(self, name: SecretName) -> str | None:
        """The secret's value from the environment or Secrets Manager; ``None`` if unset."""
        direct: SecretStr | None = getattr(self, name)
        if direct is not None and direct.get_secret_value():
            return direct.get_secret_value()
        arn: str | None = getattr(self, f"{name}_secret_arn")
        if arn:
            return _fetch_secret(arn, name)
        return None

    def require_secret(self, name: SecretName) -> str:
        value = self.secret(name)
        if not value:
            raise ConfigurationError(
                f"{name.upper()} is not set (nor {name.upper()}_SECRET_ARN)", code="missing_setting"
            )
        return value

    def has_secret(self, name: SecretName) -> bool:
        direct: SecretStr | None = getattr(self, name)
        return bool((direct and direct.get_secret_value()) or getattr(self, f"{name}_secret_arn"))


#: Secrets Manager errors worth retrying later (the secret exists; the service is busy).
_TRANSIENT_SECRET_ERRORS = frozenset(
    {"ThrottlingException", "InternalServiceError", "InternalServiceErrorException"}
)
_secret_cache: dict[str, str] = {}
_secret_lock = threading.Lock()


def _fetch_secret(arn: str, name: str) -> str:
    with _secret_lock:
        if arn in _secret_cache:
            return _secret_cache[arn]
    from botocore.exceptions import BotoCoreError, ClientError

    from exec_assistant.aws import client

    try:
        response: dict[str, Any] = dict(client("secretsmanager").get_secret_value(SecretId=arn))
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _TRANSIENT_SECRET_ERRORS or status >= 500:
            raise TransientError(
                f"Secrets Manager unavailable reading {name}: {code}", code="secret_unavailable"
            ) from exc
        raise ConfigurationError(
            f"cannot read {name} from Secrets Manager: {code or type(exc).__name__}",
            code="secret_unreadable",
        ) from exc
    except BotoCoreError as exc:  # endpoint unreachable, timeouts: nothing was read
        raise TransientError(
            f"Secrets Manager unreachable reading {name}: {type(exc).__name__}",
            code="secret_unavailable",
        ) from exc
    value = str(response.get("SecretString") or "")
    with _secret_lock:
        _secret_cache[arn] = value
    return value


def clear_secret_cache() -> None:
    with _secret_lock:
        _secret_cache.clear()
