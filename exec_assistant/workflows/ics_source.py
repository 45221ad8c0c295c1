"""Where calendar data comes from: local files and https (webcal) feeds, and what they parse to.

Downloads have a timeout and a size limit; plain http is refused, and so is a redirect to
anything but https (urllib's own handler would follow one to http or ftp, and the calendar would
then be read in clear text, open to anyone on the path). A feed's address (Google's and
Outlook's "secret address" URLs) is a secret: only its host is ever logged or printed
(:func:`redact_source`), and a feed is identified by a digest of it (:func:`feed_id_for`).
"""

from __future__ import annotations

import hashlib
import http.client
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from exec_assistant.errors import PermanentError, TransientError

MAX_BYTES = 5 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 15.0


def read_source(
    source: str | Path,
    *,
    max_bytes: int = MAX_BYTES,
    timeout: float = FETCH_TIMEOUT_SECONDS,
    ssl_context: ssl.SSLContext | None = None,
) -> bytes:
    """The bytes of a local file or an https (webcal) feed; size-limited, with a timeout."""
    text = str(source)
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("", "file"):
        path = Path(urlsplit(text).path if scheme == "file" else text).expanduser()
        try:
            with path.open("rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise PermanentError(f"cannot read calendar file {path}: {exc.strerror}") from exc
    elif scheme in ("https", "webcal"):
        fetched = _fetch("https://" + text.split("://", 1)[1], max_bytes, timeout, ssl_context)
        data = fetched.data or b""
    else:
        raise PermanentError(
            f"unsupported calendar address scheme {scheme!r}: use a file path or https://",
            code="bad_scheme",
        )
    if len(data) > max_bytes:
        raise PermanentError(f"calendar is larger than {max_bytes} bytes", code="too_large")
    return data


@dataclass(frozen=True)
class Fetched:
    """A feed download: ``data`` None means "not modified" (HTTP 304: nothing to import)."""

    data: bytes | None
    etag: str | None = None
    last_modified: str | None = None


def fetch_feed(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BYTES,
    timeout: float = FETCH_TIMEOUT_SECONDS,
    ssl_context: ssl.SSLContext | None = None,
) -> Fetched:
    """A conditional GET of an https (webcal) feed: ``If-None-Match`` / ``If-Modified-Since``
    from the previous answer, so an unchanged feed costs one request and no body."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("https", "webcal"):
        raise PermanentError("a feed must be an https:// or webcal:// address", code="bad_scheme")
    headers = {"If-None-Match": etag} if etag else {}
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return _fetch("https://" + url.split("://", 1)[1], max_bytes, timeout, ssl_context, headers)


class _HttpsRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling, refusing a redirect whose target is not https."""

    def redirect_request(  # noqa: PLR0917 - urllib calls it with these, by position
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme.lower() != "https":
            fp.close()
            scheme = urlsplit(newurl).scheme  # urllib made it absolute; its path is never shown
            raise PermanentError(
                f"calendar feed on {req.host} redirects (HTTP {code}) to an {scheme}:// address; "
                "only https is followed",
                code="insecure_redirect",
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetch(
    url: str,
    max_bytes: int,
    timeout: float,
    context: ssl.SSLContext | None,
    conditions: dict[str, str] | None = None,
) -> Fetched:
    host = urlsplit(url).hostname or "?"  # the path of a feed is its secret: never logged
    headers = {"User-Agent": "exec-assistant ics import", **(conditions or {})}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - https only
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), _HttpsRedirectsOnly()
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            data = bytes(response.read(max_bytes + 1))
            if len(data) > max_bytes:
                raise PermanentError(f"calendar is larger than {max_bytes} bytes", code="too_large")
            return Fetched(
                data, response.headers.get("ETag"), response.headers.get("Last-Modified")
            )
    except urllib.error.HTTPError as exc:
        if exc.code == 304 and conditions:
            return Fetched(
                None,
                exc.headers.get("ETag") or conditions.get("If-None-Match"),
                conditions.get("If-Modified-Since"),
            )
        error = TransientError if exc.code >= 500 or exc.code == 429 else PermanentError
        raise error(
            f"calendar feed on {host} answered HTTP {exc.code}", code=str(exc.code)
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise PermanentError(
                f"the TLS certificate of {host} is not trusted", code="tls_untrusted"
            ) from None
        raise TransientError(
            f"cannot fetch calendar feed from {host}: {type(reason).__name__}", code="fetch"
        ) from None


def parse_calendar(data: bytes) -> Any:
    """Parse iCalendar bytes into a VCALENDAR (a bare list of VEVENTs is wrapped in one)."""
    import icalendar

    try:
        component = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise PermanentError(
            f"not a valid iCalendar file: {str(exc).splitlines()[0][:200]}", code="bad_ics"
        ) from exc
    if component.name == "VEVENT":
        calendar = icalendar.Calendar()
        calendar.add_component(component)
        return calendar
    if component.name != "VCALENDAR":
        raise PermanentError(f"expected a VCALENDAR, found {component.name}", code="bad_ics")
    return component


def redact_source(source: str | Path) -> str:
    """A calendar address fit to print or log: a feed's path and query (its secret) are cut."""
    text = str(source)
    if "://" not in text or text.lower().startswith("file:"):
        return text
    parts = urlsplit(text)
    return f"{parts.scheme}://{parts.hostname or '?'}/…"


def feed_id_for(source: str | Path) -> str:
    """A feed's id, derived from its address (which is a secret: only a digest is kept)."""
    return "feed-" + hashlib.sha256(str(source).strip().encode()).hexdigest()[:24]
