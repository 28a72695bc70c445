"""The API's metrics: requests by route template and status, their latency, and /metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics

# A route that matched nothing is one label value, not one per path a scanner tries.
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter(
    "tessera_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "tessera_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=HTTP_BUCKETS,
)

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics_endpoint() -> Response:
    """Prometheus' text format; no token: it holds counts, never users' data."""
    return Response(generate_latest(metrics.registry()), media_type=CONTENT_TYPE_LATEST)


def route_template(scope: Scope) -> str:
    """The path template of the route that answered, e.g. /api/v1/inspections/{item_id}."""
    # Routing writes what it matched into the scope it was handed. FastAPI keeps an included
    # router's routes with paths relative to its prefix, so the prefix is what the request's
    # path has before the route's own part (the prefixes here hold no parameters).
    route = scope.get("route")
    relative = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(relative, str) or not relative:
        return UNMATCHED
    try:
        rendered = relative.format(**scope.get("path_params", {}))
    except (KeyError, IndexError, ValueError):
        return relative
    path = str(scope.get("path", ""))
    if rendered and path.endswith(rendered):
        return path[: len(path) - len(rendered)] + relative
    return relative


class HttpMetrics:
    """Count and time every HTTP request by the template of the route that answered it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            route = route_template(scope)
            method = scope.get("method", "")
            method = method if method in METHODS else "other"
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
