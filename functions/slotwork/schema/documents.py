"""Proto messages <-> Firestore documents, field by field, readable in the console.

Timestamps become native Firestore timestamps, Durations numbers of seconds,
enums their names, maps and messages Firestore maps; field names stay the
proto's snake_case names. Only fields that are set are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from slotwork.errors import SchemaTooNew
from slotwork.schema import SCHEMA_VERSION

M = TypeVar("M", bound=Message)

_TIMESTAMP = Timestamp.DESCRIPTOR.full_name
_DURATION = Duration.DESCRIPTOR.full_name


def _value_to_doc(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        name = field.message_type.full_name
        if name == _TIMESTAMP:
            return value.ToDatetime(tzinfo=UTC)
        if name == _DURATION:
            return value.ToTimedelta().total_seconds()
        return to_doc(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values_by_number[value].name
    return value


def to_doc(message: Message) -> dict[str, Any]:
    """The Firestore map of ``message`` (set fields only)."""
    doc: dict[str, Any] = {}
    for field, value in message.ListFields():
        field = cast(Any, field)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            doc[field.name] = {k: _value_to_doc(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            doc[field.name] = [_value_to_doc(field, v) for v in value]
        else:
            doc[field.name] = _value_to_doc(field, value)
    return doc


def _set_message(field: Any, target: Any, raw: Any) -> None:
    name = field.message_type.full_name
    if name == _TIMESTAMP:
        target.FromDatetime(as_utc(raw))
    elif name == _DURATION:
        target.FromTimedelta(timedelta(seconds=float(raw)))
    else:
        _fill(target, raw)


def _enum_value(field: Any, raw: Any) -> int:
    if isinstance(raw, str):
        value = field.enum_type.values_by_name.get(raw)
        return value.number if value is not None else 0
    return int(raw)


def _fill(message: Message, data: Mapping[str, Any]) -> None:
    fields: dict[str, Any] = dict(message.DESCRIPTOR.fields_by_name)
    for key, raw in data.items():
        field = fields.get(key)
        if field is None or raw is None:
            continue  # written by a newer minor version, or cleared
        target = getattr(message, key)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            for k, v in raw.items():
                if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                    _set_message(value_field, target[k], v)
                elif value_field.type == FieldDescriptor.TYPE_ENUM:
                    target[k] = _enum_value(value_field, v)
                else:
                    target[k] = v
        elif field.is_repeated:
            for v in raw:
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    _set_message(field, target.add(), v)
                elif field.type == FieldDescriptor.TYPE_ENUM:
                    target.append(_enum_value(field, v))
                else:
                    target.append(v)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            _set_message(field, target, raw)
        elif field.type == FieldDescriptor.TYPE_ENUM:
            setattr(message, key, _enum_value(field, raw))
        else:
            setattr(message, key, raw)


def from_doc(cls: type[M], data: Mapping[str, Any] | None) -> M:
    """A ``cls`` message from its Firestore map; refuses a newer schema version."""
    message = cls()
    if not data:
        return message
    version = data.get("schema_version", 0)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{cls.DESCRIPTOR.name} document has schema_version {version}; this slotwork "
            f"reads up to {SCHEMA_VERSION}: upgrade slotwork"
        )
    _fill(message, data)
    return message


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime (Firestore returns aware ones; tests may pass naive UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def ts_to_datetime(ts: Timestamp) -> datetime:
    """An aware UTC datetime from a Timestamp."""
    return ts.ToDatetime(tzinfo=UTC)


def datetime_to_ts(value: datetime) -> Timestamp:
    """A Timestamp from an aware datetime."""
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts
