"""The ``madoguchi`` command line, run in-process on a test's home and database."""

from __future__ import annotations

import asyncio
from typing import Any

from click.testing import CliRunner

from core.cli.main import cli
from core.settings import Settings


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "MADOGUCHI_HOME": str(settings.home),
        "MADOGUCHI_DATABASE_URL": settings.database_url,
        "MADOGUCHI_MIGRATION_DATABASE_URL": settings.migration_database_url,
        **extra,
    }


async def invoke(settings: Settings, *args: str, **env: str) -> Any:
    """Run a command; the CLI runs its own event loop, so it gets a thread of its own."""
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, cli, list(args), env=cli_env(settings, **env), catch_exceptions=False
    )
