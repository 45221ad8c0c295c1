"""An optional brief writer on Amazon Bedrock's Converse API (boto3 ``bedrock-runtime``).

Only used when configured (``BRIEF_WRITER=bedrock`` and ``BEDROCK_MODEL_ID``): otherwise nothing
about a meeting leaves the deployment. It sends the same material the built-in writer uses (the
calendar facts, the executive's answers, last time's prep and open items, cut to
``max_input_chars``) and asks for talking points as JSON, within a token budget (``maxTokens``)
and a time budget (the client's connect and read timeouts, no retries). On *any* failure —
throttling, a timeout, an error, output that is not the JSON asked for — it logs the reason with
its error class and returns the built-in writer's brief instead: a brief is never lost to the model.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from exec_assistant.config import SettingsModel
from exec_assistant.errors import ConfigurationError
from exec_assistant.logs import log_event
from exec_assistant.models import ErrorClass
from exec_assistant.workflows.brief import (
    MAX_TALKING_POINTS,
    Brief,
    BriefMaterial,
    BriefWriter,
    BuiltinWriter,
)

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You help an executive prepare for a meeting. From the JSON material you are given, write "
    "concise talking points: what to raise, decide or follow up on. Answer with JSON only, exactly "
    '{"talking_points": ["..."]}, at most 8 items, each under 200 characters. Use only the '
    "material; do not invent facts."
)
_TRANSIENT = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"}
)


def brief_writer_for(settings: SettingsModel) -> BriefWriter:
    """The configured writer: built-in unless ``BRIEF_WRITER=bedrock`` (with a model id)."""
    if settings.brief_writer != "bedrock":
        return BuiltinWriter()
    if not settings.bedrock_model_id:
        raise ConfigurationError(
            "BRIEF_WRITER=bedrock needs BEDROCK_MODEL_ID", code="missing_setting"
        )
    return BedrockBriefWriter(
        settings.bedrock_model_id,
        max_tokens=settings.bedrock_max_tokens,
        timeout_seconds=settings.bedrock_timeout_seconds,
        region=settings.bedrock_region,
    )


class MalformedOutput(ValueError):
    """The model answered, but not with the JSON asked for."""


class BedrockBriefWriter:
    def __init__(
        self,
        model_id: str,
        *,
        max_tokens: int = 800,
        timeout_seconds: float = 8.0,
        max_input_chars: int = 12_000,
        region: str | None = None,
        client: Any = None,
        fallback: BuiltinWriter | None = None,
    ) -> None:
        self.model_id = model_id
        self.name = f"bedrock:{model_id}"
        self.max_tokens = max_tokens
        self.timeout_seconds = timeout_seconds
        self.max_input_chars = max_input_chars
        self.region = region
        self._client = client
        self.fallback = fallback or BuiltinWriter()

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=min(2.0, self.timeout_seconds),
                read_timeout=self.timeout_seconds,
                retries={"mode": "standard", "total_max_attempts": 1},  # the budget has no room
            )
            self._client = boto3.session.Session().client(
                "bedrock-runtime", region_name=self.region, config=config
            )
        return self._client

    def write(self, material: BriefMaterial) -> Brief:
        base = self.fallback.write(material)
        try:
            points = self._talking_points(material)
        except Exception as exc:  # noqa: BLE001 - any failure falls back, classified and logged
            error_class, code = _classify(exc)
            log_event(
                logger,
                logging.WARNING,
                "brief.writer_fallback",
                writer=self.name,
                error_class=error_class.value,
                error_code=code,
                error=str(exc)[:300],
            )
            return base
        log_event(logger, logging.INFO, "brief.written", writer=self.name, points=len(points))
        return base.model_copy(update={"talking_points": points, "writer": self.name})

    def _talking_points(self, material: BriefMaterial) -> list[str]:
        payload = material.model_dump_json(exclude_none=True)[: self.max_input_chars]
        response = self.client.converse(
            modelId=self.model_id,
            system=[{"text": SYSTEM_PROMPT}],
            messages=[{"role": "user", "content": [{"text": payload}]}],
            inferenceConfig={"maxTokens": self.max_tokens, "temperature": 0.2},
        )
        return parse_talking_points(response)


def parse_talking_points(response: Any) -> list[str]:
    """The talking points of a Converse response, or :class:`MalformedOutput`."""
    try:
        content = response["output"]["message"]["content"]
        text = "".join(part.get("text", "") for part in content).strip()
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedOutput("no text in the Converse output") from exc
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MalformedOutput("the output is not JSON") from exc
    points = data.get("talking_points") if isinstance(data, dict) else None
    if not isinstance(points, list) or not points or not all(isinstance(p, str) for p in points):
        raise MalformedOutput("no talking_points list of strings in the output")
    return [" ".join(p.split())[:300] for p in points if p.strip()][:MAX_TALKING_POINTS]


def _classify(exc: Exception) -> tuple[ErrorClass, str]:
    from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

    if isinstance(exc, MalformedOutput):
        return ErrorClass.PERMANENT, "malformed_output"
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError | TimeoutError):
        return ErrorClass.TRANSIENT, "timeout"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return (ErrorClass.TRANSIENT if code in _TRANSIENT else ErrorClass.PERMANENT), code
    return ErrorClass.UNKNOWN, type(exc).__name__
