"""The app served over loopback HTTP inside the test's event loop, for requests that must
really run at the same time.

Litestar's ``AsyncTestClient`` hands each request to a portal thread and waits for it to
finish, so ``asyncio.gather`` over its requests runs them one after another and a race can
never show. Here uvicorn serves the app in the test's loop and an ``httpx.AsyncClient`` sends
the requests over TCP: they interleave at every database await, as on a real server.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import uvicorn

from core.cli.main import SERVE_OPTIONS

__all__ = ["served"]


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Serve ``app`` (an ASGI app) until the block ends; yields a client bound to it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)  # connections made before the server accepts wait in the backlog
    port = listener.getsockname()[1]
    # the options ``madoguchi serve`` uses (no proxy headers unless the app trusts a proxy)
    config = uvicorn.Config(app, lifespan="on", **SERVE_OPTIONS)
    server = uvicorn.Server(config)
    server.capture_signals = _no_signals  # type: ignore[method-assign]  # pytest owns them
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            # a generous timeout: argon2 on two shared cores is slow, and nothing here is timed
            base_url=f"http://127.0.0.1:{port}",
            limits=limits,
            timeout=60,
        ) as client:
            yield client
    finally:
        server.should_exit = True
        await task
        listener.close()


@contextmanager
def _no_signals() -> Iterator[None]:
    yield
