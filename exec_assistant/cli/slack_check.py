"""Slack ``auth.test``: the one way to learn whether a bot token works (doctor, secrets rotate)."""

from __future__ import annotations

from pydantic import BaseModel

from exec_assistant.errors import PermanentError, TransientError


class SlackIdentity(BaseModel):
    """Who a working token belongs to (no secret in here)."""

    team: str
    team_id: str
    bot_user_id: str

    def describe(self) -> str:
        return f"team {self.team} ({self.team_id}), bot user {self.bot_user_id}"


def auth_test(token: str, *, api_url: str) -> SlackIdentity:
    """Call ``auth.test`` at ``api_url`` (``SLACK_API_URL``).

    A refused token is a :class:`PermanentError` carrying Slack's error code; an unreachable
    API is a :class:`TransientError`.
    """
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=token, base_url=api_url, timeout=10)
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        code = str(exc.response.get("error") or exc.response.status_code)
        raise PermanentError(f"Slack auth.test refused the token: {code}", code=code) from None
    except OSError as exc:
        raise TransientError(f"Slack API unreachable at {api_url}: {type(exc).__name__}") from None
    return SlackIdentity(
        team=str(response.get("team") or "?"),
        team_id=str(response.get("team_id") or "?"),
        bot_user_id=str(response.get("user_id") or "?"),
    )
