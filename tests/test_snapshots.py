"""SnapStart runtime hooks: registered with ``snapshot_restore_py`` at import of the Slack bot's
handler module, and run here as the Lambda runtime runs them (before-snapshot hooks in reverse
order of registration, after-restore hooks in order) in a fresh interpreter with the deployed
settings. Two restored copies are simulated by forking after the snapshot hooks."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from exec_assistant import coldstart, snapshots

ROOT = Path(__file__).resolve().parent.parent

LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "exec-assistant-slack-bot-test",
    "_HANDLER": "exec_assistant.interfaces.slack_bot.lambda_handler",  # Lambda's entry point
    "ENVIRONMENT": "test",
    "EXEC_ASSISTANT_STORE": "dynamodb",
    "EVENT_BUS_NAME": "arn:aws:events:us-east-1:123456789012:event-bus/exec-assistant-test",
    "SCHEDULER_GROUP_NAME": "exec-assistant-test",
    "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/exec-assistant-scheduler-test",
    "SLACK_BOT_TOKEN": "xoxb-snapstart-test",
    "SLACK_SIGNING_SECRET": "snapstart-signing-secret",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: an AWS call would fail
    "AWS_EC2_METADATA_DISABLED": "true",
}

#: Runs in the child: import the handler module (Lambda's init), run the registered
#: before-snapshot hooks, then fork two "restored copies" that run the after-restore hooks and
#: answer a signed url_verification; prints one JSON line per process.
#: Both scripts start by recording every network connection the process attempts.
AUDIT = textwrap.dedent(
    """
    import json, os, random, sys, time
    network = []
    def audit(event, args):
        if event == "socket.connect":
            network.append(repr(args[1]))
    sys.addaudithook(audit)
    #: models a first request validates: deferred at import, built by the before-snapshot hooks
    DEFERRED = (
        "exec_assistant.models:EventEnvelope",
        "exec_assistant.models:Meeting",
        "exec_assistant.models:User",
        "exec_assistant.models:LedgerRecord",
        "exec_assistant.notifications.types:NotificationResult",
    )
    def unbuilt():
        import importlib
        models = [name.split(":") for name in DEFERRED]
        classes = {c: getattr(importlib.import_module(m), c) for m, c in models}
        return [name for name, model in classes.items() if not model.__pydantic_complete__]
    def emit(line):
        # one write(2) per line: the forked copies share this pipe, and a line written in one
        # syscall (under PIPE_BUF) is never interleaved with another process's
        os.write(1, (json.dumps(line) + "\\n").encode())
    """
)

SCRIPT = AUDIT + textwrap.dedent(
    """

    import snapshot_restore_py as srp
    from exec_assistant.interfaces import slack_bot
    from exec_assistant import aws
    from tests.slack.harness import Payloads, v2_event, LAMBDA_CONTEXT
    from tests.slack.signing import signed_headers

    registered = [f.__qualname__ for f, _, _ in srp.get_before_snapshot()]
    restored = [f.__qualname__ for f, _, _ in srp.get_after_restore()]
    deferred = unbuilt()
    from exec_assistant import coldstart
    gc_paused_at_init = coldstart.paused()
    for func, args, kwargs in reversed(srp.get_before_snapshot()):
        func(*args, **kwargs)
    emit({
        "phase": "snapshot",
        "before": registered,
        "after": restored,
        "app_built": slack_bot._ingress is not None,
        "aws_clients_kept": len(aws._clients),
        "unbuilt_before": deferred,
        "unbuilt_after": unbuilt(),
        "network": network,
        "gc_paused": [gc_paused_at_init, coldstart.paused()],
    })

    def restored_copy():
        for func, args, kwargs in srp.get_after_restore():
            func(*args, **kwargs)
        body = Payloads.url_verification("restored-challenge")
        secret, now = os.environ["SLACK_SIGNING_SECRET"], int(time.time())
        headers = signed_headers(secret, now, body.text, content_type=body.content_type)
        response = slack_bot.lambda_handler(v2_event(body, headers), LAMBDA_CONTEXT)
        emit({
            "phase": "restored",
            "random": random.random(),
            "status": response["statusCode"],
            "body": response["body"],
        })

    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            restored_copy()
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    """
)


def _run_in_lambda(
    script: str, **env_overrides: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``script`` in a fresh interpreter with the deployed settings; its snapshot line and
    the restored copies' lines."""
    lines = _json_lines(script, **env_overrides)
    snapshot = next(line for line in lines if line["phase"] == "snapshot")
    return snapshot, [line for line in lines if line["phase"] == "restored"]


