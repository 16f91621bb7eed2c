"""Who is calling, and whether they may: the caller as the platform verified it,
and the deployment's rule (``SLOTWORK_API_AUTH``, ``SLOTWORK_API_WRITERS``).

Cloud Run checks the ID token of every request to a function that requires
authentication: the one in ``X-Serverless-Authorization`` when that header is
present (``Authorization`` then passes through unchecked, for the function's
own use), else the one in ``Authorization``. It forwards the token it checked
with the signature replaced by ``SIGNATURE_REMOVED_BY_GOOGLE``
(https://cloud.google.com/run/docs/authenticating/service-to-service). So
the claims of that one token are believed, and only when its signature part
shows the platform checked it: every other header is the caller's to write.
IAP's user header is believed only when the deployment says IAP fronts the
function (``SLOTWORK_TRUST_IAP``).

Readers are whoever IAM lets invoke the function; with ``verified``, every
request needs a verified caller and every route that writes needs the
caller's email in ``SLOTWORK_API_WRITERS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.auth import exceptions as auth_exceptions
from google.auth import jwt
from werkzeug.datastructures import Headers

from slotwork.api.errors import PermissionDenied, Unauthenticated
from slotwork.config import Config

# What Cloud Run writes in place of the signature of a token it verified.
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"
SERVERLESS_AUTHORIZATION = "X-Serverless-Authorization"
AUTHORIZATION = "Authorization"
# Set by Identity-Aware Proxy, as "accounts.google.com:EMAIL".
IAP_USER = "X-Goog-Authenticated-User-Email"
IAP_PREFIX = "accounts.google.com:"
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path, less its brackets
WRITERS_VARIABLE = "SLOTWORK_API_WRITERS"


@dataclass(frozen=True)
class Caller:
    """A caller the platform vouched for: the email, and which header said so."""

    email: str
    via: str  # "token" (Cloud Run's checked ID token) or "iap"


def _email(value: object) -> str | None:
    if not isinstance(value, str) or value.count("@") != 1 or len(value) > MAX_EMAIL_LENGTH:
        return None
    return value.lower()


def _claims(header_value: str) -> Mapping[str, Any] | None:
    """The claims of a bearer token the platform checked, else None."""
    scheme, _, token = header_value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or token.count(".") != 2:
        return None
    if token.rsplit(".", 1)[1] != SIGNATURE_REMOVED:
        # A token with its signature still on was not checked by the platform:
        # the function cannot tell it from one the caller made up.
        return None
    try:
        claims = jwt.decode(token, verify=False)  # type: ignore[no-untyped-call]
    except (ValueError, auth_exceptions.GoogleAuthError):
        return None
    return claims if isinstance(claims, Mapping) else None


def verified_token_caller(headers: Headers) -> Caller | None:
    """The caller named by the ID token Cloud Run verified, if any."""
    header = SERVERLESS_AUTHORIZATION if SERVERLESS_AUTHORIZATION in headers else AUTHORIZATION
    claims = _claims(headers.get(header, ""))
    if claims is None or claims.get("email_verified", True) is not True:
        return None
    email = _email(claims.get("email"))
    return Caller(email, "token") if email else None


def iap_caller(headers: Headers) -> Caller | None:
    """The user IAP's header names (believe it only behind IAP)."""
    value = headers.get(IAP_USER, "")
    if not value.startswith(IAP_PREFIX):
        return None
    email = _email(value[len(IAP_PREFIX) :])
    return Caller(email, "iap") if email else None


@dataclass(frozen=True)
class Policy:
    """The deployment's authorization rule (``Policy()``: IAM at the edge decides alone)."""

    verified: bool = False  # every request needs a verified caller; writes need a writer
    writers: frozenset[str] = frozenset()  # lower-cased emails
    trust_iap: bool = False

    @classmethod
    def from_config(cls, config: Config) -> Policy:
        """The rule ``SLOTWORK_API_AUTH``, ``_API_WRITERS`` and ``_TRUST_IAP`` set."""
        return cls(
            verified=config.api_auth == "verified",
            writers=config.api_writers,
            trust_iap=config.trust_iap,
        )

    def caller(self, headers: Headers) -> Caller | None:
        """Who called, as far as the platform verified it (never a header anyone can set)."""
        if self.trust_iap:
            # Behind IAP the person is in IAP's header; the token is IAP's own.
            found = iap_caller(headers)
            if found is not None:
                return found
        return verified_token_caller(headers)

    def authenticate(self, caller: Caller | None) -> None:
        """Unauthenticated (401) when the rule needs a verified caller and there is none."""
        if self.verified and caller is None:
            raise Unauthenticated(
                "this API needs a verified caller: call it with a Google ID token whose "
                "audience is the function's URL (Authorization: Bearer TOKEN)"
            )

    def authorize(self, caller: Caller | None, operation: str, writes: bool) -> None:
        """PermissionDenied (403) for a write by a caller who is not a writer (and
        Unauthenticated without a caller)."""
        if not self.verified or not writes:
            return
        self.authenticate(caller)
        if caller is not None and caller.email not in self.writers:
            raise PermissionDenied(
                f"{caller.email} may read but not write: {operation} needs the write right, "
                f"given by listing the caller's email in {WRITERS_VARIABLE}"
            )
