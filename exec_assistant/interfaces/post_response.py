"""Listener work after the acknowledgement, made hard to lose.

Each listener acknowledges first and hands its work here (:func:`ack_then`). The work then runs
under :class:`PostResponse`:

* it honours the invocation's :class:`~exec_assistant.interfaces.after_response.Deadline`: an
  attempt starts only if :attr:`Policy.attempt_seconds` still fit before it;
* a failure classified **transient** (Slack 429/5xx, a store or dependency reporting
  :class:`~exec_assistant.errors.TransientError`) is retried, at most :attr:`Policy.attempts`
  times in all, with a short pause (listeners are idempotent, see ``slack_listeners``);
* work that still fails, or that no longer fits the deadline, is **dead-lettered** first (a
  JSON record with ids and the error class, never the payload: on AWS an SQS queue,
  ``POST_RESPONSE_DLQ_URL``; the queue's depth has an alarm on the stack's alarm topic, see
  ``infra/post_response.py``; the EMF metric ``PostResponseWorkFailed`` counts them too), then
  the executive is **told in Slack** (a DM saying what did not go through and that they can try
  again). Locally there is no queue: the ERROR log line is the record.

Every step is logged with the listener's name and error class; a failing dead-letter send or
notice is logged too, never raised (the other pieces of work still run).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from exec_assistant import metrics
from exec_assistant.interfaces.after_response import Deadline, Work
from exec_assistant.interfaces.slack_payloads import requester
from exec_assistant.logs import log_event
from exec_assistant.models import ErrorClass

if TYPE_CHECKING:
    from slack_sdk import WebClient

logger = logging.getLogger(__name__)

Classify = Callable[[BaseException], ErrorClass]

_attempt: ContextVar[int] = ContextVar("post_response_attempt", default=1)


def retrying() -> bool:
    """Whether the running piece of work is a retry of the same request after a transient
    failure (a listener may then resume what the failed attempt left half done)."""
    return _attempt.get() > 1


@dataclass(frozen=True)
class Notice:
    """How to name a piece of work to the executive when it failed."""

    what: str  #: "Start Prep"
    again: str  #: "click Start Prep again"


@dataclass(frozen=True)
class Policy:
    attempts: int = 3
    #: pause before the 2nd, 3rd… attempt (the last value repeats)
    pauses: tuple[float, ...] = (0.3, 1.0)
    #: time an attempt must still have before the deadline to start: the Slack client's
    #: timeout (10 s) plus a margin for the dead letter and the notice after it
    attempt_seconds: float = 13.0


@dataclass(frozen=True)
class Job:
    listener: str
    run: Callable[[], None]
    client: WebClient | None
    slack_user_id: str | None
    team_id: str | None
    notice: Notice | None


class DeadLetters(Protocol):
    def send(self, record: Mapping[str, Any]) -> None: ...


class SqsDeadLetters:
    """Dead letters to an SQS queue (the Slack bot's ``POST_RESPONSE_DLQ_URL``)."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, record: Mapping[str, Any]) -> None:
        from exec_assistant.aws import client

        client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(record))


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


