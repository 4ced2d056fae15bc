"""`madoguchi serve --demo` starts a real server on a fresh home: Quick start, minus the venv."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import free_port


def test_serve_demo_on_a_fresh_home(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(MADOGUCHI_HOME=str(tmp_path), MADOGUCHI_LOG_FORMAT="json")
    server = subprocess.Popen(
        [sys.executable, "-m", "core.cli.main", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)  # polling for start-up, not timing anything
        assert ready is not None and ready.status_code == 200, server.poll()
        home = httpx.get(f"http://127.0.0.1:{port}/")
        assert "窓口" in home.text and "<strong>3</strong>" in home.text
        assert (tmp_path / "var" / "madoguchi.db").exists()
        wal = httpx.get(f"http://127.0.0.1:{port}/schema/openapi.json").json()
        assert "/api/v1/admin/tenants" in wal["paths"]
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    token_lines = [
        line for line in output.splitlines() if "platform_admin" in line and "mdg_" in line
    ]
    assert token_lines, output
