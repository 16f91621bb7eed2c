"""Faults injected on the wire between a client and the real emulator.

Firestore itself is never doubled: the interceptor below lets the emulator
answer, then ends a query's response stream early with an error: as a
stalled stream ends (DEADLINE_EXCEEDED), or a dropped one (UNAVAILABLE).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.cloud import firestore

from slotwork_local.rpccount import intercepted_client


class _Ended(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """What gRPC raises when a call ends with an error status."""

    def __init__(self, status: grpc.StatusCode) -> None:
        super().__init__()
        self.status = status

    def code(self) -> grpc.StatusCode:
        return self.status

    def details(self) -> str:
        return f"{self.status.name} (injected)"

    def initial_metadata(self) -> tuple[()]:
        return ()

    def trailing_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


class StreamFault(grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Ends the next RunQuery stream with ``status`` after ``after`` documents
    (calling ``on_cut`` first); later streams pass untouched.
    """

    def __init__(
        self,
        after: int,
        status: grpc.StatusCode = grpc.StatusCode.DEADLINE_EXCEEDED,
        on_cut: Callable[[], None] = lambda: None,
    ) -> None:
        self.after = after
        self.status = status
        self.on_cut = on_cut
        self.cuts = 0
        self._armed = True
        self._lock = threading.Lock()

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        responses = continuation(details, request)
        with self._lock:
            armed = self._armed and str(details.method).endswith("/RunQuery")
            self._armed = self._armed and not armed
        return _CutStream(responses, self) if armed else responses


class _CutStream:
    def __init__(self, inner: Any, fault: StreamFault) -> None:
        self._inner = inner
        self._fault = fault
        self._docs = 0

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._docs >= self._fault.after:
            self._inner.cancel()
            self._fault.cuts += 1
            self._fault.on_cut()
            raise _Ended(self._fault.status)
        response = next(self._inner)
        if getattr(response, "_pb", response).HasField("document"):
            self._docs += 1
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def stream_fault_client(project: str, host: str, fault: StreamFault) -> firestore.Client:
    """A client on the emulator at ``host`` whose next pending-items stream ``fault`` cuts."""
    return intercepted_client(project, host, fault)
