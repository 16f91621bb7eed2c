"""The request path as the client sent it, split into segments, each decoded once.

WSGI servers hand over ``PATH_INFO`` already percent-decoded, so an item
named ``a%2Fb`` would arrive as two segments. The raw request URI (gunicorn's
``RAW_URI``, werkzeug's ``REQUEST_URI``) keeps the encoding: it is split on
``/`` first and each segment is decoded afterwards, exactly once, so ``%2F``
inside a name stays in that name (where name validation refuses it) and
``%2525`` is the name ``%25``. ``work_uri`` writes the other way: each name
percent-encoded as one segment, so that decoding it once gives the name back.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

import flask

from slotwork.errors import InvalidArgument
from slotwork.uris import encode_segment, work_uri

__all__ = ["decode_segment", "encode_segment", "raw_path", "segments", "work_uri"]


def _wsgi_bytes(text: str) -> bytes:
    # WSGI strings carry the request's bytes as latin-1 code points.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def decode_segment(raw: str) -> str:
    """One raw path segment, percent-decoded once, as UTF-8 (strict)."""
    try:
        return unquote_to_bytes(_wsgi_bytes(raw)).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("the path is not valid percent-encoded UTF-8") from None


def raw_path(request: flask.Request) -> str:
    """The path of the request, still percent-encoded, relative to the function's root."""
    path_info = request.path
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not isinstance(raw, str) or not raw:
        # No raw URI from this server: re-encode the decoded path, so the one
        # decoding per segment gives the names back.
        return quote(path_info, safe="/")
    if raw.startswith(("http://", "https://")):
        raw = urlsplit(raw).path
    raw = raw.split("?", 1)[0]
    decoded = unquote(_wsgi_bytes(raw).decode("utf-8", "replace"))
    if decoded == path_info:
        return raw
    # A front end that mounted the function under a prefix (SCRIPT_NAME) keeps
    # it in the raw URI only: strip it when it is a plain prefix.
    prefix = decoded[: len(decoded) - len(path_info)]
    if decoded.endswith(path_info) and raw.startswith(prefix):
        return raw[len(prefix) :]
    return quote(path_info, safe="/")


def segments(request: flask.Request) -> list[str]:
    """The raw segments of the path (``/processes/p/work`` -> ``processes, p, work``)."""
    path = raw_path(request)
    return path[1:].split("/") if path.startswith("/") else path.split("/")