class PostResponse:
    """Runs a :class:`Job` with retries, the deadline, a dead letter and a notice."""

    def __init__(
        self,
        *,
        classify: Classify,
        dead_letters: DeadLetters | None = None,
        policy: Policy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.classify = classify
        self.dead_letters = dead_letters
        self.policy = policy or Policy()
        self.sleep = sleep

    def run(self, job: Job, deadline: Deadline) -> None:
        policy = self.policy
        attempt = 0
        while True:
            if deadline.remaining() < policy.attempt_seconds:
                self._failed(job, attempt, "deadline", None)
                return
            attempt += 1
            token = _attempt.set(attempt)
            try:
                job.run()
                return
            except Exception as failure:  # noqa: BLE001 - classified, retried or dead-lettered
                exc = failure
            finally:
                _attempt.reset(token)
            error_class = self.classify(exc)
            if error_class != ErrorClass.TRANSIENT or attempt >= policy.attempts:
                self._failed(job, attempt, "failed", exc)
                return
            log_event(
                logger,
                logging.WARNING,
                "slack.post_response_retry",
                listener=job.listener,
                attempt=attempt,
                error=_error(exc),
                error_class=error_class.value,
            )
            pause = policy.pauses[min(attempt, len(policy.pauses)) - 1]
            if deadline.remaining() < pause + policy.attempt_seconds:
                self._failed(job, attempt, "deadline", exc)
                return
            self.sleep(pause)

    def _failed(self, job: Job, attempts: int, reason: str, exc: BaseException | None) -> None:
        record = {
            "kind": "slack.post_response",
            "listener": job.listener,
            "reason": reason,
            "attempts": attempts,
            "slack_user_id": job.slack_user_id,
            "team_id": job.team_id,
            "error": _error(exc) if exc is not None else None,
            "error_class": (self.classify(exc) if exc is not None else ErrorClass.TRANSIENT).value,
            "failed_at": datetime.now(UTC).isoformat(),
        }
        log_event(logger, logging.ERROR, "slack.post_response_failed", **record)
        metrics.emit(
            metrics.Metric.POST_RESPONSE_FAILED,
            listener=job.listener,
            reason=reason,
            error_class=record["error_class"],
        )
        if self.dead_letters is not None:
            try:
                self.dead_letters.send(record)
            except Exception as send_exc:  # noqa: BLE001 - logged; the notice still goes out
                log_event(
                    logger,
                    logging.ERROR,
                    "slack.dead_letter_failed",
                    listener=job.listener,
                    error=_error(send_exc),
                    error_class=ErrorClass.UNKNOWN.value,
                )
        self._tell(job)

    def _tell(self, job: Job) -> None:
        if job.notice is None or job.client is None or not job.slack_user_id:
            return
        text = (
            f"Sorry, {job.notice.what} did not go through: something failed on our side. "
            f"Please {job.notice.again} in a minute."
        )
        try:
            job.client.chat_postMessage(channel=job.slack_user_id, text=text)
        except Exception as exc:  # noqa: BLE001 - logged; the dead letter is the record
            log_event(
                logger,
                logging.ERROR,
                "slack.failure_notice_failed",
                listener=job.listener,
                error=_error(exc),
                error_class=self.classify(exc).value,
            )


def ack_then(
    work: Callable[..., None],
    defer: Callable[[Work], None] | None,
    post: PostResponse,
    notice: Notice | None = None,
    check: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
) -> Any:
    """A Bolt listener that acknowledges at once, then runs ``work`` (under ``post``) with the
    arguments Bolt injects by name (``body``, ``client``, ``respond``, …): handed to ``defer``
    (on Lambda, :meth:`AfterResponse.add`), or, with ``defer=None``, right after the ack in the
    listener's own thread (locally Bolt answers Slack as soon as ``ack()`` is called).

    This replaces Bolt's lazy listeners, which deep-copy the whole request for each lazy
    function before acknowledging: the context's ``WebClient`` and every utility holding one,
    about 1 ms per request here, more than Bolt's entire acknowledgement. The request is not
    used again once the listener has acknowledged, so the work can share it.

    ``check``: asked about the request body before the acknowledgement; what it returns (a
    modal's ``response_action: errors``) is acknowledged instead, and the work does not run.
    """
    from slack_bolt import Ack, BoltRequest
    from slack_bolt.kwargs_injection import build_required_kwargs
    from slack_bolt.util.utils import get_arg_names_of_callable

    arg_names = get_arg_names_of_callable(work)
    name = getattr(work, "__name__", "listener")

    def listener(ack: Ack, request: BoltRequest) -> None:
        refusal = check(request.body) if check is not None else None
        if refusal is not None:
            ack(**refusal)
            return
        ack()

        def run() -> None:
            kwargs = build_required_kwargs(
                logger=logger,
                required_arg_names=arg_names,
                request=request,
                response=None,
                this_func=work,
            )
            work(**kwargs)

        user, team = requester(request.body)
        job = Job(name, run, request.context.client, user, team, notice)

        def guarded(deadline: Deadline) -> None:
            post.run(job, deadline)

        if defer is None:
            guarded(Deadline())
        else:
            defer(guarded)

    listener.__name__ = name
    return listener
