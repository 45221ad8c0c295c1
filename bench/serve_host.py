"""``python -m bench.serve_host CLICKS``: the two HTTP servers figure 5 loads, in one process.

* ``serve``: exactly what ``exec-assistant serve`` runs (``start_slack_server``: cheroot, the
  router, the raw-bytes ingress, the real app on the embedded runtime, listener work after the
  answer), with ``CLICKS`` notified meetings seeded for Start Prep and 50 for ``/meetings``;
* ``bare``: a bare Bolt app that only acknowledges (Bolt's own signature check), behind Bolt's
  WSGI adapter on the same cheroot settings (threads, backlog).

Prints their URLs and the click ids as one JSON line (prefixed with :data:`bench.worker.MARK`),
then serves until its stdin closes.
"""

from __future__ import annotations

import os
import sys
import threading

from bench.worker import emit


def bare_server() -> tuple[str, object]:
    from cheroot.wsgi import Server
    from slack_bolt import Ack, App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    from bench.env import BOT_TOKEN, SIGNING_SECRET
    from exec_assistant.interfaces.local_server import BACKLOG, THREADS, WEBHOOK_PATH
    from exec_assistant.notifications.rendering import START_PREP_ACTION

    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=os.environ["SLACK_API_URL"]),
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=False,
    )

    def ack_only(ack: Ack) -> None:
        ack()

    app.command("/meetings")(ack_only)
    app.action(START_PREP_ACTION)(ack_only)
    server = Server(
        ("127.0.0.1", 0),
        SlackRequestHandler(app, path=WEBHOOK_PATH),
        numthreads=THREADS,
        max=THREADS,
        request_queue_size=BACKLOG,
    )
    server.prepare()
    threading.Thread(target=server.serve, daemon=True).start()
    return f"http://127.0.0.1:{server.bind_addr[1]}{WEBHOOK_PATH}", server


def main() -> None:
    from bench import scenario
    from exec_assistant.interfaces.local_server import start_slack_server
    from exec_assistant.runtime import get_runtime

    clicks = int(sys.argv[1])
    runtime = get_runtime()
    user = scenario.owner(runtime.store)
    scenario.seed_listing(runtime.store, user)
    click_ids = scenario.seed_clickable(runtime.store, user, clicks)
    serve = start_slack_server(runtime, host="127.0.0.1", port=0, socket_mode=False)
    bare_url, bare = bare_server()
    emit({"serve": serve.url, "bare": bare_url, "click_ids": click_ids})
    sys.stdin.read()  # until the harness closes our stdin
    serve.stop()
    bare.stop()  # type: ignore[attr-defined]
    runtime.close()


if __name__ == "__main__":
    main()
