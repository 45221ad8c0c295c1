"""One cold init in this fresh interpreter: ``python -m bench.cold_probe TARGET``.

Prints one JSON line: ``init_s`` (import + first-request setup, timed from inside, so the
interpreter's own start-up is left out for every target alike), the top-level packages loaded,
and every network attempt made (an audit hook on ``socket.connect`` / ``socket.getaddrinfo``),
plus ``error`` if the init raised. Only the standard library is imported before the clock starts.

Targets: ``slack_bot`` and ``prep_trigger`` (the handlers), ``slack_floor`` and
``trigger_floor`` (their unavoidable imports and clients; see :mod:`bench.cold`).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

network: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        network.append(f"connect {args[1]!r}")
    elif event == "socket.getaddrinfo":
        network.append(f"getaddrinfo {args[0]!r}:{args[1]!r}")


def slack_bot() -> None:
    from exec_assistant.interfaces import slack_bot

    slack_bot.slack_request_handler()


def prep_trigger() -> None:
    from exec_assistant.aws import client
    from exec_assistant.runtime import get_runtime
    from exec_assistant.workflows import prep_trigger_handler  # noqa: F401 - the import is timed

    get_runtime()
    # The store creates its DynamoDB client on its first call, which every event makes at once
    # (the claim), so the first request's setup includes it. (The Slack bot's first store call
    # comes after its response, see exec_assistant.interfaces.after_response.)
    client("dynamodb")


def _pydantic_floor() -> None:
    from pydantic import BaseModel

    class Floor(BaseModel):
        meeting_id: str
        user_id: str

    Floor(meeting_id="m", user_id="u")


def slack_floor() -> None:
    from slack_bolt import App
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler

    _pydantic_floor()
    app = App(
        token="xoxb-floor",
        signing_secret="floor-secret",
        token_verification_enabled=False,
        process_before_response=True,
    )
    SlackRequestHandler(app)


def trigger_floor() -> None:
    import boto3
    from botocore.config import Config
    from slack_sdk import WebClient

    _pydantic_floor()
    boto3.session.Session().client(
        "dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 3})
    )
    WebClient(token="xoxb-floor")


TARGETS = {
    "slack_bot": slack_bot,
    "prep_trigger": prep_trigger,
    "slack_floor": slack_floor,
    "trigger_floor": trigger_floor,
}


def main() -> None:
    target = TARGETS[sys.argv[1]]
    before = set(sys.modules)
    sys.addaudithook(_audit)
    error = None
    start = time.perf_counter()
    try:
        target()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - start
    loaded = sorted({name.split(".")[0] for name in set(sys.modules) - before})
    print(
        json.dumps({"init_s": elapsed, "packages": loaded, "network": network, "error": error}),
        flush=True,
    )


if __name__ == "__main__":
    main()
