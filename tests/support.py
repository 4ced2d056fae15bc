"""Helpers for tests that run the real command line or a real server."""

from __future__ import annotations

import socket
import subprocess
import sys

__all__ = ["free_port", "run_cli"]


def free_port() -> int:
    """A free TCP port on the loopback address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """``madoguchi ARGS`` in a child process; fails the test with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "core.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
