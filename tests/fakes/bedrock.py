"""A fake Amazon Bedrock Runtime Converse endpoint on 127.0.0.1 (boto3 reaches it through
``AWS_ENDPOINT_URL`` / ``endpoint_url``).

``POST /model/{modelId}/converse`` answers with the Converse response shape; the text of the next
answer is :attr:`FakeBedrock.text`. Failures are scripted: :meth:`throttle_next` (HTTP 429
``ThrottlingException``), :meth:`hang_next` (no answer for a while: the client's timeout),
and :meth:`answer_next` (any text, e.g. malformed output). Every request body is recorded.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes._server import LoopbackFake, Reply, Request


class FakeBedrock(LoopbackFake):
    def __init__(self) -> None:
        super().__init__()
        self.text = json.dumps(
            {"talking_points": ["Agree the renewal price", "Confirm next steps"]}
        )
        self.requests: list[dict[str, Any]] = []

    def throttle_next(self, times: int = 1) -> None:
        body = {"message": "Too many requests, please wait before trying again."}
        self._script(
            "converse", Reply(429, body, {"x-amzn-ErrorType": "ThrottlingException"}), times
        )

    def hang_next(self, seconds: float = 5.0) -> None:
        self._script("converse", Reply(200, self._answer(self.text), delay=seconds), 1)

    def answer_next(self, text: str) -> None:
        self._script("converse", Reply(200, self._answer(text)), 1)

    @staticmethod
    def _answer(text: str) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 100, "outputTokens": 20, "totalTokens": 120},
            "metrics": {"latencyMs": 5},
        }

    def handle(self, request: Request) -> Reply:
        if request.method != "POST" or not request.path.endswith("/converse"):
            return Reply(
                404, {"message": "unknown route"}, {"x-amzn-ErrorType": "ResourceNotFound"}
            )
        with self._lock:
            self.requests.append({"path": request.path, **json.loads(request.body or b"{}")})
        return self._scripted("converse") or Reply(200, self._answer(self.text))
