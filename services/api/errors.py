"""One error type, one body shape: {"error": code, "detail": sentence, "fields": [...]}."""

from __future__ import annotations

import logging
import math
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    error: str
    detail: str
    fields: list[FieldError] = []


class TesseraError(Exception):
    status_code = 400
    error = "bad_request"

    def __init__(self, detail: str, fields: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or []


class NotFound(TesseraError):
    status_code = 404
    error = "not_found"


class Unauthorized(TesseraError):
    status_code = 401
    error = "unauthorized"


class Forbidden(TesseraError):
    status_code = 403
    error = "forbidden"


class Conflict(TesseraError):
    status_code = 409
    error = "conflict"


class Unprocessable(TesseraError):
    status_code = 422
    error = "unprocessable"

    @classmethod
    def on(cls, field: str, reason: str) -> Unprocessable:
        return cls(f"{field}: {reason}", [FieldError(field=field, reason=reason)])


class TooManyRequests(TesseraError):
    status_code = 429
    error = "too_many_requests"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(TesseraError):
    status_code = 503
    error = "unavailable"


def _body(
    status: int,
    error: str,
    detail: str,
    fields: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    content = ErrorBody(error=error, detail=detail, fields=fields or []).model_dump()
    return JSONResponse(content, status_code=status, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:]
    parts = [str(part) for part in loc]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path or "body"


def _error_field(error: dict[str, Any]) -> str:
    field = _field_path(tuple(error["loc"]))
    inner = (error.get("ctx") or {}).get("path")  # set by checks that walk a whole body
    if error.get("type") == "unstorable_text" and inner:
        return inner if field == "body" else f"{field}.{inner}"
    return field


def _reason(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    if error.get("type") == "missing":
        return "field required"
    return message.removeprefix("Value error, ")


def responses(*errors: type[TesseraError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting these errors in the OpenAPI document."""
    documented: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        documented[error.status_code] = {"model": ErrorBody, "description": error.error}
    return documented


def _document_errors(app: FastAPI) -> None:
    """Make the OpenAPI document say what 422s really look like: ErrorBody, not FastAPI's."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        error = {"$ref": "#/components/schemas/ErrorBody"}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                answers = operation.get("responses", {})
                if "422" in answers:
                    answers["422"] = {
                        "description": "validation_error: a field is missing, unknown or "
                        "invalid; `fields` names each one and why",
                        "content": {"application/json": {"schema": error}},
                    }
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components.setdefault(
            "ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    _document_errors(app)

    @app.exception_handler(TesseraError)
    async def _tessera(_request: Request, error: TesseraError) -> JSONResponse:
        headers = None
        if isinstance(error, TooManyRequests):
            headers = {"Retry-After": str(max(1, math.ceil(error.retry_after)))}
        return _body(error.status_code, error.error, error.detail, error.fields, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        fields = [FieldError(field=_error_field(e), reason=_reason(e)) for e in error.errors()]
        detail = "; ".join(f"{f.field}: {f.reason}" for f in fields)
        return _body(422, "validation_error", detail, fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _body(
            error.status_code,
            "http_error",
            str(error.detail),
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(asyncpg.CannotConnectNowError)
    @app.exception_handler(asyncpg.exceptions.OperatorInterventionError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(OSError)
    async def _database(_request: Request, error: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", error)
        return _body(
            503,
            "database_unavailable",
            "the database is not reachable; retry later",
            headers={"Retry-After": "5"},
        )
