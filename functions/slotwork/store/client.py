"""The Firestore client the deployed functions use: ``google.cloud.firestore.Client``
whose gRPC channel tries to reconnect at most a second apart.

gRPC's default reconnect backoff grows to two minutes: after a 20 s outage the
channel kept waiting, and the first tick after Firestore came back failed for
another 20 s. A short, capped backoff makes recovery prompt; it costs a
connection attempt a second while Firestore is really down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.cloud import firestore
from google.cloud.firestore_v1.services.firestore import client as firestore_client
from google.cloud.firestore_v1.services.firestore.transports.grpc import FirestoreGrpcTransport

RECONNECT_OPTIONS: list[tuple[str, int]] = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
# As google-cloud-firestore's own channels (base_client._GRPC_MSG_SIZE_OPTIONS).
_MESSAGE_SIZE_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
]


class _Transport(FirestoreGrpcTransport):
    """The GAPIC transport, its channel built with the reconnect options."""

    @classmethod
    def create_channel(
        cls,
        host: str = "firestore.googleapis.com",
        credentials: Any = None,
        credentials_file: str | None = None,
        scopes: Sequence[str] | None = None,
        quota_project_id: str | None = None,
        **kwargs: Any,
    ) -> grpc.Channel:
        options = [*(kwargs.pop("options", None) or []), *RECONNECT_OPTIONS]
        return super().create_channel(
            host,
            credentials=credentials,
            credentials_file=credentials_file,
            scopes=scopes,
            quota_project_id=quota_project_id,
            options=options,
            **kwargs,
        )


class Client(firestore.Client):
    """``firestore.Client`` with a promptly reconnecting channel (also to the emulator)."""

    @property
    def _firestore_api(self) -> Any:
        return self._firestore_api_helper(
            _Transport, firestore_client.FirestoreClient, firestore_client
        )

    def _emulator_channel(self, transport: Any) -> grpc.Channel:
        # As the library's own emulator channel (an "owner" token, no TLS), plus
        # the reconnect options.
        token = getattr(self._credentials, "id_token", None) or "owner"
        options = [("Authorization", f"Bearer {token}"), *_MESSAGE_SIZE_OPTIONS, *RECONNECT_OPTIONS]
        return grpc.insecure_channel(self._emulator_host, options=options)
