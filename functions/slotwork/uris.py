"""The URIs slotwork hands out: each name one percent-encoded path segment, so
that the API's router, which decodes every segment once, gives the name back.
"""

from __future__ import annotations

from urllib.parse import quote


def encode_segment(name: str) -> str:
    """``name`` as one path segment: everything but RFC 3986's unreserved characters
    percent-encoded as UTF-8, ``/``, ``%``, ``?``, ``#`` and ``:`` included."""
    return quote(name, safe="")


def work_uri(base: str, process: str, item: str) -> str:
    """The URI of a work item under the API's ``base`` ("" for a path from the root)."""
    return f"{base}/processes/{encode_segment(process)}/work/{encode_segment(item)}"
