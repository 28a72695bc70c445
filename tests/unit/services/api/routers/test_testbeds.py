"""Which database errors a testbed delete tries again."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from services.api.routers import testbeds


class _Orig(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("from the driver")
        self.sqlstate = sqlstate


def _error(sqlstate: str | None) -> DBAPIError:
    return DBAPIError("DELETE FROM testbeds", {}, _Orig(sqlstate))


def test_deadlocks_and_serialization_failures_are_tried_again() -> None:
    assert testbeds._transient(_error("40P01"))
    assert testbeds._transient(_error("40001"))


def test_other_database_errors_are_not() -> None:
    assert not testbeds._transient(_error("23503"))  # foreign key violation
    assert not testbeds._transient(_error(None))  # connection lost: 503, not a retry
