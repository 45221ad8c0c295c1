"""The listeners match the Slack app manifest: what the app handles is what Slack is told to
send it, with the scopes the listeners' Web API calls need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from exec_assistant.interfaces.slack_bot import MEETINGS_COMMAND

MANIFEST = Path(__file__).parent.parent.parent / "manifest.yml"

#: chat.postMessage / chat.update / chat.postEphemeral; message.im; conversations.open; /meetings
NEEDED_SCOPES = {"chat:write", "im:history", "im:write", "commands"}


def _manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return loaded


def test_manifest_declares_what_the_listeners_handle() -> None:
    manifest = _manifest()
    features, settings = manifest["features"], manifest["settings"]
    assert [c["command"] for c in features["slash_commands"]] == [MEETINGS_COMMAND]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"message.im", "app_home_opened"}
    assert settings["interactivity"]["is_enabled"] is True
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= NEEDED_SCOPES


def test_every_request_url_is_the_webhook_path() -> None:
    from exec_assistant.interfaces.local_server import WEBHOOK_PATH

    manifest = _manifest()
    settings = manifest["settings"]
    urls = [
        *(c["url"] for c in manifest["features"]["slash_commands"]),
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    ]
    assert all(url.endswith(WEBHOOK_PATH) for url in urls)
