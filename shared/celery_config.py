"""How a Celery app is made: its queues, its routes and its settings.

Nothing here connects the metrics' signals (that is `shared.celery_app`, the process-wide app),
so the metrics' state collector can make an app of its own without importing the metrics.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from shared.config import Settings

QUEUES = ("build", "deploy", "monitor")
ROUTES = {
    "builder.*": {"queue": "build"},
    "deployer.*": {"queue": "deploy"},
    "monitor.*": {"queue": "monitor"},
}


def make_celery(settings: Settings) -> Celery:
    """An app on the settings' broker, each service's tasks routed to its own queue."""
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
