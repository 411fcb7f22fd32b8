"""Keep ICE host candidates inside a UDP port range (what a court's firewall opens).

aioice binds host candidates to port 0 and has no setting for a range, so while a connection
gathers its candidates (marked with a context variable, which the gathering tasks inherit) the
event loop's ``create_datagram_endpoint`` tries the ports of the range in turn instead of 0.
Other UDP users of the loop are untouched."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import random

import aioice.ice

_range: tuple[int, int] | None = None
_gathering: contextvars.ContextVar[bool] = contextvars.ContextVar("ice_gathering", default=False)
_original_gather = aioice.ice.Connection.gather_candidates
_next = itertools.count(random.randrange(1 << 16))


def apply_port_range(port_range: tuple[int, int] | None) -> None:
    """Bind ICE host candidates to ports in [low, high] (process-wide); None: any port."""
    global _range
    if port_range is not None:
        low, high = port_range
        if not (1 <= low <= high <= 65535):
            raise ValueError(f"bad UDP port range {port_range}")
    _range = port_range


def _patch_loop(loop: asyncio.AbstractEventLoop) -> None:
    if getattr(loop, "_ice_port_range_patched", False):
        return
    real = loop.create_datagram_endpoint

    async def create_datagram_endpoint(protocol_factory, local_addr=None, **kwargs):
        port_range = _range
        if port_range is None or not _gathering.get() or not local_addr or local_addr[1] != 0:
            return await real(protocol_factory, local_addr=local_addr, **kwargs)
        low, high = port_range
        size = high - low + 1
        start = next(_next) % size
        last_error: OSError | None = None
        for i in range(size):
            port = low + (start + i) % size
            try:
                return await real(protocol_factory, local_addr=(local_addr[0], port), **kwargs)
            except OSError as exc:
                last_error = exc
        raise OSError(f"no free UDP port in {low}-{high} on {local_addr[0]}") from last_error

    loop.create_datagram_endpoint = create_datagram_endpoint
    loop._ice_port_range_patched = True


async def _gather_candidates(self) -> None:
    if _range is not None:
        _patch_loop(asyncio.get_running_loop())
    token = _gathering.set(True)
    try:
        await _original_gather(self)
    finally:
        _gathering.reset(token)


aioice.ice.Connection.gather_candidates = _gather_candidates
