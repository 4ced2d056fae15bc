"""Per-client limits for public routes (a customer's contact form, chat, verification form).

A public route may declare ``opt={"public": True, "per_client_per_minute": N}``: the gate then
answers 429 (with ``Retry-After``) to a client address that sent more than N requests to that
route in the current minute. Counts are kept per process, in memory, for two minutes; behind
several app nodes each node counts for itself, so the effective limit is N per node.
"""

from __future__ import annotations

import time

from cachetools import TTLCache

__all__ = ["Throttle"]


class Throttle:
    def __init__(self, max_clients: int = 100_000) -> None:
        self._counts: TTLCache[tuple[str, str, int], int] = TTLCache(maxsize=max_clients, ttl=120)

    def allow(self, route: str, client: str, per_minute: int) -> int | None:
        """Count a request; None when allowed, else the seconds until the next minute."""
        now = time.time()
        minute = int(now // 60)
        key = (route, client, minute)
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count <= per_minute:
            return None
        return max(1, int(60 - now % 60))
