"""DynamoDB attribute values and expressions: the translation between models and items.

Hand-written because boto3's ``TypeSerializer`` works on ``Decimal`` and knows neither
datetimes nor pydantic models, and the store needs every name and value behind a placeholder
(``Expr``) so attribute names never collide with DynamoDB's reserved words.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, TypeVar

from pydantic import BaseModel

from exec_assistant.models import iso_utc

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]
M = TypeVar("M", bound=BaseModel)


def to_av(value: Any) -> AttributeValue:
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
        return {"L": [to_av(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): to_av(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def from_av(av: AttributeValue) -> Any:
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
        return [from_av(v) for v in value]
    if kind == "M":
        return {k: from_av(v) for k, v in value.items()}
    raise TypeError(f"unexpected DynamoDB attribute type {kind}")


def item_fields(model: BaseModel) -> dict[str, Any]:
    """Top-level fields of ``model`` that have a value (``None`` is stored as absence)."""
    return {k: v for k, v in model.model_dump().items() if v is not None}


def parse_item(cls: type[M], item: Item, renames: dict[str, str] | None = None) -> M:
    """Build ``cls`` from an item, ignoring attributes that are not model fields (ttl, GSI keys)."""
    data = {(renames or {}).get(k, k): from_av(v) for k, v in item.items()}
    return cls.model_validate({k: v for k, v in data.items() if k in cls.model_fields})


def epoch(value: datetime) -> int:
    return int(value.timestamp())


class Expr:
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
        self.values[placeholder] = to_av(value)
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


class ConditionFailed(Exception):
    """A ConditionExpression was false; ``item`` is the item as it was (None if absent)."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("condition failed")
        self.item = item