def _json_lines(script: str, **env_overrides: str) -> list[dict[str, Any]]:
    """Run ``script`` in a fresh interpreter with the deployed settings; the JSON lines with a
    ``phase`` it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLACK_", "EXEC_"))}
    env |= LAMBDA_ENV | {"PYTHONPATH": str(ROOT)} | env_overrides
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if "phase" in line]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="simulating restored copies needs fork()")
def test_slack_bot_hooks_build_the_app_before_the_snapshot_and_refresh_each_copy() -> None:
    snapshot, copies = _run_in_lambda(SCRIPT)

    assert snapshot["before"] == ["before_snapshot"]
    assert snapshot["after"] == ["after_restore"]
    assert snapshot["app_built"] is True  # the Bolt app is in the snapshot
    assert snapshot["unbuilt_before"] and snapshot["unbuilt_after"] == []  # models built too
    assert snapshot["aws_clients_kept"] == 0  # no client (nor credentials) in the snapshot
    assert snapshot["network"] == []  # secrets as values: nothing left the process
    # the collector paused through init (issue 16's cold start), resumed before the snapshot
    assert snapshot["gc_paused"] == [True, False]

    assert len(copies) == 2
    assert all(c["status"] == 200 for c in copies)
    assert all(json.loads(c["body"]) == {"challenge": "restored-challenge"} for c in copies)
    # the random module was reseeded per copy (forked from one state, they would agree)
    assert copies[0]["random"] != copies[1]["random"]


def test_register_does_nothing_without_the_lambda_runtime_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import raises ImportError
    assert snapshots.register(before_snapshot=lambda: None) is False


def test_register_hands_the_hooks_to_the_runtime_library() -> None:
    import snapshot_restore_py

    calls: list[str] = []

    def before() -> None:
        calls.append("before")

    def after() -> None:
        calls.append("after")

    assert snapshots.register(before_snapshot=before, after_restore=after) is True
    registered = [f for f, _, _ in snapshot_restore_py.get_before_snapshot()]
    restored = [f for f, _, _ in snapshot_restore_py.get_after_restore()]
    assert registered[-1] is before and restored[-1] is after
    snapshot_restore_py.get_before_snapshot().pop()
    snapshot_restore_py.get_after_restore().pop()


def test_after_restore_replaces_the_aws_session_and_closes_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from exec_assistant import aws

    for name, value in LAMBDA_ENV.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    aws.reset_clients()
    try:
        aws.preload(("dynamodb",))
        first = aws.client("dynamodb")
        credentials = aws._session().get_credentials()
        closed: list[bool] = []
        monkeypatch.setattr(first, "close", lambda: closed.append(True))
        snapshots.refresh_process()
        second = aws.client("dynamodb")
        assert closed == [True]
        assert second is not first
        # the new session resolves credentials afresh (here from the environment again)
        assert aws._session().get_credentials() is not credentials
    finally:
        aws.reset_clients()


TRIGGER_SCRIPT = AUDIT + textwrap.dedent(
    """
    import snapshot_restore_py as srp
    from exec_assistant.workflows import prep_trigger_handler
    from exec_assistant import aws, runtime

    registered = [f.__qualname__ for f, _, _ in srp.get_before_snapshot()]
    restored = [f.__qualname__ for f, _, _ in srp.get_after_restore()]
    deferred = unbuilt()
    from exec_assistant import coldstart
    gc_paused_at_init = coldstart.paused()
    for func, args, kwargs in reversed(srp.get_before_snapshot()):
        func(*args, **kwargs)
    emit({
        "phase": "snapshot",
        "before": registered,
        "after": restored,
        "runtime_built": runtime._runtime is not None,
        "aws_clients_kept": len(aws._clients),
        "unbuilt_before": deferred,
        "unbuilt_after": unbuilt(),
        "network": network,
        "gc_paused": [gc_paused_at_init, coldstart.paused()],
    })
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            for func, args, kwargs in srp.get_after_restore():
                func(*args, **kwargs)
            emit({"phase": "restored", "random": random.random()})
            os._exit(0)
        os.waitpid(pid, 0)
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="simulating restored copies needs fork()")
def test_prep_trigger_hooks_build_the_runtime_before_the_snapshot_and_refresh_each_copy() -> None:
    snapshot, copies = _run_in_lambda(
        TRIGGER_SCRIPT,
        AWS_LAMBDA_FUNCTION_NAME="exec-assistant-prep-trigger-test",
        _HANDLER=TRIGGER_HANDLER,
    )
    assert snapshot["before"] == ["before_snapshot"]
    assert snapshot["after"] == ["after_restore"]
    assert snapshot["runtime_built"] is True  # store, channels, service: in the snapshot
    # deferred at import (a cold start builds only what its first event needs), built here
    assert len(snapshot["unbuilt_before"]) == 5  # EventEnvelope, Meeting, User, ...
    assert snapshot["unbuilt_after"] == []
    assert snapshot["aws_clients_kept"] == 0
    assert snapshot["network"] == []
    assert snapshot["gc_paused"] == [True, False]  # paused through init, resumed
    assert len(copies) == 2 and copies[0]["random"] != copies[1]["random"]


