"""A message carries its cycle's ledger key and attempt number to its delivery receipt.

A receipt can arrive before the write that records its delivery (the milliseconds between the
provider's answer and that write, or much longer if the worker is killed between the two and a
retry reconciles the attempt later): then no provider-id mapping exists yet. So every SMS and
email names its target, and a receipt finds its ledger record by key, whatever the ledger holds
so far (:func:`exec_assistant.workflows.receipts.apply_receipt` parks it if the delivery is not
recorded yet):

* **Twilio**: query parameters of the ``StatusCallback`` URL, ``?key=<key>&attempt=<seq>``
  (:func:`callback_query`). Twilio signs the full URL it calls, query included, so
  ``RequestValidator`` authenticates them with the rest of the callback.
* **SES**: message tags ``ea-key`` (the key in unpadded URL-safe base64: tag values allow only
  letters, digits, ``_`` and ``-``) and ``ea-attempt`` (:func:`ses_tags`); SES echoes them in
  every event's ``mail.tags``. EventBridge accepts ``aws.ses`` events only from SES.

A key longer than :data:`MAX_KEY_LENGTH` is not carried (the message's receipt is then found by
provider id, as messages sent before this existed are). A target that is present but malformed
is ignored the same way (logged as ``receipt.target_malformed``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, urlencode

from pydantic import BaseModel, ConfigDict, Field

from exec_assistant.logs import log_event

logger = logging.getLogger(__name__)

KEY_PARAM = "key"
ATTEMPT_PARAM = "attempt"
KEY_TAG = "ea-key"
ATTEMPT_TAG = "ea-attempt"
#: The longest key carried: its base64 (4/3 longer) stays within SES's 256-character tag value.
MAX_KEY_LENGTH = 180
#: More attempts than any cycle makes (a handful of channels, a few reconciliations).
MAX_ATTEMPT = 999
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ReceiptTarget(BaseModel):
    """The ledger record (``key``) and attempt (``seq``) a message's receipt belongs to."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    key: str = Field(min_length=1, max_length=MAX_KEY_LENGTH)
    seq: int = Field(ge=0, le=MAX_ATTEMPT)


def _carried(key: str, seq: int) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and 0 <= seq <= MAX_ATTEMPT


def callback_query(key: str, seq: int) -> str:
    """The query string (without ``?``) a status callback URL carries; empty if not carried."""
    return urlencode({KEY_PARAM: key, ATTEMPT_PARAM: seq}) if _carried(key, seq) else ""


def ses_tags(key: str, seq: int) -> list[dict[str, str]]:
    """The SES message tags carrying the target; none if not carried."""
    if not _carried(key, seq):
        return []
    encoded = base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
    return [{"Name": KEY_TAG, "Value": encoded}, {"Name": ATTEMPT_TAG, "Value": str(seq)}]


def _one(values: Sequence[str] | None) -> str | None:
    return values[0] if values is not None and len(values) == 1 else None


def _target(key: str | None, seq: str | None, source: str) -> ReceiptTarget | None:
    """The target of a key and an attempt that are present; None (logged) if malformed."""
    if key is not None and seq is not None and seq.isdigit() and _carried(key, int(seq)):
        return ReceiptTarget(key=key, seq=int(seq))
    log_event(logger, logging.WARNING, "receipt.target_malformed", source=source)
    return None


def target_from_query(query: str) -> ReceiptTarget | None:
    """The target a status callback URL's query string carries (None: none, or malformed)."""
    try:
        fields = parse_qs(query, keep_blank_values=True, max_num_fields=20)
    except ValueError:  # more fields than any URL of ours has
        return _target(None, None, "twilio")
    keys, seqs = fields.get(KEY_PARAM), fields.get(ATTEMPT_PARAM)
    if keys is None and seqs is None:
        return None  # a message sent without a target (before this existed)
    return _target(_one(keys), _one(seqs), "twilio")


def _decoded(value: str | None) -> str | None:
    if value is None or not _TAG_VALUE.match(value):
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def target_from_tags(tags: Mapping[str, Sequence[str]]) -> ReceiptTarget | None:
    """The target an SES event's ``mail.tags`` carry (None: none, or malformed)."""
    keys, seqs = tags.get(KEY_TAG), tags.get(ATTEMPT_TAG)
    if keys is None and seqs is None:
        return None  # a message sent without a target (before this existed)
    return _target(_decoded(_one(keys)), _one(seqs), "ses")
