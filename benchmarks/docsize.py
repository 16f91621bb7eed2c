"""Stored document sizes by Firestore's own rules, against the 1 MiB limit.

https://firebase.google.com/docs/firestore/storage-size: a document is its name
plus its fields plus 32 bytes; a field is its name (UTF-8 bytes + 1) plus its
value (strings UTF-8 bytes + 1; numbers, timestamps 8; booleans, null 1; maps
and arrays the sum of their parts).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from benchmarks import fixtures as fx
from slotwork.store.firestore import RUNS

LIMIT = 1 << 20  # 1 MiB
GOAL_FRACTION = 0.10
SAMPLE_ITEMS = 1_000


def name_size(path: str) -> int:
    """A document name: each path segment's UTF-8 bytes + 1, plus 16."""
    return sum(len(part.encode()) + 1 for part in path.split("/")) + 16


def value_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int | float | dt.datetime):
        return 8
    if isinstance(value, str):
        return len(value.encode()) + 1
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, dict):
        return sum(len(str(k).encode()) + 1 + value_size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(value_size(v) for v in value)
    if isinstance(value, firestore.DocumentReference):
        return name_size(value.path)
    if isinstance(value, firestore.GeoPoint):
        return 16
    return len(str(value).encode()) + 1


def document_size(path: str, data: dict[str, Any]) -> int:
    return name_size(path) + value_size(data) + 32


@dataclass(frozen=True)
class Largest:
    kind: str
    count: int
    path: str
    size: int

    @property
    def fraction(self) -> float:
        return self.size / LIMIT


def survey(
    client: firestore.Client, process: str, sample_items: int = SAMPLE_ITEMS
) -> list[Largest]:
    """The largest process document, run record and (sampled) work item of ``process``."""
    proc = client.collection(fx.COLLECTION).document(process)
    found: list[Largest] = []
    snap = proc.get()
    data = snap.to_dict() or {}
    found.append(Largest("process document", 1, proc.path, document_size(proc.path, data)))
    runs = [(d.reference.path, d.to_dict() or {}) for d in proc.collection(RUNS).stream()]
    if runs:
        path, size = max(((p, document_size(p, d)) for p, d in runs), key=lambda x: x[1])
        found.append(Largest("run record", len(runs), path, size))
    items = [
        (d.reference.path, d.to_dict() or {})
        for d in fx.work_collection(client, process).limit(sample_items).stream()
    ]
    if items:
        path, size = max(((p, document_size(p, d)) for p, d in items), key=lambda x: x[1])
        found.append(Largest(f"work item (first {len(items):,} sampled)", len(items), path, size))
    return found
