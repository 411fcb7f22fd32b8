"""One owner per open hearing: a lease that passes on expiry with a growing fence, and a
stale owner's writes refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hearing import leases
from hearing.models import Hearing

from hearing_testlib import make_users


def _hearing(database) -> int:
    from hearing.cases import case_for_hearing
    ids = make_users(database)

    def work(s):
        case, _ = case_for_hearing(s, None, "1-1/2026", "civil", "t", ids["judge"], ids["judge"])
        h = Hearing(case_id=case.id, case_number="1-1/2026", title="t", kind="civil",
                    language="ru", judge_id=ids["judge"], state="open",
                    created_at=datetime.now(timezone.utc), created_by=ids["judge"])
        s.add(h)
        s.flush()
        return h.id
    return database.run_sync(work)


def test_a_lease_passes_on_expiry_and_fences_the_old_owner(database):
    hid = _hearing(database)
    t0 = datetime.now(timezone.utc)
    run = database.run_sync

    a = run(lambda s: leases.acquire(s, hid, "node-a", "https://a", 10, t0))
    assert a is not None and a.fence == 1
    assert run(lambda s: leases.acquire(s, hid, "node-b", "https://b", 10, t0)) is None
    assert run(lambda s: leases.current(s, hid, t0)).node_url == "https://a"
    a = run(lambda s: leases.renew(s, a, 10, t0 + timedelta(seconds=5)))
    assert a is not None and a.fence == 1

    later = t0 + timedelta(seconds=16)  # node a stopped renewing
    assert run(lambda s: leases.current(s, hid, later)) is None
    b = run(lambda s: leases.acquire(s, hid, "node-b", "https://b", 10, later))
    assert b is not None and b.fence == 2
    assert run(lambda s: leases.renew(s, a, 10, later)) is None, "a lost it"
    with pytest.raises(leases.StaleOwner):
        run(lambda s: leases.check_fence(s, hid, a.fence))
    run(lambda s: leases.check_fence(s, hid, b.fence))

    run(lambda s: leases.release(s, b, later))
    c = run(lambda s: leases.acquire(s, hid, "node-a", "https://a", 10,
                                     later + timedelta(seconds=1)))
    assert c is not None and c.fence == 3, "the fence never goes back"
