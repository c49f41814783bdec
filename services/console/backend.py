"""The services' APIs, called with the signed-in user's token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx

from sinergi.config import Settings

Service = Literal["registry", "referrals", "notifications"]


class BackendError(Exception):
    """A service answered with an error (or not at all): the page says so, in Indonesian."""

    def __init__(self, service: str, status: int, detail: str, pesan: str = "") -> None:
        super().__init__(f"{service}: {status} {detail}")
        self.service, self.status, self.detail = service, status, detail
        self.pesan = pesan or detail

    @classmethod
    def of(cls, service: str, response: httpx.Response) -> BackendError:
        """The service's problem body (`pesan`, and each field's) as one Indonesian line."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        parts = [str(body.get("pesan", ""))] if isinstance(body, dict) else []
        if isinstance(body, dict):
            parts += [str(e.get("pesan", "")) for e in body.get("errors", []) or []]
        pesan = "; ".join(p for p in parts if p) or f"galat {response.status_code}"
        return cls(service, response.status_code, response.text[:300], pesan)


class Backend:
    def __init__(self, settings: Settings) -> None:
        urls = {
            "registry": settings.console_registry_url,
            "referrals": settings.console_referrals_url,
            "notifications": settings.console_notifications_url,
        }
        self._clients = {
            name: httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(15.0, connect=5.0))
            for name, url in urls.items()
        }

    async def get(
        self, service: Service, path: str, token: str, params: dict[str, Any] | None = None
    ) -> Any:
        try:
            response = await self._clients[service].get(
                path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as error:
            raise BackendError(service, 503, f"tidak terjangkau (unreachable): {error}") from None
        if response.status_code >= 400:
            raise BackendError.of(service, response)
        return response.json()

    async def post(
        self,
        service: Service,
        path: str,
        token: str,
        body: dict[str, Any],
        *,
        version: int | None = None,
    ) -> Any:
        """A command; `version` goes as If-Match, so a stale form is refused (409)."""
        headers = {"Authorization": f"Bearer {token}"}
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        try:
            response = await self._clients[service].post(path, json=body, headers=headers)
        except httpx.HTTPError as error:
            raise BackendError(service, 503, f"tidak terjangkau (unreachable): {error}") from None
        if response.status_code >= 400:
            raise BackendError.of(service, response)
        return response.json()

    async def send(
        self, service: Service, path: str, token: str, body: Any, key: str
    ) -> tuple[int, Any]:
        """A command sent once (`Idempotency-Key`): the service's status and JSON as they are,
        errors included (a form shows the service's own message); 503 when unreachable."""
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        try:
            response = await self._clients[service].post(path, json=body, headers=headers)
        except httpx.HTTPError:
            return 503, {"pesan": "layanan tidak terjangkau, dikirim lagi nanti"}
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"pesan": response.text[:300]}

    async def upload(
        self, service: Service, path: str, token: str, filename: str, content: Any
    ) -> Any:
        """A file as multipart `file`, e.g. an RT's spreadsheet to the registry's import."""
        headers = {"Authorization": f"Bearer {token}"}
        files = {"file": (filename, content)}
        try:
            response = await self._clients[service].post(
                path, files=files, headers=headers, timeout=httpx.Timeout(600.0, connect=5.0)
            )
        except httpx.HTTPError as error:
            raise BackendError(service, 503, f"tidak terjangkau (unreachable): {error}") from None
        if response.status_code >= 400:
            raise BackendError.of(service, response)
        return response.json()

    async def text(self, service: Service, path: str, token: str) -> str:
        try:
            response = await self._clients[service].get(
                path, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as error:
            raise BackendError(service, 503, f"tidak terjangkau (unreachable): {error}") from None
        if response.status_code >= 400:
            raise BackendError.of(service, response)
        return response.text

    async def lines(self, service: Service, path: str, token: str) -> AsyncIterator[str]:
        """The lines of a service's SSE stream, until it ends."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        timeout = httpx.Timeout(15.0, read=None)
        async with self._clients[service].stream(
            "GET", path, headers=headers, timeout=timeout
        ) as response:
            if response.status_code >= 400:
                raise BackendError(service, response.status_code, "stream refused")
            async for line in response.aiter_lines():
                yield line

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
