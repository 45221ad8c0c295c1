"""Lambda SnapStart: the runtime hooks, registered with AWS's ``snapshot-restore-py``.

With SnapStart (``infra/``: published versions behind the ``live`` alias) Lambda runs a function's
init once, when a version is published, snapshots the microVM's memory and disk, and starts later
execution environments from that snapshot. So:

* **before the snapshot**, do what the first request would otherwise do (import modules, build
  the Bolt app, load botocore's data) — it is then done once per published version instead of
  on every cold start; nothing here talks to the network except what init did anyway;
* **after each restore**, refresh what must not be shared between the copies started from one
  snapshot: the ``random`` module's state (botocore's retry jitter), AWS credentials resolved
  during init and HTTP connections opened then (:func:`exec_assistant.aws.after_restore`).

``snapshot_restore_py`` ships with Lambda's managed Python runtimes (3.12+), not in the bundle:
it is imported guardedly, and without it (locally, tests, other platforms) :func:`register` does
nothing. Lambda runs before-snapshot hooks in reverse order of registration and after-restore
hooks in order; only hooks registered during init (module import) run. Restore plus the
after-restore hooks must finish within 10 s, the init of a snapshot within 15 min.

The post-response extension (:mod:`exec_assistant.interfaces.after_response`) registers with the
Extensions API during init, so its registration and its pending ``event/next`` (a loopback
connection to the runtime API inside the microVM) are in the snapshot; Lambda supports
extensions under SnapStart (its documented limits are provisioned concurrency, EFS and ephemeral
storage above 512 MB). If that connection did not survive a restore, the extension logs
``slack.extension_api_failed`` and asks for the next event on a new connection; if the
Extensions API refused it, the work would run before each response (never lost).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from exec_assistant import aws, coldstart
from exec_assistant.logs import log_event

logger = logging.getLogger(__name__)

Hook = Callable[[], None]


def register(*, before_snapshot: Hook | None = None, after_restore: Hook | None = None) -> bool:
    """Register the hooks with the Lambda runtime; ``False`` (nothing registered) where
    ``snapshot_restore_py`` is not installed, i.e. anywhere but a managed Lambda runtime."""
    try:
        import snapshot_restore_py
    except ImportError:
        return False
    if before_snapshot is not None:
        snapshot_restore_py.register_before_snapshot(before_snapshot)
    if after_restore is not None:
        snapshot_restore_py.register_after_restore(after_restore)
    return True


def warm_aws(services: tuple[str, ...]) -> None:
    """Before the snapshot: import boto3 and do once what creating these ``services``' clients
    costs (:func:`exec_assistant.aws.preload`); no client, credentials or connection is kept."""
    aws.preload(services)


def build_models() -> list[str]:
    """Before the snapshot: build every pydantic model of this package imported so far. Models
    on a cold start's path are declared with ``defer_build`` (issue 16: a cold start builds only
    the ones its first request validates); a snapshot should hold them all built. Returns the
    models it built."""
    from pydantic import BaseModel

    built = []
    pending = list(BaseModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.__module__.startswith("exec_assistant") and not model.__pydantic_complete__:
            model.model_rebuild()
            built.append(f"{model.__module__}.{model.__qualname__}")
    return built


def seal() -> None:
    """The last step of every before-snapshot hook: build the models imported so far
    (:func:`build_models`), then let the collector run again, freezing what is alive
    (:func:`exec_assistant.coldstart.resume`), so the snapshot holds both."""
    build_models()
    coldstart.resume()


def refresh_process() -> None:
    """After a restore: what no two restored copies may share (see the module docstring)."""
    random.seed()  # from os.urandom: each copy its own sequence
    aws.after_restore()
    log_event(logger, logging.INFO, "snapstart.restored")
