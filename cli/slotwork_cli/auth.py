"""Google ID tokens for a deployed API, and nothing for a local one.

A deployed ``api`` function is behind IAM: every request carries an ID token
whose audience is the function's URL. ``google.oauth2.id_token`` mints one
from service-account credentials or the metadata server; a person logged in
with ``gcloud`` (user credentials cannot mint ID tokens for an arbitrary
audience) gets one from ``gcloud auth print-identity-token``.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
# Fetch a new token this long before the current one expires.
REFRESH_MARGIN_SECONDS = 300.0
# Google ID tokens live an hour; assume so when a token's expiry cannot be read.
DEFAULT_LIFETIME_SECONDS = 3600.0


class AuthError(Exception):
    """No ID token could be obtained; the message says what to do."""


def needs_id_token(url: str) -> bool:
    """True for a deployed function: https on a host that is not this machine."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and host not in LOCAL_HOSTS and not host.endswith(".localhost")


def audience_of(url: str) -> str:
    """The audience a Cloud Run / Cloud Functions URL expects: scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _google_token(audience: str) -> str:
    import google.auth.exceptions
    from google.auth.transport.requests import Request
    from google.oauth2 import id_token

    try:
        return str(id_token.fetch_id_token(Request(), audience))  # type: ignore[no-untyped-call]
    except google.auth.exceptions.GoogleAuthError as err:
        gcloud = shutil.which("gcloud")
        if gcloud is None:
            raise AuthError(
                f"could not get a Google ID token for {audience}: {err}. Set "
                "GOOGLE_APPLICATION_CREDENTIALS to a service-account key, run on Google "
                "Cloud, or install gcloud and run `gcloud auth login`."
            ) from err
    result = subprocess.run(
        [gcloud, "auth", "print-identity-token"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise AuthError(
            "could not get an ID token from `gcloud auth print-identity-token`: "
            f"{result.stderr.strip() or 'no output'}; run `gcloud auth login`"
        )
    return result.stdout.strip()


def _expiry(token: str, now: float) -> float:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return now + DEFAULT_LIFETIME_SECONDS


class IdTokens:
    """A cached ID token for one audience, refreshed before it expires."""

    def __init__(
        self,
        audience: str,
        fetch: Callable[[str], str] = _google_token,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.audience = audience
        self._fetch = fetch
        self._clock = clock
        self._token = ""
        self._expires = 0.0

    def __call__(self) -> str:
        now = self._clock()
        if not self._token or now >= self._expires - REFRESH_MARGIN_SECONDS:
            self._token = self._fetch(self.audience)
            self._expires = _expiry(self._token, now)
        return self._token
