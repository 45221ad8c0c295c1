"""The fault-injection harness: one prep cycle under a fault, then Lambda's retries and the sweep.

A :class:`Harness` holds one meeting in its prep window, its owner (Slack and SMS), the store
(SQLite file, or DynamoDB on moto behind :class:`~tests.faults.dynamo_proxy.DynamoProxy`), the
loopback fakes on the harness's :class:`~tests.faults.sim.SimClock`, and a journal of every
invocation. A case:

1. runs the first invocation under a fault — in a worker process (:meth:`Harness.first_in_worker`,
   which a :class:`~tests.faults.stores.StorePoint` or a fake's hook SIGKILLs) or in this process
   (:meth:`Harness.first_in_process`, e.g. with a store write's answer lost);
2. replays what AWS does next (:meth:`Harness.recover`): a failed asynchronous invocation is
   retried about 1 minute later and again 2 minutes after that (NOTES.md), each retry a fresh
   runtime ("another Lambda instance") on the jumped clock, through ``lambda_handler`` with a
   fake context; then the recovery sweep (``exec_assistant.workflows.recovery.sweep``) runs every
   5 minutes and what it republishes is delivered the same way, until the cycle settles (3
   passes at most) — plus one last sweep, which must republish nothing;
3. checks what the executive sees (:meth:`Harness.assert_invariant`): exactly one notification
   (Slack messages the fake posted in the DM + SMS the fake created), the ledger record
   DELIVERED, the meeting PREP_SCHEDULED, no invocation that raised anything but
   ``TransientError``, and one ``prep_trigger.<action>`` line per in-process invocation
   (``prep_trigger.retryable`` with the event id, meeting id and error class when it raised).

The starting point (settings, the executive, the meeting) is in ``world.py``.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exec_assistant.config import Settings, get_settings
from exec_assistant.errors import TransientError
from exec_assistant.events.base import BusEvent
from exec_assistant.models import LedgerRecord, LedgerState, Meeting, MeetingStatus
from exec_assistant.store import open_store
from exec_assistant.store.base import Store
from exec_assistant.workflows import prep_trigger_handler
from tests.fakes._server import HookPoint
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.faults.dynamo_proxy import DynamoProxy
from tests.faults.launch import WorkerHandle, WorkerOutcome, run_workers
from tests.faults.sim import (
    CapturingBus,
    DecisionLines,
    FakeLambdaContext,
    SimClock,
    envelope,
    envelope_of,
)
from tests.faults.stores import StorePoint
from tests.faults.worker import EXIT_TRANSIENT, WorkerSpec, build_test_runtime, entry_lookups
from tests.faults.world import PHONE, SLACK_USER, T0, TWILIO_TOKEN, deployment_env, seed

#: Lambda's asynchronous retries after a function error: ~1 min, then ~2 min after that.
RETRY_DELAYS = (60.0, 120.0)
SWEEP_INTERVAL = 300.0
SWEEP_PASSES = 3
LAMBDA_TIMEOUT_MS = 60_000


class Harness:
    """One meeting, one user, one store, the fakes, a clock and a journal (module docstring)."""

    def __init__(
        self,
        *,
        backend: str,
        slack: FakeSlackAPI,
        twilio: FakeTwilioAPI,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        proxy: DynamoProxy | None = None,
    ) -> None:
        self.backend = backend
        self.slack = slack
        self.twilio = twilio
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.proxy = proxy
        self.clock = SimClock(T0)
        slack.clock = self.clock
        twilio.clock = self.clock
        twilio.auth_token = TWILIO_TOKEN
        self.journal: list[str] = []
        self.unexpected: list[str] = []
        self.sweep_errors: list[str] = []
        self.log_problems: list[str] = []  # invocations without exactly one decision line
        self.republished = 0  # events the sweeps (before the final one) republished
        self.final_sweep: list[BusEvent] | None = None
        self._cases = 0
        self._hook: tuple[FakeSlackAPI | FakeTwilioAPI, str, HookPoint] | None = None
        env = deployment_env(
            backend,
            slack_url=slack.url,
            twilio_url=twilio.url,
            sqlite_path=tmp_path / "faults.db",
            dynamodb_url=proxy.url if proxy is not None else None,
        )
        self.env = env
        # Ids of their own: on DynamoDB the module's cases share one set of tables.
        suffix = uuid.uuid4().hex[:12]
        self.user_id, self.meeting_id = f"usr-{suffix}", f"mtg-{suffix}"
        self.key = f"{self.meeting_id}#prep"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        from exec_assistant.aws import reset_clients

        reset_clients()
        self.settings = Settings()
        self.envelope = envelope(
            {"meeting_id": self.meeting_id, "user_id": self.user_id},
            at=T0,
            event_id=f"evt-{suffix}",
        )
        self._seed()

    # setup -----------------------------------------------------------------------------------

    def open_store(self) -> Store:
        return open_store(self.settings)

    def _seed(self) -> None:
        store = self.open_store()
        try:
            seed(store, user_id=self.user_id, meeting_id=self.meeting_id)
        finally:
            store.close()

    def no_escalation_target(self) -> None:
        """The executive has no phone: nothing can ever be escalated to after Slack, so the
        meeting's write rides on the ledger's DELIVERED finish (``meeting_mark``)."""
        store = self.open_store()
        try:
            user = store.get_user(self.user_id)
            assert user is not None
            store.put_user(user.model_copy(update={"phone": None}))
        finally:
            store.close()

    def slack_down_for_good(self) -> None:
        """Slack refuses every post (permanent): SMS is the channel that delivers."""
        self.slack.fail_next("chat.postMessage", error="channel_not_found", times=50)

    # the first invocation ---------------------------------------------------------------------

    def kill_worker_at(
        self, fake: FakeSlackAPI | FakeTwilioAPI, route: str, when: HookPoint
    ) -> None:
        """Arm ``fake`` to SIGKILL the next worker when ``route``'s request is at ``when``."""
        self._hook = (fake, route, when)

    def first_in_worker(
        self,
        *,
        store_point: StorePoint | None = None,
        timeout_ms: int = LAMBDA_TIMEOUT_MS,
        enforce_timeout: bool = False,
        channel_timeout: int | None = None,
        label: str = "t+0 worker",
    ) -> int:
        """Run an invocation (the first, unless ``label`` says otherwise) in a worker process on
        the harness's clock as it is now; returns its exit code (-9: killed)."""
        handle = WorkerHandle()
        if self._hook is not None:
            fake, route, when = self._hook
            fake.on(route, when, lambda request: handle.kill())
            self._hook = None
        spec = self._spec(store_point, timeout_ms, enforce_timeout, channel_timeout)
        [outcome] = run_workers([spec], handle=handle)
        self._journal_worker(f"{label} ({store_point or 'no store point'})", outcome)
        return outcome.code

    def first_in_workers(self, copies: int) -> list[int]:
        """The same event delivered ``copies`` times at once (EventBridge's at-least-once):
        that many worker processes race for the claim; returns their exit codes."""
        specs = [self._spec(None, LAMBDA_TIMEOUT_MS, False, None) for _ in range(copies)]
        outcomes = run_workers(specs)
        for n, outcome in enumerate(outcomes, 1):
            self._journal_worker(f"t+0 worker {n}/{copies}", outcome)
        return [o.code for o in outcomes]

    def _spec(
        self,
        store_point: StorePoint | None,
        timeout_ms: int,
        enforce_timeout: bool,
        channel_timeout: int | None,
    ) -> WorkerSpec:
        self._cases += 1
        return WorkerSpec(
            env=self.env,
            clock=self.clock.spec(),
            envelope=self.envelope,
            result_path=str(self.tmp_path / f"worker-{self._cases}.json"),
            log_path=str(self.tmp_path / f"worker-{self._cases}.log"),
            timeout_ms=timeout_ms,
            store_point=store_point,
            enforce_timeout=enforce_timeout,
            channel_timeout=channel_timeout,
        )

    def _journal_worker(self, label: str, outcome: WorkerOutcome) -> None:
        how = {0: "returned", EXIT_TRANSIENT: "raised TransientError", -9: "SIGKILLed"}
        self.journal.append(
            f"{label}: {how.get(outcome.code, f'exit {outcome.code}')} {outcome.result}"
        )
        if outcome.code not in (0, EXIT_TRANSIENT, -9):
            self.unexpected.append(f"{label}: {outcome.result}\n{outcome.log_tail}")

    def first_in_process(
        self,
        *,
        wrap: Callable[[Store], Store] | None = None,
        timeout_ms: int = LAMBDA_TIMEOUT_MS,
        channel_timeout: int | None = None,
    ) -> bool:
        """Run the first invocation here (``wrap`` wraps its store); True if it returned."""
        return self.invoke(
            self.envelope,
            label="t+0 first",
            wrap=wrap,
            timeout_ms=timeout_ms,
            channel_timeout=channel_timeout,
        )

    # what AWS does next -------------------------------------------------------------------------

    def invoke(
        self,
        event: dict[str, Any],
        *,
        label: str,
        wrap: Callable[[Store], Store] | None = None,
        timeout_ms: int = LAMBDA_TIMEOUT_MS,
        channel_timeout: int | None = None,
    ) -> bool:
        """One invocation of ``lambda_handler`` on a fresh runtime; True if it returned."""
        store = self.open_store()
        runtime = build_test_runtime(
            self.settings,
            store=wrap(store) if wrap is not None else store,
            clock=self.clock,
            channel_timeout=channel_timeout,
        )
        for module in entry_lookups():
            self.monkeypatch.setattr(module, "get_runtime", lambda: runtime)
        ok = False
        with DecisionLines() as lines:
            try:
                result = prep_trigger_handler.lambda_handler(event, FakeLambdaContext(timeout_ms))
                ok = True
                outcome = f"returned {result.get('action')} ({result.get('reason')})"
            except TransientError as exc:
                outcome = f"raised TransientError ({exc})"
            except Exception as exc:
                outcome = f"raised {type(exc).__name__}: {exc}"
                self.unexpected.append(f"{label}: {outcome}")
            finally:
                runtime.close()
        self.journal.append(f"{label}: {outcome}")
        problem = lines.problem(event_id=event.get("id"), raised=not ok)
        if problem:
            self.log_problems.append(f"{label}: {problem}")
        return ok

    def deliver_async(
        self, event: dict[str, Any], *, ok: bool, label: str, retries: int = len(RETRY_DELAYS)
    ) -> bool:
        """Lambda's asynchronous invocation after a try that returned (``ok``) or not, with
        the last ``retries`` of its retries still to come."""
        waited = 0.0
        for delay in RETRY_DELAYS[len(RETRY_DELAYS) - retries :]:
            if ok:
                return True
            self.clock.jump(delay)
            waited += delay
            ok = self.invoke(event, label=f"{label} retry +{waited:.0f}s")
        if not ok:
            self.journal.append(f"{label}: retries exhausted, event to the DLQ")
        return ok

    def sweep(self, label: str) -> list[BusEvent]:
        """One recovery sweep on a fresh runtime; what it republished."""
        bus = CapturingBus()
        store = self.open_store()
        runtime = build_test_runtime(self.settings, store=store, clock=self.clock, bus=bus)
        try:
            recovery = importlib.import_module("exec_assistant.workflows.recovery")
            recovery.sweep(runtime)
        except Exception as exc:
            self.journal.append(f"{label}: sweep failed: {type(exc).__name__}: {exc}")
            self.sweep_errors.append(f"{label}: {type(exc).__name__}: {exc}")
            return []
        finally:
            runtime.close()
        # The module's other cases share the DynamoDB tables: only this meeting's events count.
        events = [e for e in bus.drain() if e.detail.get("meeting_id") == self.meeting_id]
        self.journal.append(f"{label}: sweep republished {len(events)} event(s)")
        self.republished += len(events) if label != "final sweep" else 0
        return events

    def recover(
        self, *, first_ok: bool | list[bool], retries_left: int = len(RETRY_DELAYS)
    ) -> None:
        """Lambda's retries of the first event (of each copy that failed, when it was delivered
        several times; ``retries_left`` of them), then sweeps until settled, then one more."""
        copies = first_ok if isinstance(first_ok, list) else [first_ok]
        for n, ok in enumerate(copies, 1):
            self.deliver_async(
                self.envelope, ok=ok, label=f"first event, copy {n}", retries=retries_left
            )
        for n in range(1, SWEEP_PASSES + 1):
            if self.settled():
                break
            self.clock.jump(SWEEP_INTERVAL)
            for event in self.sweep(f"sweep {n}"):
                redelivered = envelope_of(event, at=self.clock())
                ok = self.invoke(redelivered, label=f"sweep {n} event")
                self.deliver_async(redelivered, ok=ok, label=f"sweep {n} event")
        self.clock.jump(SWEEP_INTERVAL)
        self.final_sweep = self.sweep("final sweep")

    # the invariant ----------------------------------------------------------------------------

    def deliveries(self) -> tuple[int, int]:
        """(Slack messages posted in the executive's DM, SMS created to their phone)."""
        slack = len(self.slack.messages_in(SLACK_USER))
        sms = sum(1 for m in self.twilio.created if m["to"] == PHONE)
        return slack, sms

    def _stored(self) -> tuple[LedgerRecord | None, Meeting | None]:
        store = self.open_store()
        try:
            return store.get_notification(self.key), store.get_meeting(self.meeting_id)
        finally:
            store.close()

    def settled(self) -> bool:
        record, meeting = self._stored()
        return (
            record is not None
            and record.state == LedgerState.DELIVERED
            and meeting is not None
            and meeting.status == MeetingStatus.PREP_SCHEDULED
        )

    def report(self) -> str:
        record, meeting = self._stored()
        ledger = (
            json.dumps(record.model_dump(mode="json"), indent=1) if record else "no ledger record"
        )
        return "\n".join(
            [
                "journal:",
                *(f"  {line}" for line in self.journal),
                f"meeting: {meeting.status.value if meeting else 'missing'}",
                f"ledger: {ledger}",
            ]
        )

    def assert_invariant(self) -> None:
        slack, sms = self.deliveries()
        assert slack + sms == 1, (
            f"the executive got {slack + sms} notifications (Slack {slack}, SMS {sms})\n"
            + self.report()
        )
        assert self.settled(), "cycle not DELIVERED + PREP_SCHEDULED\n" + self.report()
        assert not self.unexpected, "unclassified failures:\n" + "\n".join(self.unexpected)
        assert not self.sweep_errors, "the recovery sweep failed:\n" + "\n".join(self.sweep_errors)
        assert self.final_sweep == [], "a sweep republished a delivered cycle\n" + self.report()
        assert not self.log_problems, "decision log lines:\n" + "\n".join(self.log_problems)
