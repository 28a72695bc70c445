"""/healthz (the process answers) and /readyz (the database and the broker answer)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from services.api.deps import SessionDep
from services.api.schemas import Health
from shared.celery_app import celery_app

router = APIRouter(tags=["health"])


def _broker_ok(timeout: float) -> None:
    with celery_app().connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=max(1, round(timeout)))


@router.get("/healthz", summary="The process answers", operation_id="healthz")
async def healthz() -> Health:
    """Liveness: no dependency is checked."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database or the broker is down."}},
    summary="The database and the broker answer",
    operation_id="readyz",
)
async def readyz(request: Request, session: SessionDep) -> JSONResponse:
    """Readiness: 200 when the database and the broker answer, else 503 naming which."""
    checks: dict[str, str] = {}
    try:
        await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any failure means not ready; say which
        checks["database"] = f"error: {type(error).__name__}"
    try:
        await run_in_threadpool(_broker_ok, request.app.state.settings.broker_send_timeout_s)
        checks["broker"] = "ok"
    except Exception as error:
        checks["broker"] = f"error: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
