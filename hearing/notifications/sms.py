"""SMS notices through a gateway. ``SmsGateway`` is what the notice jobs need; ``HttpSmsGateway``
is the one provider built in: it POSTs JSON {to, text, reference} to a configured URL with
the API key in the X-API-Key header (the key is configuration, never logged or stored in an
error) and takes the provider's message id from {"id": ...}."""

from __future__ import annotations

import asyncio
from typing import Protocol

import aiohttp

from hearing.notifications.outbound import Outcome, Outgoing

TIMEOUT_S = 30.0
#: The provider refused the message itself (a number it cannot reach): no retry helps.
REFUSED = frozenset({400, 422})


class SmsGateway(Protocol):
    async def send(self, item: Outgoing) -> Outcome: ...

    async def close(self) -> None: ...


class HttpSmsGateway:
    def __init__(self, url: str, api_key: str) -> None:
        self.url = url
        self._headers = {"X-API-Key": api_key} if api_key else {}
        self._session: aiohttp.ClientSession | None = None

    async def send(self, item: Outgoing) -> Outcome:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        payload = {"to": item.address, "text": item.text, "reference": f"notice-{item.notice_id}"}
        try:
            async with self._session.post(self.url, json=payload, headers=self._headers) as r:
                if 200 <= r.status < 300:
                    try:
                        answer = await r.json(content_type=None)
                    except ValueError:
                        answer = None
                    ref = answer.get("id") if isinstance(answer, dict) else None
                    return Outcome(True, provider_ref=str(ref) if ref else payload["reference"])
                detail = (await r.text())[:200]
                return Outcome(False, permanent=r.status in REFUSED,
                               error=f"SMS gateway answered HTTP {r.status}: {detail}")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return Outcome(False, error=f"SMS gateway unreachable: {type(exc).__name__}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
