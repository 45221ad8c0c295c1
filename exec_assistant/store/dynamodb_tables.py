"""DynamoDB plumbing shared by the store's parts: table names and schema, the client, and the
calls (get, conditional update, create-if-absent, paged query) with failures mapped onto the
error taxonomy (throttling and 5xx → ``StoreUnavailableError``, a missing table or refused
credentials → ``ConfigurationError``, a false condition → :class:`ConditionFailed`).

The schema (:data:`TABLE_SPECS`) is also what the Pulumi program deploys. boto3 is reached only
through :func:`exec_assistant.aws.client` (a shared, thread-safe low-level client), so importing
this module costs botocore's exceptions and nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, NoReturn, Self

from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from exec_assistant import metrics
from exec_assistant.config import SettingsModel
from exec_assistant.errors import (
    ConfigurationError,
    PermanentError,
    StoreUnavailableError,
)
from exec_assistant.logs import log_event
from exec_assistant.store.dynamodb_codec import ConditionFailed, Expr, Item

TableKind = Literal["users", "meetings", "chat_sessions", "notifications"]
_log = logging.getLogger(__name__)

#: How many times a ``BatchGetItem`` is sent for keys DynamoDB left unprocessed.
BATCH_GET_ROUNDS = 3
USERS_SLACK_INDEX = "slack_user_id-index"
MEETINGS_OWNER_INDEX = "user_id-start_time-index"
MEETINGS_STATUS_INDEX = "status-start_time-index"
MEETINGS_PREP_WINDOW_INDEX = "status-prep_opens_at-index"
#: When a meeting's prep window opens (start - prep_hours_before): the prep-window index's sort
#: key, written with the calendar fields (not a model field).
PREP_OPENS_ATTR = "prep_opens_at"
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
            _index(MEETINGS_PREP_WINDOW_INDEX, "status", PREP_OPENS_ATTR),
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


class DynamoDBTables:
    """The four tables and the one client call that maps failures onto the error taxonomy."""

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
    def from_settings(cls, settings: SettingsModel) -> Self:
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
            metrics.emit(
                metrics.Metric.STORE_UNAVAILABLE,
                table=table,
                operation=operation,
                error_code="connection",
            )
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
            raise ConditionFailed(response.get("Item")) from exc
        if code in _TRANSIENT_CODES or status >= 500:
            metrics.emit(metrics.Metric.STORE_UNAVAILABLE, table=table, error_code=code)
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

    def _table_call(self, kind: TableKind) -> Callable[..., dict[str, Any] | None]:
        """:meth:`_call` bound to table ``kind``, a false condition answered ``None`` (the
        :class:`~exec_assistant.store.index_fill.TableCall` of :mod:`.index_fill`)."""

        def call(operation: str, **kwargs: Any) -> dict[str, Any] | None:
            try:
                return self._call(operation, kind, **kwargs)
            except ConditionFailed:
                return None

        return call

    def _get(self, kind: TableKind, key: str) -> Item | None:
        response = self._call(
            "get_item", kind, Key={TABLE_SPECS[kind]["key"]: {"S": key}}, ConsistentRead=True
        )
        item: Item | None = response.get("Item")
        return item

    def _get_many(self, keys: list[tuple[TableKind, str]]) -> dict[tuple[TableKind, str], Item]:
        """Items by key from one or more tables in one ``BatchGetItem`` (strongly consistent),
        asking again for keys DynamoDB left unprocessed (throttling) up to
        :data:`BATCH_GET_ROUNDS` times; the items found, by ``(kind, key)``."""
        by_table = {self.tables[kind]: kind for kind, _ in keys}
        request: dict[str, Any] = {}
        for kind, key in keys:
            entry = request.setdefault(self.tables[kind], {"Keys": [], "ConsistentRead": True})
            entry["Keys"].append({TABLE_SPECS[kind]["key"]: {"S": key}})
        found: dict[tuple[TableKind, str], Item] = {}
        for _ in range(BATCH_GET_ROUNDS):
            try:
                response = self._client.batch_get_item(RequestItems=request)
            except ClientError as exc:
                self._raise_client_error(exc, keys[0][0])
            except (BotoConnectionError, HTTPClientError) as exc:
                self._unavailable("batch_get_item", "connection")
                raise StoreUnavailableError(
                    f"DynamoDB unreachable (batch_get_item): {type(exc).__name__}",
                    code="connection",
                ) from exc
            for table, items in response.get("Responses", {}).items():
                kind = by_table[table]
                for item in items:
                    found[(kind, item[TABLE_SPECS[kind]["key"]]["S"])] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        self._unavailable("batch_get_item", "UnprocessedKeys")
        raise StoreUnavailableError(
            "DynamoDB left keys unprocessed (throttled)", code="UnprocessedKeys"
        )

    def _unavailable(self, operation: str, code: str) -> None:
        """The StoreUnavailable metric of a call that spans tables (``_call`` names the table)."""
        metrics.emit(metrics.Metric.STORE_UNAVAILABLE, operation=operation, error_code=code)

    def _delete(self, kind: TableKind, key: str) -> bool:
        """DeleteItem; True if the item was there. A delete resent after a lost answer finds
        nothing and says False: the item is gone either way."""
        response = self._call(
            "delete_item", kind, Key={TABLE_SPECS[kind]["key"]: {"S": key}}, ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))

    def _update(
        self,
        kind: TableKind,
        key: str,
        expr: Expr,
        condition: str | None,
        *,
        return_values: str = "NONE",
    ) -> Item:
        """A conditional UpdateItem; on a false condition raises ``ConditionFailed``."""
        try:
            response = self._call(
                "update_item",
                kind,
                Key={TABLE_SPECS[kind]["key"]: {"S": key}},
                ReturnValues=return_values,
                **({"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if condition else {}),
                **expr.kwargs(condition),
            )
        except ConditionFailed as exc:
            self._fill_refused_item(exc, kind, key)
            raise
        attributes: Item = response.get("Attributes") or {}
        return attributes

    def _fill_refused_item(self, exc: ConditionFailed, kind: TableKind, key: str) -> None:
        """Engines without ReturnValuesOnConditionCheckFailure (dynalite) return no item with a
        refused write: read it. The item is then at least as new as the one that refused us,
        which every caller tolerates (it only tells "missing", "final" or "someone else's")."""
        if exc.item is None:
            exc.item = self._get(kind, key)

    def _create(self, kind: TableKind, item: Item) -> None:
        """PutItem only if the key is new; else ``ConditionFailed`` with the existing item."""
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
        except ConditionFailed as exc:
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
