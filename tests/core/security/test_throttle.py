"""The public routes' per-client limit counts the last 60 seconds, not the clock minute."""

from __future__ import annotations

import pytest

from core.security import throttle
from core.security.throttle import Throttle


def test_a_burst_across_a_minutes_end_gets_no_second_allowance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1_000_059.5]  # half a second before a clock minute ends
    monkeypatch.setattr(throttle.time, "monotonic", lambda: clock[0])
    limit = Throttle()
    assert [limit.allow("POST /chat", "10.0.0.1", 3) for _ in range(3)] == [None] * 3
    clock[0] += 1.0  # the next clock minute
    wait = limit.allow("POST /chat", "10.0.0.1", 3)
    assert wait is not None and 1 <= wait <= 60
    assert limit.allow("POST /chat", "10.0.0.2", 3) is None  # another address is not held up
    clock[0] += 60.0
    assert limit.allow("POST /chat", "10.0.0.1", 3) is None
