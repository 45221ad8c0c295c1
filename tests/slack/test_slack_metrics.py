"""The Slack bot's metrics: a refused request and a failed piece of post-response work each
write one EMF line; an accepted request writes none."""

from __future__ import annotations

from exec_assistant.interfaces import after_response as ar
from exec_assistant.metrics import Metric
from exec_assistant.models import Meeting
from tests.emf import Captured, emf
from tests.slack.harness import LambdaTransport, Payloads

__all__ = ["emf"]


def test_a_refused_request_is_counted(
    via_lambda: LambdaTransport, payloads: Payloads, meeting: Meeting, emf: Captured
) -> None:
    body = payloads.block_action("start_prep", value=meeting.meeting_id)
    assert via_lambda.send(body, secret="0000000000000000000000000000000000").status == 401
    (refused,) = emf.of(Metric.SLACK_REQUEST_REFUSED)
    assert refused["reason"] == "invalid signature"
    assert refused["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["environment"]]
    assert via_lambda.send(body).status == 200
    assert len(emf.of(Metric.SLACK_REQUEST_REFUSED)) == 1


def test_failed_post_response_work_is_counted_and_the_rest_still_runs(emf: Captured) -> None:
    ran: list[str] = []

    def broken(_deadline: ar.Deadline) -> None:
        raise KeyError("boom")

    ar.run_all(([broken, lambda _d: ran.append("second")], ar.Deadline()))
    assert ran == ["second"]
    (failed,) = emf.of(Metric.POST_RESPONSE_FAILED)
    assert failed["error"] == "KeyError"


def test_listener_work_that_failed_for_good_is_counted_once(emf: Captured) -> None:
    from exec_assistant.errors import PermanentError
    from exec_assistant.interfaces.listener_kit import error_class
    from exec_assistant.interfaces.post_response import Job, PostResponse

    def refused() -> None:
        raise PermanentError("no such meeting")

    job = Job("start_prep", refused, None, "U0EXEC001", "T0FAKE001", None)
    PostResponse(classify=error_class).run(job, ar.Deadline())
    (failed,) = emf.of(Metric.POST_RESPONSE_FAILED)
    assert (failed["listener"], failed["reason"], failed["error_class"]) == (
        "start_prep",
        "failed",
        "permanent",
    )
