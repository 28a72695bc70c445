"""The Celery app: one queue per service; tasks are sent by name, with ids only.

The process-wide app (made by `shared.celery_config`), with the metrics' Celery signals connected.
"""

from __future__ import annotations

import logging

from celery import Celery

from shared import metrics as _metrics  # noqa: F401  (connects the metrics' Celery signals)
from shared.celery_config import QUEUES, ROUTES, make_celery
from shared.config import get_settings

__all__ = ["QUEUES", "ROUTES", "celery_app", "make_celery", "send"]

log = logging.getLogger(__name__)

_app: Celery | None = None


def celery_app() -> Celery:
    """The process-wide app, made on first use from the settings."""
    global _app
    if _app is None:
        _app = make_celery(get_settings())
    return _app


def send(name: str, *args: str, countdown: float | None = None) -> bool:
    """Send a task by name (to run `countdown` seconds from now, when given); False when the
    broker could not take it (the reconciler re-sends)."""
    try:
        celery_app().send_task(
            name,
            args=list(args),
            countdown=countdown,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.5},
        )
    except Exception as error:  # any broker failure: the row is committed, nothing is lost
        log.warning("could not send %s%s: %s", name, args, error)
        return False
    return True
