"""The Celery app: one queue per service; tasks are sent by name, with ids only."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from shared import metrics as _metrics  # noqa: F401  (connects the metrics' Celery signals)
from shared.config import Settings, get_settings

log = logging.getLogger(__name__)

QUEUES = ("build", "deploy", "monitor")
ROUTES = {
    "builder.*": {"queue": "build"},
    "deployer.*": {"queue": "deploy"},
    "monitor.*": {"queue": "monitor"},
}


def make_celery(settings: Settings) -> Celery:
    app = Celery("tessera", broker=settings.celery_broker_url)
    options: dict[str, Any] = {}
    if settings.celery_broker_url.startswith("redis"):
        options = {
            "socket_timeout": settings.broker_send_timeout_s,
            "socket_connect_timeout": settings.broker_send_timeout_s,
            # An unacknowledged task comes back after this long (its worker died).
            "visibility_timeout": 3600,
            # How long a producer's connection is retried before a send gives up. kombu's
            # default is forever: a task sending while Redis is down would never return, and
            # its worker could not stop (the reconciler re-sends what was not sent).
            "max_retries": 3,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        }
    app.conf.update(
        task_routes=ROUTES,
        task_default_queue="monitor",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options=options,
        broker_pool_limit=10,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        timezone="UTC",
    )
    return app


_app: Celery | None = None


def celery_app() -> Celery:
    """The process-wide app, made on first use from the settings."""
    global _app
    if _app is None:
        _app = make_celery(get_settings())
    return _app


def send(name: str, *args: str) -> bool:
    """Send a task by name; False when the broker could not take it (the reconciler re-sends)."""
    try:
        celery_app().send_task(
            name,
            args=list(args),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.5},
        )
    except Exception as error:  # any broker failure: the row is committed, nothing is lost
        log.warning("could not send %s%s: %s", name, args, error)
        return False
    return True
