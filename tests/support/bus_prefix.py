"""A throwaway court on a shared NATS server: a fresh ``bus_prefix`` per test or benchmark
run, and the removal of everything JetStream kept under it once the run is over."""

from __future__ import annotations

import uuid


def fresh_prefix(kind: str = "t") -> str:
    return f"{kind}{uuid.uuid4().hex[:12]}"


async def delete_prefix(nats_url: str, prefix: str) -> None:
    """Delete the JetStream streams and key-value buckets a court of ``prefix`` may have made
    (the jobs, the asr pool's audio and finals, its stream specs and leases); absent ones are
    skipped. Core subjects keep nothing, so there is nothing else to remove."""
    import nats
    from nats.js.errors import NotFoundError

    from asr.worker import PoolNames
    from hearing.work_queue import WorkQueueOptions
    names = PoolNames(prefix)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for stream in (WorkQueueOptions(nats_url, prefix=prefix).stream, names.audio_stream,
                       names.finals_stream):
            try:
                await js.delete_stream(stream)
            except NotFoundError:
                pass
        for bucket in (names.specs_bucket, names.leases_bucket):
            try:
                await js.delete_key_value(bucket)
            except NotFoundError:
                pass
    finally:
        await nc.close()
