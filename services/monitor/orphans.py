"""Cloud instances with no run: found by Tessera's tags and terminated by the reconciler.

An instance is kept while its attempt key is the current attempt of a placed or running run,
or the next attempt of a queued run (a placement killed between launching and recording
it: the re-sent placement adopts it by its tag). Any other live instance of the testbed,
older than TESSERA_RECONCILE_AFTER_S, is an orphan (a run deleted, cancelled, superseded or
ended while its instance lived on): it is terminated.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select

from services import worker
from shared import attempts, testbeds
from shared.config import get_settings
from shared.db.models import Run, Testbed
from shared.placement import ACTIVE, OWN_MACHINE

log = logging.getLogger(__name__)


def keep_keys() -> set[uuid.UUID]:
    """The attempt keys that may have an instance now."""
    with worker.transaction() as session:
        rows = session.execute(
            select(Run.id, Run.state, Run.attempt).where(Run.state.in_((*ACTIVE, "queued")))
        ).all()
    keep: set[uuid.UUID] = set()
    for run_id, state, number in rows:
        keep.add(attempts.key(run_id, number + 1 if state == "queued" else number))
    return keep


def reap() -> int:
    """Terminate the orphans of every cloud testbed; how many."""
    with worker.transaction() as session:
        found = session.execute(select(Testbed).where(Testbed.kind.in_(OWN_MACHINE))).scalars()
        beds = list(found)
        for bed in beds:
            session.expunge(bed)
    if not beds:
        return 0
    keep = keep_keys()
    count = 0
    for testbed in beds:
        try:
            connector = testbeds.connector(testbed.kind)
            reaped = connector.orphans(  # type: ignore[attr-defined]
                testbed, keep, get_settings().reconcile_after_s
            )
        except Exception:  # one testbed failing must not keep the others' orphans alive
            log.exception("looking for orphan instances of testbed %s failed", testbed.name)
            continue
        if reaped:
            log.warning("terminated orphan instances of testbed %s: %s", testbed.name, reaped)
        count += len(reaped)
    return count
