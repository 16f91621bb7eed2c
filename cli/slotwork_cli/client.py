"""The HTTP client of the slotwork API: JSON over ``requests``, retries on 429
and 503 with backoff (honouring Retry-After), an ID token for a deployed API."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from slotwork_cli.auth import IdTokens, audience_of, needs_id_token

DEFAULT_TIMEOUT_SECONDS = 60.0
# Every API call is safe to repeat (registering is idempotent), so all methods retry.
RETRY = Retry(
    total=5,
    connect=2,  # a wrong URL should fail in seconds, not after a minute of backoff
    backoff_factor=0.5,
    status_forcelist=(429, 503),
    allowed_methods=None,
    respect_retry_after_header=True,
    raise_on_status=False,
)


class ApiError(Exception):
    """An error answer of the API (or no answer at all)."""

    def __init__(
        self, status: int, rpc_status: str, message: str, fields: Sequence[str] = ()
    ) -> None:
        super().__init__(f"{status} {rpc_status}: {message}" if status else message)
        self.status = status
        self.rpc_status = rpc_status
        self.message = message
        self.fields = list(fields)


def _error_of(response: requests.Response) -> ApiError:
    try:
        error = response.json()["error"]
        fields = [
            str(v.get("field", ""))
            for d in error.get("details", [])
            for v in d.get("fieldViolations", [])
        ]
        return ApiError(response.status_code, str(error["status"]), str(error["message"]), fields)
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.text[:300].strip() or response.reason
        return ApiError(response.status_code, "UNKNOWN", text)


def segment(name: str) -> str:
    """A process or item name as one path segment (``/`` and ``%`` encoded too)."""
    return quote(name, safe="")


class Client:
    """Calls of the slotwork API at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        *,
        audience: str | None = None,
        token: Callable[[], str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        if token is None and needs_id_token(self.base_url):
            token = IdTokens(audience or audience_of(self.base_url))
        self._token = token
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=RETRY)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def headers(self) -> dict[str, str]:
        """The headers of every request: an ID token only for a deployed API."""
        headers = {"Accept": "application/json", "User-Agent": "slotwork-cli"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token()}"
        return headers

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> Any:
        """One API call; the JSON answer, or ApiError."""
        params = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=body,
                params=params,
                headers=self.headers(),
                timeout=self.timeout,
            )
        except requests.RequestException as err:
            raise ApiError(0, "UNAVAILABLE", f"cannot reach {self.base_url}: {err}") from err
        if response.status_code >= 400:
            raise _error_of(response)
        return response.json()

    # -- operations ----------------------------------------------------------------------
    def list_processes(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/processes")["processes"])

    def get_process(self, process: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/processes/{segment(process)}"))

    def update_process(self, process: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self.call("PATCH", f"/processes/{segment(process)}", body))

    def pause(self, process: str, reason: str | None = None) -> dict[str, Any]:
        body = {"reason": reason} if reason else {}
        return dict(self.call("POST", f"/processes/{segment(process)}:pause", body))

    def resume(self, process: str) -> dict[str, Any]:
        return dict(self.call("POST", f"/processes/{segment(process)}:resume", {}))

    def run(self, process: str) -> dict[str, Any]:
        return dict(self.call("POST", f"/processes/{segment(process)}:run", {}))

    def register(
        self, process: str, item: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        path = f"/processes/{segment(process)}/work/{segment(item)}"
        return dict(self.call("PUT", path, {"params": params or {}}))

    def batch_register(
        self, process: str, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        path = f"/processes/{segment(process)}/work:batchRegister"
        return list(self.call("POST", path, {"items": list(items)})["results"])

    def get_work(self, process: str, item: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/processes/{segment(process)}/work/{segment(item)}"))

    def unregister(self, process: str, item: str) -> dict[str, Any]:
        return dict(self.call("DELETE", f"/processes/{segment(process)}/work/{segment(item)}"))

    def batch_unregister(self, process: str, names: Sequence[str]) -> list[dict[str, Any]]:
        """Send up to 500 items to cleanup: ``[{"name", "changed"}]`` (unknown names unchanged)."""
        path = f"/processes/{segment(process)}/work:batchUnregister"
        return list(self.call("POST", path, {"names": list(names)})["results"])

    def batch_release(self, process: str, names: Sequence[str]) -> list[dict[str, Any]]:
        """Release up to 500 quarantined items: ``[{"name", "changed"}]``."""
        path = f"/processes/{segment(process)}/work:batchRelease"
        return list(self.call("POST", path, {"names": list(names)})["results"])

    def release(self, process: str, item: str) -> dict[str, Any]:
        path = f"/processes/{segment(process)}/work/{segment(item)}:release"
        return dict(self.call("POST", path, {}))

    def list_work(
        self, process: str, page_size: int | None = None, page_token: str = "", state: str = ""
    ) -> dict[str, Any]:
        query = {"pageSize": page_size, "pageToken": page_token, "state": state}
        return dict(self.call("GET", f"/processes/{segment(process)}/work", query=query))

    def list_runs(
        self, process: str, page_size: int | None = None, page_token: str = ""
    ) -> dict[str, Any]:
        query = {"pageSize": page_size, "pageToken": page_token}
        return dict(self.call("GET", f"/processes/{segment(process)}/runs", query=query))