#: Lambda's init without SnapStart: count the collections while the prep trigger's handler
#: module is imported, then serve a first (invalid) event; the collector pause of
#: :mod:`exec_assistant.coldstart` must cover the import and end with the invocation.
COLD_START_SCRIPT = textwrap.dedent(
    """
    import gc, json
    collections = []
    gc.callbacks.append(lambda phase, info: phase == "stop" and collections.append(info))
    from exec_assistant import coldstart  # the package's import pauses (on Lambda)
    collections.clear()  # those of the interpreter's own start-up (typing, threading)
    from exec_assistant.workflows import prep_trigger_handler
    during_import, threshold, paused = len(collections), gc.get_threshold(), coldstart.paused()
    answer = prep_trigger_handler.lambda_handler({"id": "not an event"}, None)
    print(json.dumps({
        "phase": "init",
        "during_import": during_import,
        "threshold_paused": threshold[0],
        "paused": paused,
        "answer": answer["action"],
        "paused_after": coldstart.paused(),
        "threshold_after": gc.get_threshold()[0],
        "frozen": gc.get_freeze_count(),
    }))
    """
)


TRIGGER_HANDLER = "exec_assistant.workflows.prep_trigger_handler.lambda_handler"


@pytest.mark.parametrize(
    ("on_lambda", "handler"),
    [(True, TRIGGER_HANDLER), (False, TRIGGER_HANDLER), (False, "app.lambda_handler")],
    ids=["our-handler", "not-lambda", "someone-elses-handler"],
)
def test_no_collection_while_a_handler_module_is_imported_on_lambda(
    on_lambda: bool, handler: str
) -> None:
    """Paused only where Lambda runs one of ours: a developer's own function importing the
    library (another ``_HANDLER``) collects as usual."""
    name = "exec-assistant-prep-trigger-test" if on_lambda else ""  # "": not on Lambda
    if handler != TRIGGER_HANDLER:
        name = "someone-elses-function"
    (line,) = _json_lines(COLD_START_SCRIPT, AWS_LAMBDA_FUNCTION_NAME=name, _HANDLER=handler)
    default = gc.get_threshold()[0]
    assert line["answer"] == "rejected"
    if on_lambda:
        assert line["paused"] and line["threshold_paused"] == coldstart.PAUSED_THRESHOLD
        assert line["during_import"] == 0  # pydantic, the models, the SDKs: nothing collected
        assert not line["paused_after"] and line["threshold_after"] == default
        assert line["frozen"] > 10_000  # the modules and models alive after init
    else:
        assert not line["paused"] and line["threshold_paused"] == default
        assert line["during_import"] > 0  # the same import collects without the pause
        assert line["frozen"] == 0
