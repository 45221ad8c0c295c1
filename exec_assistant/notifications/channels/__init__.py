"""Notification channels and :func:`build_channels`, which turns Settings into channel objects.

Only configured channels are built: Slack needs a bot token, SMS the Twilio account SID, auth
token and sender number, email ``SES_FROM_EMAIL``. SMS ask for status callbacks when
``PUBLIC_BASE_URL`` is set; emails go through ``SES_CONFIGURATION_SET`` when it is. With none
of them configured the console channel is the only one (the embedded default). Each channel
creates its SDK client once and reuses it, so call this once per process (the composition root
does).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from exec_assistant.models import Channel
from exec_assistant.notifications.types import NotificationChannel

if TYPE_CHECKING:
    from exec_assistant.config import SettingsModel

__all__ = ["build_channels"]


def build_channels(settings: SettingsModel) -> dict[Channel, NotificationChannel]:
    """The deployment's channels, keyed by :class:`~exec_assistant.models.Channel`."""
    channels: dict[Channel, NotificationChannel] = {}
    if settings.has_secret("slack_bot_token"):
        from exec_assistant.notifications.channels.slack import SlackChannel

        channels[Channel.SLACK] = SlackChannel(
            token=settings.require_secret("slack_bot_token"), base_url=settings.slack_api_url
        )
    if all(
        settings.has_secret(name)
        for name in ("twilio_account_sid", "twilio_auth_token", "twilio_from_number")
    ):
        from exec_assistant.notifications.channels.sms import STATUS_CALLBACK_PATH, SmsChannel

        # Resolved on the first SMS, not here: most cold starts never send one.
        channels[Channel.SMS] = SmsChannel(
            account_sid=partial(settings.require_secret, "twilio_account_sid"),
            auth_token=partial(settings.require_secret, "twilio_auth_token"),
            from_number=partial(settings.require_secret, "twilio_from_number"),
            api_url=settings.twilio_api_url,
            status_callback=(
                settings.public_base_url.rstrip("/") + STATUS_CALLBACK_PATH
                if settings.public_base_url
                else None
            ),
        )
    if settings.ses_from_email:
        from exec_assistant.notifications.channels.email import EmailChannel

        links = None
        if settings.public_base_url and settings.has_secret("action_link_secret"):
            from exec_assistant.notifications.action_links import ActionLinks

            links = ActionLinks(
                secret=partial(settings.require_secret, "action_link_secret"),
                base_url=settings.public_base_url,
            )
        channels[Channel.EMAIL] = EmailChannel(
            sender=settings.ses_from_email,
            links=links,
            configuration_set=settings.ses_configuration_set,
        )
    if not channels:
        from exec_assistant.notifications.channels.console import ConsoleChannel

        channels[Channel.CONSOLE] = ConsoleChannel()
    return channels
