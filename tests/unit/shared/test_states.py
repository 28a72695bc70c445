from __future__ import annotations

import pytest

from shared.states import request_state


@pytest.mark.parametrize(
    ("build", "runs", "cancelled", "expected"),
    [
        ("pending", ["pending"], False, "pending"),
        ("building", ["building", "building"], False, "building"),
        ("failed", ["failed"], False, "failed"),
        ("succeeded", ["queued", "running"], False, "running"),
        ("succeeded", ["succeeded", "succeeded"], False, "succeeded"),
        ("succeeded", ["succeeded", "failed"], False, "failed"),
        ("succeeded", ["succeeded", "lost"], False, "failed"),
        ("succeeded", ["cancelled", "succeeded"], True, "cancelled"),
        ("succeeded", ["running"], True, "running"),
        ("succeeded", [], False, "succeeded"),  # build-only
        ("cancelled", ["cancelled"], True, "cancelled"),
        ("pending", ["cancelled"], True, "cancelled"),
        (None, ["queued"], False, "running"),  # deployments have no build
        (None, ["succeeded"], False, "succeeded"),
    ],
)
def test_request_state(build: str | None, runs: list[str], cancelled: bool, expected: str) -> None:
    assert request_state(build, runs, cancelled) == expected


@pytest.mark.parametrize(
    ("runs", "allowed", "expected"),
    [
        (["succeeded", "failed", "succeeded"], 1, "succeeded"),
        (["succeeded", "failed", "lost"], 1, "failed"),
        (["succeeded", "failed", "lost"], 2, "succeeded"),
        (["failed"], 1, "failed"),  # at least one run has to succeed
        (["succeeded", "running", "failed"], 1, "running"),
    ],
)
def test_allowed_failures(runs: list[str], allowed: int, expected: str) -> None:
    assert request_state("succeeded", runs, False, allowed) == expected
