"""DynamoDB store: the :class:`~exec_assistant.store.base.Store` on four on-demand tables.

Every model field is its own top-level attribute (nested models are maps and lists), so each
operation writes only the attributes it owns: writes are ``UpdateItem`` with SET/REMOVE and a
``ConditionExpression``; ``PutItem`` is used only to create, guarded by ``attribute_not_exists``.
``None`` is never stored at top level (the attribute is removed), so sparse GSIs stay sparse.
Timestamps are :func:`~exec_assistant.models.iso_utc` strings (fixed width: lexical order is time
order, which the GSI range keys and the lease comparison rely on); TTL attributes are epoch seconds.

The schema (:data:`TABLE_SPECS`) is also what the Pulumi program deploys; see README "Stores".
boto3 is reached only through :func:`exec_assistant.aws.client` (a shared, thread-safe low-level
client), so importing this module costs botocore's exceptions and nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime, time, timedelta
from typing import Any, Literal, NoReturn, TypeVar

from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import BaseModel

from exec_assistant.config import Settings
from exec_assistant.errors import (
    ConfigurationError,
    LeaseLostError,
    NotFoundError,
    PermanentError,
    StoreUnavailableError,
)
from exec_assistant.logs import log_event
from exec_assistant.models import (
    CALENDAR_FIELDS,
    Channel,
    ChatMessage,
    ChatSession,
    ChatState,
    Claim,
    ClaimOutcome,
    DeliveryAttempt,
    LedgerRecord,
    LedgerState,
    Meeting,
    MeetingStatus,
    NotificationStatus,
    User,
    allowed_sources,
    chat_session_id_for,
    iso_utc,
)
from exec_assistant.store.base import LEDGER_RETENTION_DAYS

TableKind = Literal["users", "meetings", "chat_sessions", "notifications"]
AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]
M = TypeVar("M", bound=BaseModel)
_log = logging.getLogger(__name__)

USERS_SLACK_INDEX = "slack_user_id-index"
MEETINGS_OWNER_INDEX = "user_id-start_time-index"
MEETINGS_STATUS_INDEX = "status-start_time-index"
CHAT_ACTIVE_INDEX = "active_slack_user_id-updated_at-index"
NOTIFICATIONS_MEETING_INDEX = "meeting_id-index"

#: Attribute naming the Slack user of an ACTIVE chat session (absent otherwise): the sparse GSI.
ACTIVE_SLACK_USER_ATTR = "active_slack_user_id"
#: The ledger's partition key ("key" is a DynamoDB reserved word); the model calls it ``key``.
LEDGER_KEY_ATTR = "notification_key"
TTL_ATTR = "ttl"

_ENV_VARS: dict[TableKind, str] = {
    "users": "USERS_TABLE_NAME",
    "meetings": "MEETINGS_TABLE_NAME",
    "chat_sessions": "CHAT_SESSIONS_TABLE_NAME",
    "notifications": "NOTIFICATIONS_TABLE_NAME",
}

_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionConflictException",
        "LimitExceededException",
    }
)
_CONFIG_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
    }
)


def _index(name: str, hash_key: str, range_key: str | None = None) -> dict[str, Any]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return {"IndexName": name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}}


#: Table definitions: key attribute (all keys and index keys are strings), GSIs, TTL attribute.
TABLE_SPECS: dict[TableKind, dict[str, Any]] = {
    "users": {
        "key": "user_id",
        "indexes": [_index(USERS_SLACK_INDEX, "slack_user_id")],
        "ttl": None,
    },
    "meetings": {
        "key": "meeting_id",
        "indexes": [
            _index(MEETINGS_OWNER_INDEX, "user_id", "start_time"),
            _index(MEETINGS_STATUS_INDEX, "status", "start_time"),
        ],
        "ttl": None,
    },
    "chat_sessions": {
        "key": "session_id",
        "indexes": [_index(CHAT_ACTIVE_INDEX, ACTIVE_SLACK_USER_ATTR, "updated_at")],
        "ttl": TTL_ATTR,
    },
    "notifications": {
        "key": LEDGER_KEY_ATTR,
        "indexes": [_index(NOTIFICATIONS_MEETING_INDEX, "meeting_id")],
        "ttl": TTL_ATTR,
    },
}


# --- attribute values ---------------------------------------------------------------------


def _to_av(value: Any) -> AttributeValue:
    """A Python value (from ``model_dump()``) as a DynamoDB AttributeValue."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(value)}
    if isinstance(value, str):  # includes StrEnum members
        return {"S": str(value)}
    if isinstance(value, datetime):
        return {"S": iso_utc(value)}
    if isinstance(value, time):
        return {"S": value.isoformat()}
    if isinstance(value, list | tuple):
        return {"L": [_to_av(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): _to_av(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def _from_av(av: AttributeValue) -> Any:
    (kind, value), *_ = av.items()
    if kind == "S":
        return value
    if kind == "N":
        text = str(value)
        return float(text) if any(c in text for c in ".eE") else int(text)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "L":
        return [_from_av(v) for v in value]
    if kind == "M":
        return {k: _from_av(v) for k, v in value.items()}
    raise TypeError(f"unexpected DynamoDB attribute type {kind}")


def _fields(model: BaseModel) -> dict[str, Any]:
    """Top-level fields of ``model`` that have a value (``None`` is stored as absence)."""
    return {k: v for k, v in model.model_dump().items() if v is not None}


def _parse(cls: type[M], item: Item, renames: dict[str, str] | None = None) -> M:
    """Build ``cls`` from an item, ignoring attributes that are not model fields (ttl, GSI keys)."""
    data = {(renames or {}).get(k, k): _from_av(v) for k, v in item.items()}
    return cls.model_validate({k: v for k, v in data.items() if k in cls.model_fields})


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


class _Expr:
    """Builds update/condition expressions with placeholders for every name and value."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValue] = {}
        self.sets: list[str] = []
        self.removes: list[str] = []

    def n(self, attr: str) -> str:
        for placeholder, name in self.names.items():
            if name == attr:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attr
        return placeholder

    def v(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _to_av(value)
        return placeholder

    def set(self, attr: str, value: Any) -> None:
        """SET ``attr`` to ``value``; ``None`` REMOVEs it."""
        if value is None:
            self.removes.append(self.n(attr))
        else:
            self.sets.append(f"{self.n(attr)} = {self.v(value)}")

    def set_if_absent(self, attr: str, value: Any) -> None:
        self.sets.append(f"{self.n(attr)} = if_not_exists({self.n(attr)}, {self.v(value)})")

    def kwargs(self, condition: str | None = None) -> dict[str, Any]:
        parts = []
        if self.sets:
            parts.append("SET " + ", ".join(self.sets))
        if self.removes:
            parts.append("REMOVE " + ", ".join(self.removes))
        out: dict[str, Any] = {}
        if parts:
            out["UpdateExpression"] = " ".join(parts)
        if condition:
            out["ConditionExpression"] = condition
        if self.names:
            out["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            out["ExpressionAttributeValues"] = dict(self.values)
        return out


class _ConditionFailed(Exception):
    """A ConditionExpression was false; ``item`` is the item as it was (None if absent)."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("condition failed")
        self.item = item


class DynamoDBStore:
    """The :class:`~exec_assistant.store.base.Store` on DynamoDB (see module docstring)."""

    def __init__(
        self,
        *,
        users_table: str,
        meetings_table: str,
        chat_sessions_table: str,
        notifications_table: str,
        client: Any | None = None,
    ) -> None:
        """``client`` is a boto3 DynamoDB client (low-level; shared across threads is safe).

        Without one, the process-wide client is created on the first table call, not here:
        building it loads botocore's DynamoDB model (≈150 ms), and the Slack bot's first
        response needs no table (its work runs after the response)."""
        self._given_client = client
        self.tables: dict[TableKind, str] = {
            "users": users_table,
            "meetings": meetings_table,
            "chat_sessions": chat_sessions_table,
            "notifications": notifications_table,
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoDBStore:
        return cls(
            users_table=settings.table_name("users"),
            meetings_table=settings.table_name("meetings"),
            chat_sessions_table=settings.table_name("chat_sessions"),
            notifications_table=settings.table_name("notifications"),
        )

    @property
    def _client(self) -> Any:
        if self._given_client is None:
            from exec_assistant.aws import client as aws_client

            self._given_client = aws_client("dynamodb")  # the process-wide client
        return self._given_client

    def close(self) -> None:
        """Nothing to release: the boto3 client is shared process-wide."""

    # plumbing --------------------------------------------------------------------------------

    def _call(self, operation: str, kind: TableKind, **kwargs: Any) -> dict[str, Any]:
        """Run one client call on table ``kind``, mapping failures onto the error taxonomy."""
        table = self.tables[kind]
        try:
            response: dict[str, Any] = getattr(self._client, operation)(TableName=table, **kwargs)
        except ClientError as exc:
            self._raise_client_error(exc, kind)
        except (NoCredentialsError, PartialCredentialsError, NoRegionError) as exc:
            raise ConfigurationError(
                f"DynamoDB is not configured: {type(exc).__name__}", code="aws_config"
            ) from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            raise StoreUnavailableError(
                f"DynamoDB unreachable ({operation} on {table}): {type(exc).__name__}",
                code="connection",
            ) from exc
        return response

    def _raise_client_error(self, exc: ClientError, kind: TableKind) -> NoReturn:
        table = self.tables[kind]
        response: dict[str, Any] = dict(exc.response)
        error = response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code == "ConditionalCheckFailedException":
            raise _ConditionFailed(response.get("Item")) from exc
        if code in _TRANSIENT_CODES or status >= 500:
            raise StoreUnavailableError(f"DynamoDB {code} on {table}", code=code) from exc
        if code == "ResourceNotFoundException":
            raise ConfigurationError(
                f"DynamoDB table {table!r} does not exist (check {_ENV_VARS[kind]} and "
                "ENVIRONMENT, or create the tables)",
                code=code,
            ) from exc
        if code in _CONFIG_CODES:
            raise ConfigurationError(
                f"DynamoDB refused access to {table!r}: {code}", code=code
            ) from exc
        raise PermanentError(f"DynamoDB {code} on {table}: {error.get('Message', '')}", code=code)

    def _get(self, kind: TableKind, key: str) -> Item | None:
        response = self._call(
            "get_item", kind, Key={TABLE_SPECS[kind]["key"]: {"S": key}}, ConsistentRead=True
        )
        item: Item | None = response.get("Item")
        return item

    def _update(
        self,
        kind: TableKind,
        key: str,
        expr: _Expr,
        condition: str | None,
        *,
        return_values: str = "NONE",
    ) -> Item:
        """A conditional UpdateItem; on a false condition raises ``_ConditionFailed``."""
        try:
            response = self._call(
                "update_item",
                kind,
                Key={TABLE_SPECS[kind]["key"]: {"S": key}},
                ReturnValues=return_values,
                **({"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if condition else {}),
                **expr.kwargs(condition),
            )
        except _ConditionFailed as exc:
            self._fill_refused_item(exc, kind, key)
            raise
        attributes: Item = response.get("Attributes") or {}
        return attributes

    def _fill_refused_item(self, exc: _ConditionFailed, kind: TableKind, key: str) -> None:
        """Engines without ReturnValuesOnConditionCheckFailure (dynalite) return no item with a
        refused write: read it. The item is then at least as new as the one that refused us,
        which every caller tolerates (it only tells "missing", "final" or "someone else's")."""
        if exc.item is None:
            exc.item = self._get(kind, key)

    def _create(self, kind: TableKind, item: Item) -> None:
        """PutItem only if the key is new; else ``_ConditionFailed`` with the existing item."""
        key_attr = TABLE_SPECS[kind]["key"]
        try:
            self._call(
                "put_item",
                kind,
                Item=item,
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": key_attr},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _ConditionFailed as exc:
            self._fill_refused_item(exc, kind, item[key_attr]["S"])
            raise

    def _query(self, kind: TableKind, **kwargs: Any) -> list[Item]:
        """All pages of a Query (or a Scan when no KeyConditionExpression is given)."""
        operation = "query" if "KeyConditionExpression" in kwargs else "scan"
        items: list[Item] = []
        while True:
            response = self._call(operation, kind, **kwargs)
            items.extend(response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                return items
            kwargs["ExclusiveStartKey"] = last

    # users -----------------------------------------------------------------------------------

    def put_user(self, user: User) -> User:
        expr = _Expr()
        for name, value in user.model_dump().items():
            if name == "created_at":  # the first write's creation time is kept
                expr.set_if_absent(name, value)
            elif name != "user_id":
                expr.set(name, value)
        item = self._update("users", user.user_id, expr, None, return_values="ALL_NEW")
        return _parse(User, item)

    def get_user(self, user_id: str) -> User | None:
        item = self._get("users", user_id)
        return _parse(User, item) if item else None

    def get_user_by_slack_id(self, slack_user_id: str) -> User | None:
        expr = _Expr()
        items = self._call(
            "query",
            "users",
            IndexName=USERS_SLACK_INDEX,
            KeyConditionExpression=f"{expr.n('slack_user_id')} = {expr.v(slack_user_id)}",
            Limit=1,
            **expr.kwargs(),
        ).get("Items", [])
        return _parse(User, items[0]) if items else None

    def list_users(self) -> list[User]:
        users = [_parse(User, item) for item in self._query("users", ConsistentRead=True)]
        return sorted(users, key=lambda u: u.user_id)

    # meetings --------------------------------------------------------------------------------

    def upsert_meeting_calendar(self, meeting: Meeting) -> Meeting:
        try:
            self._create("meetings", {k: _to_av(v) for k, v in _fields(meeting).items()})
        except _ConditionFailed:
            pass  # it exists: update the calendar fields only
        else:
            return meeting
        expr = _Expr()
        for name in CALENDAR_FIELDS:
            expr.set(name, getattr(meeting, name))
        expr.set("updated_at", meeting.updated_at)
        try:
            item = self._update(
                "meetings",
                meeting.meeting_id,
                expr,
                f"attribute_exists({expr.n('meeting_id')})",
                return_values="ALL_NEW",
            )
        except _ConditionFailed as exc:  # only if it vanished between the two calls
            raise NotFoundError(f"meeting {meeting.meeting_id} not found") from exc
        return _parse(Meeting, item)

    def get_meeting(self, meeting_id: str) -> Meeting | None:
        item = self._get("meetings", meeting_id)
        return _parse(Meeting, item) if item else None

    def _meetings_in_window(
        self,
        index: str,
        attr: str,
        value: str,
        start_from: datetime,
        start_until: datetime,
        *,
        limit: int | None = None,
        exclude: Collection[MeetingStatus] = (),
    ) -> list[Meeting]:
        expr = _Expr()
        until = iso_utc(start_until)
        condition = (
            f"{expr.n(attr)} = {expr.v(value)} AND "
            f"{expr.n('start_time')} BETWEEN {expr.v(iso_utc(start_from))} AND {expr.v(until)}"
        )
        extra: dict[str, Any] = {}
        if exclude:
            excluded = ", ".join(expr.v(s.value) for s in sorted(exclude))
            extra["FilterExpression"] = f"NOT ({expr.n('status')} IN ({excluded}))"
        query = {"IndexName": index, "KeyConditionExpression": condition, **extra}
        if limit is None:
            items = self._query("meetings", **query, **expr.kwargs())
        else:
            items = self._query_first("meetings", limit, **query, **expr.kwargs())
        # BETWEEN is inclusive and key attributes cannot be filtered server-side: drop the end.
        kept = [item for item in items if item["start_time"]["S"] < until]
        kept.sort(key=lambda item: (item["start_time"]["S"], item["meeting_id"]["S"]))
        return [_parse(Meeting, item) for item in kept[:limit]]

    def _query_first(self, kind: TableKind, limit: int, **kwargs: Any) -> list[Item]:
        """The first ``limit`` items of an index Query in sort-key order, page by page (``Limit``
        per page), plus any that tie with the last of them on the sort key (``start_time``), so
        the caller's (start_time, meeting_id) order picks the same ones as SQLite's."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        items: list[Item] = []
        while limit:
            response = self._call("query", kind, Limit=limit, **kwargs)
            items.extend(response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            if len(items) > limit and items[-1]["start_time"] != items[limit - 1]["start_time"]:
                break
            kwargs["ExclusiveStartKey"] = last
        return items

    def list_meetings_for_user(
        self,
        user_id: str,
        start_from: datetime,
        start_until: datetime,
        *,
        limit: int | None = None,
        exclude: Collection[MeetingStatus] = (),
    ) -> list[Meeting]:
        return self._meetings_in_window(
            MEETINGS_OWNER_INDEX,
            "user_id",
            user_id,
            start_from,
            start_until,
            limit=limit,
            exclude=exclude,
        )

    def list_meetings_by_status(
        self,
        status: MeetingStatus,
        start_from: datetime,
        start_until: datetime,
        *,
        limit: int | None = None,
    ) -> list[Meeting]:
        return self._meetings_in_window(
            MEETINGS_STATUS_INDEX, "status", status.value, start_from, start_until, limit=limit
        )

    def transition_meeting(
        self,
        meeting_id: str,
        to_status: MeetingStatus,
        *,
        now: datetime,
        expected: Sequence[MeetingStatus] | None = None,
        chat_session_id: str | None = None,
    ) -> bool:
        sources = allowed_sources(to_status)
        if expected is not None:
            sources &= frozenset(expected)
        if not sources:  # nothing could move; still report a missing meeting like a write would
            if self._get("meetings", meeting_id) is None:
                raise NotFoundError(f"meeting {meeting_id} not found")
            return False
        expr = _Expr()
        allowed = ", ".join(expr.v(s.value) for s in sorted(sources))
        condition = (
            f"attribute_exists({expr.n('meeting_id')}) AND {expr.n('status')} IN ({allowed})"
        )
        expr.set("status", to_status.value)
        expr.set("updated_at", now)
        if chat_session_id is not None:
            expr.set("chat_session_id", chat_session_id)
        try:
            self._update("meetings", meeting_id, expr, condition)
        except _ConditionFailed as exc:
            if exc.item is None:
                raise NotFoundError(f"meeting {meeting_id} not found") from exc
            return False
        return True

    def record_meeting_notification(
        self,
        meeting_id: str,
        *,
        status: NotificationStatus,
        channel: Channel | None,
        cycle: str,
        at: datetime,
        move_to: MeetingStatus | None = None,
        move_from: Sequence[MeetingStatus] | None = None,
    ) -> bool:
        def fields() -> _Expr:
            expr = _Expr()
            expr.set("notification_status", status.value)
            expr.set("notification_channel", channel.value if channel else None)
            expr.set("notification_cycle", cycle)
            expr.set("notified_at", at)
            expr.set("updated_at", at)
            return expr

        sources = allowed_sources(move_to) if move_to is not None else frozenset()
        if move_from is not None:
            sources &= frozenset(move_from)
        if move_to is not None and sources:
            # One conditional write moves the status and sets the fields; if the status does not
            # allow the move, a second, unconditional one sets the fields alone.
            expr = fields()
            allowed = ", ".join(expr.v(s.value) for s in sorted(sources))
            condition = (
                f"attribute_exists({expr.n('meeting_id')}) AND {expr.n('status')} IN ({allowed})"
            )
            expr.set("status", move_to.value)
            try:
                self._update("meetings", meeting_id, expr, condition)
                return True
            except _ConditionFailed as exc:
                if exc.item is None:
                    raise NotFoundError(f"meeting {meeting_id} not found") from exc
        expr = fields()
        try:
            self._update("meetings", meeting_id, expr, f"attribute_exists({expr.n('meeting_id')})")
        except _ConditionFailed as exc:
            raise NotFoundError(f"meeting {meeting_id} not found") from exc
        return False

    # chat sessions ---------------------------------------------------------------------------

    def create_chat_session(self, session: ChatSession) -> tuple[ChatSession, bool]:
        if session.session_id != chat_session_id_for(session.meeting_id):
            raise ValueError(
                f"session_id must be chat_session_id_for(meeting_id) = "
                f"{chat_session_id_for(session.meeting_id)!r} (one session per meeting)"
            )
        item = {k: _to_av(v) for k, v in _fields(session).items()}
        item[TTL_ATTR] = _to_av(_epoch(session.expires_at))
        if session.state == ChatState.ACTIVE and session.slack_user_id:
            item[ACTIVE_SLACK_USER_ATTR] = _to_av(session.slack_user_id)
        try:
            self._create("chat_sessions", item)
        except _ConditionFailed as exc:
            if exc.item is None:  # expired (TTL) between the refusal and the read: try again
                return self.create_chat_session(session)
            return _parse(ChatSession, exc.item), False
        return session, True

    def get_chat_session(self, session_id: str) -> ChatSession | None:
        item = self._get("chat_sessions", session_id)
        return _parse(ChatSession, item) if item else None

    def get_active_chat_session(self, slack_user_id: str) -> ChatSession | None:
        expr = _Expr()
        items = self._call(
            "query",
            "chat_sessions",
            IndexName=CHAT_ACTIVE_INDEX,
            KeyConditionExpression=f"{expr.n(ACTIVE_SLACK_USER_ATTR)} = {expr.v(slack_user_id)}",
            ScanIndexForward=False,
            Limit=1,
            **expr.kwargs(),
        ).get("Items", [])
        return _parse(ChatSession, items[0]) if items else None

    def append_chat_message(self, session_id: str, message: ChatMessage, *, now: datetime) -> None:
        expr = _Expr()
        messages = expr.n("messages")
        expr.sets.append(f"{messages} = list_append({messages}, {expr.v([message.model_dump()])})")
        expr.set("updated_at", now)
        try:
            self._update(
                "chat_sessions", session_id, expr, f"attribute_exists({expr.n('session_id')})"
            )
        except _ConditionFailed as exc:
            raise NotFoundError(f"chat session {session_id} not found") from exc

    def advance_chat_session(
        self,
        session_id: str,
        *,
        expected_step: int,
        step: int,
        prep_answers: dict[str, str],
        state: ChatState,
        now: datetime,
    ) -> bool:
        expr = _Expr()
        condition = (
            f"{expr.n('step')} = {expr.v(expected_step)} AND "
            f"{expr.n('state')} = {expr.v(ChatState.ACTIVE.value)}"
        )
        expr.set("step", step)
        expr.set("prep_answers", dict(prep_answers))
        expr.set("state", state.value)
        expr.set("updated_at", now)
        if state != ChatState.ACTIVE:
            expr.removes.append(expr.n(ACTIVE_SLACK_USER_ATTR))
        try:
            self._update("chat_sessions", session_id, expr, condition)
        except _ConditionFailed as exc:
            if exc.item is None:
                raise NotFoundError(f"chat session {session_id} not found") from exc
            return False
        return True

    # notification ledger ---------------------------------------------------------------------

    @staticmethod
    def _record(item: Item) -> LedgerRecord:
        return _parse(LedgerRecord, item, {LEDGER_KEY_ATTR: "key"})

    @staticmethod
    def _owned(expr: _Expr, owner: str) -> str:
        return (
            f"{expr.n('owner')} = {expr.v(owner)} AND "
            f"{expr.n('state')} = {expr.v(LedgerState.IN_PROGRESS.value)}"
        )

    @staticmethod
    def _lost(key: str, owner: str) -> LeaseLostError:
        return LeaseLostError(f"ledger key {key} is no longer owned by {owner}")

    @classmethod
    def _still_owned(cls, item: Item | None, owner: str) -> bool:
        if item is None:
            return False
        record = cls._record(item)
        return record.owner == owner and record.state == LedgerState.IN_PROGRESS

    def claim_notification(
        self,
        key: str,
        meeting_id: str,
        *,
        owner: str,
        now: datetime,
        lease_seconds: float,
        first_attempt: DeliveryAttempt | None = None,
    ) -> Claim:
        if first_attempt is not None and first_attempt.seq != 0:
            raise ValueError(f"first attempt seq {first_attempt.seq} != 0")
        lease_until = now + timedelta(seconds=lease_seconds)
        fresh = LedgerRecord(
            key=key,
            meeting_id=meeting_id,
            state=LedgerState.IN_PROGRESS,
            owner=owner,
            lease_expires_at=lease_until,
            attempts=[first_attempt] if first_attempt is not None else [],
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(days=LEDGER_RETENTION_DAYS),
        )
        expr = _Expr()
        state, lease = expr.n("state"), expr.n("lease_expires_at")
        # One conditional write decides: a new key, a released claim or an expired lease is ours.
        # The creation-only attributes are set with if_not_exists, so a taken-over record keeps
        # its own; ``attempts`` among them: the first attempt lands only on a new record.
        condition = (
            f"attribute_not_exists({expr.n(LEDGER_KEY_ATTR)}) "
            f"OR {state} = {expr.v(LedgerState.RELEASED.value)} "
            f"OR ({state} = {expr.v(LedgerState.IN_PROGRESS.value)} AND {lease} <= {expr.v(now)})"
        )
        expr.set("state", LedgerState.IN_PROGRESS.value)
        expr.set("owner", owner)
        expr.set("lease_expires_at", lease_until)
        expr.set("updated_at", now)
        dumped = fresh.model_dump()
        for name in ("meeting_id", "created_at", "expires_at", "attempts"):
            expr.set_if_absent(name, dumped[name])
        expr.set_if_absent(TTL_ATTR, _epoch(fresh.expires_at))
        try:
            old = self._update("notifications", key, expr, condition, return_values="ALL_OLD")
        except _ConditionFailed as exc:
            if exc.item is None:  # expired (TTL) between the refusal and the read: try again
                return self.claim_notification(
                    key,
                    meeting_id,
                    owner=owner,
                    now=now,
                    lease_seconds=lease_seconds,
                    first_attempt=first_attempt,
                )
            record = self._record(exc.item)
            return Claim(
                outcome=ClaimOutcome.DONE if record.final else ClaimOutcome.BUSY, record=record
            )
        if not old:
            return Claim(outcome=ClaimOutcome.WON, record=fresh)
        recovered = self._record(old).model_copy(
            update={
                "state": LedgerState.IN_PROGRESS,
                "owner": owner,
                "lease_expires_at": lease_until,
                "updated_at": now,
            }
        )
        return Claim(outcome=ClaimOutcome.RECOVERED, record=recovered)

    def record_attempt(self, key: str, *, owner: str, attempt: DeliveryAttempt) -> None:
        expr = _Expr()
        attempts = expr.n("attempts")
        condition = f"{self._owned(expr, owner)} AND size({attempts}) = {expr.v(attempt.seq)}"
        expr.sets.append(f"{attempts} = list_append({attempts}, {expr.v([attempt.model_dump()])})")
        try:
            self._update("notifications", key, expr, condition)
        except _ConditionFailed as exc:
            if not self._still_owned(exc.item, owner):
                raise self._lost(key, owner) from exc
            recorded = len(self._record(exc.item or {}).attempts)
            raise ValueError(f"attempt seq {attempt.seq} != {recorded} recorded") from exc

    def complete_attempt(self, key: str, *, owner: str, attempt: DeliveryAttempt) -> None:
        if attempt.seq < 0:
            raise ValueError(f"attempt seq {attempt.seq} was never recorded")
        expr = _Expr()
        attempts = expr.n("attempts")
        condition = f"{self._owned(expr, owner)} AND size({attempts}) > {expr.v(attempt.seq)}"
        expr.sets.append(f"{attempts}[{int(attempt.seq)}] = {expr.v(attempt.model_dump())}")
        try:
            self._update("notifications", key, expr, condition)
        except _ConditionFailed as exc:
            if not self._still_owned(exc.item, owner):
                raise self._lost(key, owner) from exc
            raise ValueError(f"attempt seq {attempt.seq} was never recorded") from exc

    def finish_notification(
        self,
        key: str,
        *,
        owner: str,
        state: LedgerState,
        delivered_channel: Channel | None,
        now: datetime,
        completed: DeliveryAttempt | None = None,
    ) -> LedgerRecord:
        if state == LedgerState.IN_PROGRESS:
            raise ValueError("finish_notification needs a final or released state")
        if completed is not None and completed.seq < 0:
            raise ValueError(f"attempt seq {completed.seq} was never recorded")
        expr = _Expr()
        condition = self._owned(expr, owner)
        if completed is not None:
            attempts = expr.n("attempts")
            condition += f" AND size({attempts}) > {expr.v(completed.seq)}"
            expr.sets.append(f"{attempts}[{int(completed.seq)}] = {expr.v(completed.model_dump())}")
        expr.set("state", state.value)
        expr.set("delivered_channel", delivered_channel.value if delivered_channel else None)
        expr.set("lease_expires_at", now)
        expr.set("updated_at", now)
        try:
            item = self._update("notifications", key, expr, condition, return_values="ALL_NEW")
        except _ConditionFailed as exc:
            if completed is not None and self._still_owned(exc.item, owner):
                raise ValueError(f"attempt seq {completed.seq} was never recorded") from exc
            raise self._lost(key, owner) from exc
        return self._record(item)

    def get_notification(self, key: str) -> LedgerRecord | None:
        item = self._get("notifications", key)
        return self._record(item) if item else None

    def list_notifications_for_meeting(self, meeting_id: str) -> list[LedgerRecord]:
        expr = _Expr()
        items = self._query(
            "notifications",
            IndexName=NOTIFICATIONS_MEETING_INDEX,
            KeyConditionExpression=f"{expr.n('meeting_id')} = {expr.v(meeting_id)}",
            **expr.kwargs(),
        )
        records = [self._record(item) for item in items]
        return sorted(records, key=lambda r: (r.created_at, r.key))

    # tables ----------------------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the four tables (on-demand) with their GSIs and TTL; existing ones are kept.

        For tests and local development (moto, dynalite); AWS deployments get the same schema
        from the Pulumi program.
        """
        for kind, spec in TABLE_SPECS.items():
            attrs = {spec["key"]}
            for index in spec["indexes"]:
                attrs |= {k["AttributeName"] for k in index["KeySchema"]}
            try:
                self._call(
                    "create_table",
                    kind,
                    BillingMode="PAY_PER_REQUEST",
                    KeySchema=[{"AttributeName": spec["key"], "KeyType": "HASH"}],
                    AttributeDefinitions=[
                        {"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)
                    ],
                    GlobalSecondaryIndexes=spec["indexes"],
                )
            except PermanentError as exc:
                if exc.code == "ResourceInUseException":
                    continue  # already there
                raise
            self._client.get_waiter("table_exists").wait(
                TableName=self.tables[kind], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            if spec["ttl"]:
                try:
                    self._call(
                        "update_time_to_live",
                        kind,
                        TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["ttl"]},
                    )
                except PermanentError as exc:
                    if exc.code != "UnknownOperationException":
                        raise
                    # some local engines (dynalite) have no TTL; items then simply stay
                    log_event(
                        _log, logging.WARNING, "dynamodb.ttl_unsupported", table=self.tables[kind]
                    )
