"""The app served by uvicorn on a loopback port, with the options ``madoguchi serve`` uses."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn

from core.app import create_app
from core.cli.main import SERVE_OPTIONS
from core.plugins.host import PluginHost
from core.settings import Settings


@asynccontextmanager
async def served(settings: Settings, host: PluginHost) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the served app. The socket listens before the client connects, so there is
    no waiting for the server to start."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    app = create_app(settings, host=host)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **SERVE_OPTIONS))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        # a generous timeout: argon2 on two shared cores is slow, and nothing here is timed
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        await serving
        listener.close()
