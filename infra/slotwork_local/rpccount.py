"""Count the Firestore RPCs, document reads and writes a client makes.

A gRPC interceptor on the client's channel: the counts are what went over the
wire, not an estimate. Used by the cost tests and the benchmarks (and, through
``intercepted_client``, by tests that inject faults on the wire).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1.services.firestore import FirestoreClient
from google.cloud.firestore_v1.services.firestore.transports import FirestoreGrpcTransport


@dataclass
class Counts:
    """RPCs by method name, documents read, documents written."""

    rpcs: collections.Counter[str] = field(default_factory=collections.Counter)
    reads: int = 0
    writes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        with self.lock:
            self.rpcs.clear()
            self.reads = 0
            self.writes = 0

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"rpcs": dict(self.rpcs), "reads": self.reads, "writes": self.writes}


def _method(details: grpc.ClientCallDetails) -> str:
    return str(details.method).rsplit("/", 1)[-1]


class _Interceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, counts: Counts) -> None:
        self.counts = counts

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        method = _method(details)
        with self.counts.lock:
            self.counts.rpcs[method] += 1
            if method == "Commit":
                self.counts.writes += len(getattr(request, "_pb", request).writes)
        response = continuation(details, request)
        if method == "RunAggregationQuery":
            with self.counts.lock:
                self.counts.reads += 1
        return response

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        method = _method(details)
        with self.counts.lock:
            self.counts.rpcs[method] += 1
        responses = continuation(details, request)
        return _CountingStream(responses, self.counts, method)


class _CountingStream:
    """Passes a response stream through, counting the documents in it."""

    def __init__(self, inner: Any, counts: Counts, method: str) -> None:
        self._inner = inner
        self._counts = counts
        self._method = method

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        response = next(self._inner)
        if self._method in ("RunQuery", "BatchGetDocuments"):
            pb = getattr(response, "_pb", response)  # proto-plus wraps the raw message
            has_doc = pb.HasField("document" if self._method == "RunQuery" else "found")
            if has_doc:
                with self._counts.lock:
                    self._counts.reads += 1
        elif self._method == "RunAggregationQuery":
            with self._counts.lock:
                self._counts.reads += 1
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def counting_client(project: str, emulator_host: str) -> tuple[firestore.Client, Counts]:
    """A Firestore client on the emulator at ``emulator_host`` whose calls are counted."""
    counts = Counts()
    return intercepted_client(project, emulator_host, _Interceptor(counts)), counts


def intercepted_client(project: str, emulator_host: str, interceptor: Any) -> firestore.Client:
    """A Firestore client on the emulator at ``emulator_host`` whose calls pass ``interceptor``."""
    channel = grpc.intercept_channel(grpc.insecure_channel(emulator_host), interceptor)
    client = firestore.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )
    client._firestore_api_internal = FirestoreClient(
        transport=FirestoreGrpcTransport(channel=channel)
    )
    return client
