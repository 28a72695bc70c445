"""Exit codes of the user commands: what a script can branch on."""

from __future__ import annotations

OK = 0
FAILED = 1  # the work failed: a run failed or was lost, or the build failed
USAGE = 2  # bad arguments or a spec that does not parse, or one the API refused (422)
CANCELLED = 3  # the work was cancelled before it could succeed
REFUSED = 4  # the API said no: unknown or revoked token, not allowed, not found, conflict
UNAVAILABLE = 5  # the API cannot be reached, or failed (5xx)
INTERRUPTED = 130  # Ctrl-C while watching; the work itself goes on

TABLE = (
    (OK, "success (the inspection or deployment succeeded)"),
    (FAILED, "the work failed: a run failed or was lost, or the build failed"),
    (USAGE, "usage: bad arguments, an unreadable spec, or a spec the API refused (422)"),
    (CANCELLED, "the work was cancelled"),
    (REFUSED, "the API refused: token unknown, not allowed, not found, or conflict"),
    (UNAVAILABLE, "the API cannot be reached or failed"),
    (INTERRUPTED, "interrupted while watching (the work goes on)"),
)


def for_state(state: str) -> int:
    """The exit code for an inspection's or deployment's final state."""
    return {"succeeded": OK, "cancelled": CANCELLED}.get(state, FAILED)
