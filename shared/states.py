"""The states a run, a build and their parent request move through."""

from __future__ import annotations

from collections.abc import Iterable

# run: pending -> building -> queued -> placed -> running -> succeeded | failed | cancelled | lost
RUN_STATES = (
    "pending",
    "building",
    "queued",
    "placed",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "lost",
)
RUN_TERMINAL = frozenset({"succeeded", "failed", "cancelled", "lost"})
BUILD_STATES = ("pending", "building", "succeeded", "failed", "cancelled")
BUILD_TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# inspection and deployment
REQUEST_STATES = ("pending", "building", "running", "succeeded", "failed", "cancelled")
REQUEST_TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


def request_state(
    build_state: str | None, run_states: Iterable[str], cancelled: bool, allowed_failures: int = 0
) -> str:
    """The state of an inspection or deployment, from its build's and its runs' states; with
    `allowed_failures` (Amun's), up to that many runs may fail while at least one succeeds."""
    runs = list(run_states)
    if build_state in ("pending", "building") and not cancelled:
        return build_state
    if build_state == "failed":
        return "failed"
    if any(state not in RUN_TERMINAL for state in runs):
        return "running" if build_state is None or build_state == "succeeded" else "pending"
    if cancelled or build_state == "cancelled":
        return "cancelled"
    succeeded = sum(state == "succeeded" for state in runs)
    if succeeded == len(runs) or (succeeded and len(runs) - succeeded <= allowed_failures):
        return "succeeded"
    return "failed"
