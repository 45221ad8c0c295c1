"""The process under test: build the runtime as a Lambda instance would, handle one envelope.

:func:`run_case` is the target of a process started from a forkserver that preloaded this module
(see ``harness.py``), so each case costs a fork, not an interpreter start. The process builds
its runtime from the environment in its :class:`WorkerSpec` (Settings, the real store, the real
channels against the loopback fakes), wraps the store in a
:class:`~tests.faults.stores.FaultyStore` that SIGKILLs the process at the spec's point, and
calls the Lambda entry point with a :class:`~tests.faults.sim.FakeLambdaContext`. With
``enforce_timeout`` a watchdog SIGKILLs it when that context's time is up, as Lambda does.

Exit codes: 0 returned, :data:`EXIT_TRANSIENT` raised ``TransientError`` (Lambda retries), 70
raised anything else; -9 when killed. The result or traceback goes to ``result_path``; the
process's own log lines (stdout/stderr) to ``log_path``.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import traceback
from dataclasses import dataclass
from types import ModuleType
from typing import Any

# Preloaded by the forkserver: everything a case needs, imported once.
import boto3  # noqa: F401
import slack_sdk  # noqa: F401
import twilio.rest  # noqa: F401

from exec_assistant.config import Settings, get_settings
from exec_assistant.errors import TransientError
from exec_assistant.events.base import EventBus
from exec_assistant.models import Channel
from exec_assistant.notifications.channels.slack import SlackChannel
from exec_assistant.notifications.channels.sms import SmsChannel
from exec_assistant.notifications.types import NotificationChannel
from exec_assistant.runtime import Clock, Runtime, build_runtime
from exec_assistant.store import open_store
from exec_assistant.store.base import Store
from exec_assistant.workflows import prep_trigger_handler
from tests.faults.sim import CapturingBus, FakeLambdaContext, RecordingScheduler, SimClock
from tests.faults.stores import FaultyStore, StorePoint, as_store

EXIT_RETURNED = 0
EXIT_TRANSIENT = 75
EXIT_ERROR = 70


@dataclass(frozen=True)
class WorkerSpec:
    env: dict[str, str]
    clock: tuple[str, float]  # SimClock.spec()
    envelope: dict[str, Any]
    result_path: str
    log_path: str
    timeout_ms: int = 60_000
    store_point: StorePoint | None = None
    enforce_timeout: bool = False
    channel_timeout: int | None = None


def short_timeout_channels(settings: Settings, timeout: int) -> dict[Channel, NotificationChannel]:
    """Slack and SMS as ``build_channels`` makes them, but with client timeouts of ``timeout``
    s and no SDK retries, so a channel's worst case is a few seconds (the slow-provider cases:
    a deadline of a few seconds fits a send, a hang outlives the client's timeout)."""
    return {
        Channel.SLACK: SlackChannel(
            token=settings.require_secret("slack_bot_token"),
            base_url=settings.slack_api_url,
            timeout=timeout,
            max_retries=0,
        ),
        Channel.SMS: SmsChannel(
            account_sid=settings.require_secret("twilio_account_sid"),
            auth_token=settings.require_secret("twilio_auth_token"),
            from_number=settings.require_secret("twilio_from_number"),
            api_url=settings.twilio_api_url,
            timeout=timeout,
            max_retries=0,
        ),
    }


def build_test_runtime(
    settings: Settings,
    *,
    store: Store,
    clock: Clock,
    bus: EventBus | None = None,
    channel_timeout: int | None = None,
) -> Runtime:
    """The real composition root; only the bus and scheduler are the harness's (see sim.py)."""
    channels = short_timeout_channels(settings, channel_timeout) if channel_timeout else None
    return build_runtime(
        settings,
        store=store,
        clock=clock,
        bus=bus or CapturingBus(),
        scheduler=RecordingScheduler(),
        channels=channels,
    )


def entry_lookups() -> list[ModuleType]:
    """Where ``lambda_handler`` may look its runtime up: the composition root's
    ``get_runtime``, and the handler module's own binding when it imports the name."""
    import exec_assistant.runtime as root

    return [m for m in (root, prep_trigger_handler) if hasattr(m, "get_runtime")]


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def run_case(spec: WorkerSpec, gate: Any = None) -> None:
    """Handle ``spec.envelope`` once in this process, then ``os._exit`` (see module docstring).
    ``gate``: an event to wait for once the runtime is built (workers released together)."""
    log = os.open(spec.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(spec.env)
    get_settings.cache_clear()
    settings = Settings()
    store: Store = open_store(settings)
    if spec.store_point is not None:
        store = as_store(FaultyStore(store, spec.store_point, _kill_self))
    runtime = build_test_runtime(
        settings,
        store=store,
        clock=SimClock.from_spec(spec.clock),
        channel_timeout=spec.channel_timeout,
    )
    for module in entry_lookups():  # the Lambda entry builds nothing: it gets this runtime
        setattr(module, "get_runtime", lambda: runtime)  # noqa: B010
    if gate is not None and not gate.wait(60):
        os._exit(EXIT_ERROR)
    context = FakeLambdaContext(spec.timeout_ms)
    if spec.enforce_timeout:  # Lambda ends an invocation that outlives its timeout
        watchdog = threading.Timer(spec.timeout_ms / 1000, _kill_self)
        watchdog.daemon = True
        watchdog.start()
    outcome: dict[str, Any]
    try:
        result = prep_trigger_handler.lambda_handler(spec.envelope, context)
    except TransientError as exc:
        outcome, code = {"raised": "TransientError", "message": str(exc)}, EXIT_TRANSIENT
    except BaseException as exc:
        outcome = {"raised": type(exc).__name__, "traceback": traceback.format_exc()}
        code = EXIT_ERROR
    else:
        outcome, code = {"returned": result}, EXIT_RETURNED
    with open(spec.result_path, "w", encoding="utf-8") as out:
        json.dump(outcome, out, default=str)
    os._exit(code)
