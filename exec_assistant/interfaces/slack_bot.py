"""The Slack app (Bolt): one factory, served by Lambda behind API Gateway or by the local runner.

``create_app(runtime)`` builds the Bolt ``App`` from injected dependencies only (the runtime's
store, scheduler and clock, a conversation engine, a signing secret source), so the same app runs
on Lambda, locally over HTTP or Socket Mode, and in tests against a fake Slack Web API.

Cold start: nothing talks to Slack while the app is built (``token_verification_enabled=False``;
Bolt's ``auth.test`` happens once, on the first request, and is cached). On Lambda
(``process_before_response=True``) each listener only acknowledges; its work runs after the
response has been returned, in the same invocation (:mod:`exec_assistant.interfaces.after_response`:
an internal Lambda extension, registered when this module is imported during Lambda's init — only
if Lambda's ``_HANDLER`` is :data:`HANDLER`), with retries, the deadline, a dead letter and a
word to the executive (:mod:`exec_assistant.interfaces.post_response`).

Contract: ``exec_assistant.interfaces.slack_bot.lambda_handler`` (API Gateway HTTP API v2 and
REST v1 proxy events, any header case, base64 bodies), through
:class:`~exec_assistant.interfaces.slack_ingress.SlackIngress`: the signature is checked on the
raw bytes before anything parses the body.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from exec_assistant import coldstart, snapshots
from exec_assistant.config import running_on_lambda
from exec_assistant.interfaces.after_response import Work, register_extension
from exec_assistant.interfaces.signing_secrets import SigningSecretSource, signing_secret_source
from exec_assistant.logs import configure_logging, register_secret
from exec_assistant.runtime import Runtime
from exec_assistant.workflows.bedrock_writer import brief_writer_for
from exec_assistant.workflows.meeting_types import load_meeting_types
from exec_assistant.workflows.prep_conversation import ConversationEngine, QuestionnaireEngine

if TYPE_CHECKING:
    from slack_bolt import App

    from exec_assistant.config import SettingsModel
    from exec_assistant.interfaces.post_response import DeadLetters
    from exec_assistant.interfaces.slack_guard import SignatureCheck
    from exec_assistant.interfaces.slack_ingress import SlackIngress

MEETINGS_COMMAND = "/meetings"


def create_app(
    runtime: Runtime,
    *,
    engine: ConversationEngine | None = None,
    signing_secrets: SigningSecretSource | None = None,
    process_before_response: bool | None = None,
    socket_mode: bool = False,
    defer: Callable[[Work], None] | None = None,
) -> App:
    """Build the Bolt app.

    ``engine``: the prep conversation (default :class:`QuestionnaireEngine`).
    ``signing_secrets``: default from the settings (environment or Secrets Manager); in Socket
    Mode it may be absent, and then any HTTP request is refused.
    ``process_before_response``: default True on Lambda, False elsewhere.
    ``defer``: where each listener's work goes after its acknowledgement (on Lambda,
    :meth:`AfterResponse.add`); ``None`` runs it right after the ack (see
    :func:`~exec_assistant.interfaces.post_response.ack_then`).
    """
    from slack_bolt import App

    from exec_assistant.interfaces.listener_kit import ack_now, error_class, is_user_dm
    from exec_assistant.interfaces.post_response import Notice, PostResponse, ack_then
    from exec_assistant.interfaces.settings_views import EDIT_SETTINGS_ACTION, SETTINGS_CALLBACK
    from exec_assistant.interfaces.slack_guard import SlackRequestGuard
    from exec_assistant.interfaces.slack_home import settings_errors
    from exec_assistant.interfaces.slack_listeners import SlackListeners
    from exec_assistant.interfaces.slack_views import REMIND_CHOICE_ACTION
    from exec_assistant.notifications.channels.slack import slack_retry_handlers
    from exec_assistant.notifications.rendering import REMIND_LATER_ACTION, START_PREP_ACTION
    from exec_assistant.slack_http import web_client

    settings = runtime.settings
    token = settings.require_secret("slack_bot_token")
    register_secret(token)
    if signing_secrets is None and not (
        socket_mode and not settings.has_secret("slack_signing_secret")
    ):
        signing_secrets = signing_secret_source(settings, clock=runtime.clock)
    # kept-alive connections: a click's work makes two or three Slack calls in a row
    client = web_client(
        token=token,
        base_url=settings.slack_api_url,
        timeout=10,
        # 429 + Retry-After, and failures to connect; never a 5xx or a connection lost after the
        # request left (the post may have happened: a resend would show the executive twice)
        retry_handlers=slack_retry_handlers(max_retries=2),
    )
    app = App(
        name="exec-assistant",
        client=client,
        token_verification_enabled=False,
        request_verification_enabled=False,
        before_authorize=SlackRequestGuard(
            signature_check(runtime, signing_secrets), team_id=settings.slack_team_id
        ),
        process_before_response=(
            running_on_lambda() if process_before_response is None else process_before_response
        ),
    )
    types = load_meeting_types(settings.meeting_types_file)
    listeners = SlackListeners(
        runtime,
        engine
        or QuestionnaireEngine(
            runtime.store,
            clock=runtime.clock,
            questions=types.default_questions(),
            question_sets=types.question_sets(),
            writer=brief_writer_for(settings),
        ),
    )
    post = PostResponse(classify=error_class, dead_letters=dead_letters(settings))
    app.command(MEETINGS_COMMAND)(
        ack_then(
            listeners.meetings_command,
            defer,
            post,
            Notice("your /meetings request", "type /meetings again"),
        )
    )
    app.action(START_PREP_ACTION)(
        ack_then(listeners.start_prep, defer, post, Notice("Start Prep", "click Start Prep again"))
    )
    app.action(REMIND_LATER_ACTION)(
        ack_then(
            listeners.remind_later, defer, post, Notice("Remind Later", "click Remind Later again")
        )
    )
    app.action(REMIND_CHOICE_ACTION)(
        ack_then(
            listeners.remind_choice,
            defer,
            post,
            Notice("your reminder choice", "click Remind Later again"),
        )
    )
    app.event({"type": "message", "subtype": None}, matchers=[is_user_dm])(
        ack_then(
            listeners.direct_message, defer, post, Notice("your last message", "send it again")
        )
    )
    # every other message event (edits, deletions, bots, channels): acknowledged, ignored.
    # Unanswered, Bolt would reply 404 and Slack would retry and count failures.
    app.event("message")(ack_now)
    home = listeners.home
    app.event("app_home_opened")(ack_then(home.home_opened, defer, post))
    app.action(EDIT_SETTINGS_ACTION)(
        ack_then(home.edit_settings, defer, post, Notice("Edit settings", "click it again"))
    )
    app.view(SETTINGS_CALLBACK)(
        ack_then(
            home.save_settings,
            defer,
            post,
            Notice("your settings", "open Edit settings and save them again"),
            check=settings_errors,
        )
    )
    return app


def dead_letters(settings: SettingsModel) -> DeadLetters | None:
    """Where listener work that failed for good is recorded (SQS on AWS; none locally)."""
    from exec_assistant.interfaces.post_response import SqsDeadLetters

    url = settings.post_response_dlq_url
    return SqsDeadLetters(url) if url else None


# --- Lambda ---------------------------------------------------------------------------------

#: The handler string Lambda is configured with (``_HANDLER``) when this process runs the bot.
HANDLER = "exec_assistant.interfaces.slack_bot.lambda_handler"

#: This process's post-response work: registered with Lambda's Extensions API only when Lambda
#: runs :func:`lambda_handler` itself (``_HANDLER``), never because the library was imported.
after_response = register_extension(handler=HANDLER)
_ingress: SlackIngress | None = None
_ingress_lock = threading.Lock()
#: The AWS services the bot's requests call (store; signing secret rotation; reminders;
#: the post-response dead letters).
AWS_SERVICES = ("dynamodb", "secretsmanager", "scheduler", "sqs")


def before_snapshot() -> None:
    """SnapStart (see :mod:`exec_assistant.snapshots`): build what the first request needs —
    the Bolt app and its listeners, the runtime, the models, botocore's data — into the
    snapshot."""
    snapshots.warm_aws(AWS_SERVICES)
    slack_ingress()
    snapshots.seal()  # the models built, the collector running again


def after_restore() -> None:
    """SnapStart: per restored copy, fresh random state, AWS credentials and connections, and
    no Slack connection shared with another copy."""
    snapshots.refresh_process()
    with _ingress_lock:
        ingress = _ingress
    if ingress is not None:
        close = getattr(ingress.app.client, "close", None)
        if close is not None:
            close()


snapshots.register(before_snapshot=before_snapshot, after_restore=after_restore)


def build_ingress(
    runtime: Runtime,
    *,
    signing_secrets: SigningSecretSource | None = None,
    process_before_response: bool | None = None,
    defer: Callable[[Work], None] | None = None,
) -> SlackIngress:
    """The app from :func:`create_app` behind the raw-bytes signature check (one secret source,
    one cache, for both checks)."""
    from exec_assistant.interfaces.slack_ingress import SlackIngress

    settings = runtime.settings
    secrets = signing_secrets or signing_secret_source(settings, clock=runtime.clock)
    app = create_app(
        runtime,
        signing_secrets=secrets,
        process_before_response=process_before_response,
        defer=defer,
    )
    return SlackIngress(app, signature_check(runtime, secrets))


def signature_check(runtime: Runtime, secrets: SigningSecretSource | None) -> SignatureCheck:
    from exec_assistant.interfaces.slack_guard import SignatureCheck

    grace = timedelta(seconds=runtime.settings.slack_signing_secret_grace_seconds)
    return SignatureCheck(secrets, grace=grace, clock=runtime.clock)


def slack_ingress() -> SlackIngress:
    """The Lambda handler's ingress, built once per process from ``get_runtime()``; each
    listener's work is queued on :data:`after_response`."""
    global _ingress  # noqa: PLW0603 - the per-process cache is the point
    with _ingress_lock:
        if _ingress is None:
            from exec_assistant.runtime import get_runtime

            _ingress = build_ingress(
                get_runtime(), process_before_response=True, defer=after_response.add
            )
        return _ingress


def reset_app() -> None:
    """Forget the cached app (tests; after the settings or the runtime changed)."""
    global _ingress  # noqa: PLW0603
    with _ingress_lock:
        _ingress = None


@coldstart.lambda_entry
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway (HTTP API v2 or REST v1 proxy) → the ingress → Bolt; the work the request
    queued runs after the response (see :mod:`exec_assistant.interfaces.after_response`)."""
    from exec_assistant.interfaces.api_gateway import from_api_gateway, to_api_gateway

    configure_logging()
    try:
        method, body, headers = from_api_gateway(event)
        reply = slack_ingress().handle(method, body, headers)
    finally:
        after_response.invocation_done(context)
    return to_api_gateway(reply)
