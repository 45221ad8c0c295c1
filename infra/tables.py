"""The DynamoDB tables, with exactly the key schema and indexes the DynamoDB store uses.

On-demand billing (a handful of meetings a day costs cents, and there is no capacity to tune);
server-side encryption with the AWS managed KMS key ``aws/dynamodb`` (see docs/DEPLOYMENT.md for
why not a customer managed key); point-in-time recovery and deletion protection in prod; TTL on
the tables whose items the store expires.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig
from infra.naming import table_name, tags


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None

    def key_schema(self) -> list[tuple[str, str]]:
        """``(attribute, HASH|RANGE)`` pairs (``key_schemas``; ``hash_key`` is deprecated)."""
        keys = [(self.hash_key, "HASH")]
        if self.range_key is not None:
            keys.append((self.range_key, "RANGE"))
        return keys


@dataclass(frozen=True)
class TableSpec:
    """One table: ``table`` is the package's name for it (``chat_sessions``)."""

    table: str
    hash_key: str
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None

    def attributes(self) -> list[str]:
        """Every key attribute of the table and its indexes, once, in order of appearance."""
        names = [self.hash_key]
        for index in self.indexes:
            names.extend(k for k in (index.hash_key, index.range_key) if k is not None)
        return list(dict.fromkeys(names))


#: The schema contract with exec_assistant/store/dynamodb.py; all key attributes are strings.
TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec("users", "user_id", (Index("slack_user_id-index", "slack_user_id"),)),
    TableSpec(
        "meetings",
        "meeting_id",
        (
            Index("user_id-start_time-index", "user_id", "start_time"),
            Index("status-start_time-index", "status", "start_time"),
            # the calendar monitor's pass: meetings whose prep window is open (its opening time)
            Index("status-prep_opens_at-index", "status", "prep_opens_at"),
        ),
    ),
    TableSpec(
        "chat_sessions",
        "session_id",
        (Index("active_slack_user_id-updated_at-index", "active_slack_user_id", "updated_at"),),
        ttl_attribute="ttl",
    ),
    TableSpec(
        "notifications",
        "notification_key",
        (Index("meeting_id-index", "meeting_id"),),
        ttl_attribute="ttl",
    ),
    # registered calendar feeds (exec_assistant/store/feeds.py: its own small store); the monitor
    # queries the due ones (one partition "feed", sorted by next_check_at) instead of scanning
    TableSpec("feeds", "feed_id", (Index("due-next_check_at-index", "due", "next_check_at"),)),
)


def create_table(spec: TableSpec, cfg: StackConfig) -> aws.dynamodb.Table:
    name = table_name(spec.table, cfg.env)
    return aws.dynamodb.Table(
        name,
        name=name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=spec.hash_key,
        attributes=[
            aws.dynamodb.TableAttributeArgs(name=attr, type="S") for attr in spec.attributes()
        ],
        global_secondary_indexes=[
            aws.dynamodb.TableGlobalSecondaryIndexArgs(
                name=index.name,
                key_schemas=[
                    aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                        attribute_name=attribute, key_type=key_type
                    )
                    for attribute, key_type in index.key_schema()
                ],
                projection_type="ALL",
            )
            for index in spec.indexes
        ]
        or None,
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=cfg.is_prod),
        deletion_protection_enabled=cfg.is_prod,
        ttl=(
            aws.dynamodb.TableTtlArgs(attribute_name=spec.ttl_attribute, enabled=True)
            if spec.ttl_attribute
            else None
        ),
        tags=tags(cfg.env),
        opts=pulumi.ResourceOptions(protect=cfg.is_prod),
    )


def create_tables(cfg: StackConfig) -> dict[str, aws.dynamodb.Table]:
    """All tables keyed by the package's table name (``users``, ``chat_sessions``, …)."""
    return {spec.table: create_table(spec, cfg) for spec in TABLE_SPECS}
