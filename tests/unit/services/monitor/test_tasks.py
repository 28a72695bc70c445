"""The monitor's tasks and its beat schedule (services/monitor/tasks.py)."""

from __future__ import annotations

import pytest

from shared.config import Settings


def test_the_beat_leaves_out_the_loops_turned_off(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.monitor.tasks import beat_schedule
    from shared.config import get_settings

    assert set(beat_schedule()) == {"poll", "reconcile", "refresh"}
    monkeypatch.setenv("TESSERA_REFRESH_ENABLED", "false")
    monkeypatch.setenv("TESSERA_POLL_ENABLED", "0")
    get_settings.cache_clear()
    schedule = beat_schedule()
    assert set(schedule) == {"reconcile"}
    assert schedule["reconcile"]["task"] == "monitor.reconcile"
