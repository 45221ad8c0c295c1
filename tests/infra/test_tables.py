"""DynamoDB tables: names, the store's key schema and GSIs, on-demand, KMS, PITR in prod, TTL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Deployment

TABLE = "aws:dynamodb/table:Table"

#: The schema the DynamoDB store implements (stated here independently of infra/tables.py):
#: table → (hash key, {index: (hash, range)}, ttl attribute).
EXPECTED: dict[str, tuple[str, dict[str, tuple[str, str | None]], str | None]] = {
    "users": ("user_id", {"slack_user_id-index": ("slack_user_id", None)}, None),
    "meetings": (
        "meeting_id",
        {
            "user_id-start_time-index": ("user_id", "start_time"),
            "status-start_time-index": ("status", "start_time"),
            "status-prep_opens_at-index": ("status", "prep_opens_at"),
        },
        None,
    ),
    "chat-sessions": (
        "session_id",
        {"active_slack_user_id-updated_at-index": ("active_slack_user_id", "updated_at")},
        "ttl",
    ),
    "notifications": ("notification_key", {"meeting_id-index": ("meeting_id", None)}, "ttl"),
    "feeds": ("feed_id", {"due-next_check_at-index": ("due", "next_check_at")}, None),
}


def _indexes(table: Any) -> dict[str, tuple[str, str | None]]:
    """GSI name → (hash, range) from the ``keySchemas`` the program declares."""
    indexes: dict[str, tuple[str, str | None]] = {}
    for gsi in table.get("globalSecondaryIndexes") or []:
        assert "hashKey" not in gsi and "rangeKey" not in gsi  # deprecated in pulumi-aws 7
        keys = {k["keyType"]: k["attributeName"] for k in gsi["keySchemas"]}
        assert len(keys) == len(gsi["keySchemas"]) and set(keys) <= {"HASH", "RANGE"}
        indexes[gsi["name"]] = (keys["HASH"], keys.get("RANGE"))
    return indexes


def test_exactly_the_four_tables_named_by_convention(any_deployment: Deployment) -> None:
    names = {t["name"] for t in any_deployment.of_type(TABLE)}
    assert names == {f"exec-assistant-{t}-{any_deployment.env}" for t in EXPECTED}


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_key_schema_and_indexes_match_the_store(dev: Deployment, table: str) -> None:
    hash_key, indexes, _ = EXPECTED[table]
    resource = dev.one(TABLE, name=f"exec-assistant-{table}-dev")
    assert resource["hashKey"] == hash_key
    assert "rangeKey" not in resource.inputs
    assert _indexes(resource) == indexes
    projections = {gsi["projectionType"] for gsi in resource.get("globalSecondaryIndexes") or []}
    assert projections == ({"ALL"} if indexes else set())
    key_attributes = {hash_key} | {k for pair in indexes.values() for k in pair if k}
    assert {a["name"]: a["type"] for a in resource["attributes"]} == dict.fromkeys(
        key_attributes, "S"
    )


def test_tables_match_the_dynamodb_store_definition(dev: Deployment) -> None:
    """The deployed schema is exactly what exec_assistant/store/dynamodb.py creates and queries."""
    from exec_assistant.store.dynamodb import TABLE_SPECS

    for kind, spec in TABLE_SPECS.items():
        resource = dev.one(TABLE, name=f"exec-assistant-{kind.replace('_', '-')}-dev")
        assert resource["hashKey"] == spec["key"]
        store_indexes = {
            index["IndexName"]: tuple(k["AttributeName"] for k in index["KeySchema"])
            for index in spec["indexes"]
        }
        assert {
            name: tuple(k for k in keys if k) for name, keys in _indexes(resource).items()
        } == store_indexes
        ttl = resource.get("ttl")
        assert (ttl["attributeName"] if ttl else None) == spec["ttl"]


def test_on_demand_and_kms_encrypted(any_deployment: Deployment) -> None:
    for table in any_deployment.of_type(TABLE):
        assert table["billingMode"] == "PAY_PER_REQUEST"
        assert "readCapacity" not in table.inputs and "writeCapacity" not in table.inputs
        # Enabled without a key ARN = SSE-KMS with the AWS managed key aws/dynamodb.
        assert table["serverSideEncryption"] == {"enabled": True}


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_ttl_only_where_the_store_expires_items(any_deployment: Deployment, table: str) -> None:
    resource = any_deployment.one(TABLE, name=f"exec-assistant-{table}-{any_deployment.env}")
    ttl_attribute = EXPECTED[table][2]
    if ttl_attribute is None:
        assert resource.get("ttl") is None
    else:
        assert resource["ttl"] == {"attributeName": ttl_attribute, "enabled": True}


def test_point_in_time_recovery_and_deletion_protection_only_in_prod(
    dev: Deployment, prod: Deployment
) -> None:
    for table in prod.of_type(TABLE):
        assert table["pointInTimeRecovery"] == {"enabled": True}
        assert table["deletionProtectionEnabled"] is True
    for table in dev.of_type(TABLE):
        assert table["pointInTimeRecovery"] == {"enabled": False}
        assert table["deletionProtectionEnabled"] is False


def test_feeds_due_index_is_the_one_the_feed_store_queries(dev: Deployment) -> None:
    from exec_assistant.store.feeds import DUE_ATTR, FEEDS_DUE_INDEX

    resource = dev.one(TABLE, name="exec-assistant-feeds-dev")
    assert _indexes(resource) == {FEEDS_DUE_INDEX: (DUE_ATTR, "next_check_at")}
