"""manifest.yml: valid against the constraints of Slack's manifest schema (a subset written here
after slackapi/manifest-schema, draft-07), wired to the one webhook URL, and asking for exactly
the bot scopes the package's Slack Web API calls need."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest.yml"
PLACEHOLDER = "https://example.invalid/slack/webhook"

_URL = {"type": "string", "pattern": "^https?://", "maxLength": 3000}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": properties,
    }


#: The parts of Slack's app manifest schema this app uses, with Slack's limits; unknown keys
#: (a typo such as ``socket_mode_enable``) are errors, as they are for Slack.
SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    **_obj(
        {
            "_metadata": _obj(
                {"major_version": {"type": "integer"}, "minor_version": {"type": "integer"}}
            ),
            "display_information": _obj(
                {
                    "name": {"type": "string", "minLength": 1, "maxLength": 35},
                    "description": {"type": "string", "minLength": 1, "maxLength": 140},
                    "background_color": {
                        "type": "string",
                        "pattern": "^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$",
                    },
                },
                ("name",),
            ),
            "features": _obj(
                {
                    "app_home": _obj(
                        {
                            "home_tab_enabled": {"type": "boolean"},
                            "messages_tab_enabled": {"type": "boolean"},
                            "messages_tab_read_only_enabled": {"type": "boolean"},
                        }
                    ),
                    "bot_user": _obj(
                        {
                            "display_name": {"type": "string", "minLength": 1, "maxLength": 80},
                            "always_online": {"type": "boolean"},
                        },
                        ("display_name",),
                    ),
                    "slash_commands": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 50,
                        "items": _obj(
                            {
                                "command": {
                                    "type": "string",
                                    "pattern": "^/",
                                    "minLength": 2,
                                    "maxLength": 32,
                                },
                                "url": _URL,
                                "description": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": 2000,
                                },
                                "usage_hint": {"type": "string", "minLength": 1, "maxLength": 1000},
                                "should_escape": {"type": "boolean"},
                            },
                            ("command", "description"),
                        ),
                    },
                }
            ),
            "oauth_config": _obj(
                {
                    "scopes": _obj(
                        {
                            "bot": {
                                "type": "array",
                                "uniqueItems": True,
                                "items": {"type": "string", "maxLength": 50},
                            }
                        }
                    )
                }
            ),
            "settings": _obj(
                {
                    "event_subscriptions": _obj(
                        {
                            "request_url": _URL,
                            "bot_events": {
                                "type": "array",
                                "uniqueItems": True,
                                "maxItems": 100,
                                "items": {"type": "string", "maxLength": 50},
                            },
                        }
                    ),
                    "interactivity": _obj(
                        {"is_enabled": {"type": "boolean"}, "request_url": _URL}, ("is_enabled",)
                    ),
                    "org_deploy_enabled": {"type": "boolean"},
                    "socket_mode_enabled": {"type": "boolean"},
                    "token_rotation_enabled": {"type": "boolean"},
                }
            ),
        },
        ("display_information",),
    ),
}

#: Slack Web API methods → the bot scope each needs (None: no scope). A method the package
#: starts calling that is not listed here fails the scope test until its scope is decided.
METHOD_SCOPES: dict[str, str | None] = {
    "auth_test": None,
    "chat_postEphemeral": "chat:write",
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "conversations_history": "im:history",  # reconciling an unknown outcome (DM history)
    "conversations_open": "im:write",
    "views_open": None,  # the App Home's settings modal
    "views_publish": None,
    "users_info": "users:read",
    "users_lookupByEmail": "users:read.email",
}
#: Scopes implied by the manifest's own features rather than by a Web API call.
FEATURE_SCOPES = {"commands": "the /meetings slash command", "im:history": "message.im events"}


def _manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text("utf-8"))
    return loaded


def _slack_methods_called() -> set[str]:
    called: set[str] = set()
    for path in (ROOT / "exec_assistant").rglob("*.py"):
        text = path.read_text("utf-8")
        if re.search(r"slack_sdk|slack_bolt|WebClient", text):
            called |= set(re.findall(r"client\.([a-z]+_[A-Za-z]+)\(", text))
    return called


def test_manifest_is_valid_against_the_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(_manifest(), SCHEMA, cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("settings", "socket_mode_enable"), False),
        (("features", "slash_commands", 0, "command"), "meetings"),
        (("display_information", "name"), "x" * 36),
        (("settings", "interactivity", "request_url"), "ftp://x"),
    ],
)
def test_schema_rejects_what_slack_rejects(path: tuple[Any, ...], bad: Any) -> None:
    manifest = _manifest()
    node: Any = manifest
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(manifest, SCHEMA, cls=jsonschema.Draft7Validator)


def test_features_events_and_settings() -> None:
    manifest = _manifest()
    features, settings = manifest["features"], manifest["settings"]
    assert features["bot_user"]["display_name"]
    assert [c["command"] for c in features["slash_commands"]] == ["/meetings"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["messages_tab_read_only_enabled"] is False  # DMs are the UI
    assert sorted(settings["event_subscriptions"]["bot_events"]) == [
        "app_home_opened",
        "message.im",
    ]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is False


def test_every_request_url_is_the_placeholder_the_cli_replaces() -> None:
    from exec_assistant.cli.manifest import PLACEHOLDER_URL

    assert PLACEHOLDER_URL == PLACEHOLDER
    manifest = _manifest()
    urls = [
        manifest["features"]["slash_commands"][0]["url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
    ]
    assert urls == [PLACEHOLDER] * 3
    # The CLI fills YAML lines only and refuses other example.invalid URLs: exactly these three.
    yaml_lines = [
        line
        for line in MANIFEST.read_text("utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    assert sum(line.count("example.invalid") for line in yaml_lines) == 3


def test_bot_scopes_are_exactly_what_the_code_and_features_need() -> None:
    called = _slack_methods_called()
    assert {"chat_postMessage", "conversations_open"} <= called  # the scan finds the calls
    unknown = called - METHOD_SCOPES.keys()
    assert not unknown, f"decide the scope of {sorted(unknown)} in METHOD_SCOPES and the manifest"
    needed = {METHOD_SCOPES[m] for m in called} - {None} | FEATURE_SCOPES.keys()
    assert set(_manifest()["oauth_config"]["scopes"]["bot"]) == needed
