"""Per-client limits for public routes (a customer's contact form, chat, verification form).

A public route may declare ``opt={"public": True, "per_client_per_minute": N}``: the gate then
answers 429 (with ``Retry-After``) to a client address that sent more than N requests to that
route in the last 60 seconds (a sliding window: a burst across a clock minute's end gets no
second allowance). Kept per process, in memory; behind several app nodes each node counts for
itself, so the effective limit is N per node.
"""

from __future__ import annotations

import time
from collections import deque

from cachetools import TTLCache

__all__ = ["Throttle"]

WINDOW = 60.0


class Throttle:
    def __init__(self, max_clients: int = 100_000) -> None:
        # (route, client) -> the times of its allowed requests in the window, oldest first
        self._seen: TTLCache[tuple[str, str], deque[float]] = TTLCache(
            maxsize=max_clients, ttl=WINDOW
        )

    def allow(self, route: str, client: str, per_minute: int) -> int | None:
        """Count a request; None when allowed, else the seconds until one is allowed again."""
        now = time.monotonic()
        key = (route, client)
        seen = self._seen.get(key)
        if seen is None:
            seen = deque()
        while seen and seen[0] <= now - WINDOW:
            seen.popleft()
        if len(seen) >= per_minute:
            self._seen[key] = seen
            return min(60, max(1, int(seen[0] + WINDOW - now) + 1))
        seen.append(now)
        self._seen[key] = seen  # (re)inserting renews the entry's time to live
        return None
