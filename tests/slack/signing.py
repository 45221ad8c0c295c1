"""Sign request bodies exactly as Slack does (``v0=HMAC-SHA256(secret, "v0:{ts}:{body}")``)."""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, timestamp: int | str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: str, *, content_type: str) -> dict[str, str]:
    """The headers Slack sends with a request (names as Slack spells them)."""
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature(secret, timestamp, body),
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
