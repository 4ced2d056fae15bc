"""Helpers for tests that run the real command line or a real server."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import httpx

__all__ = ["approve_over_http", "free_port", "grant_with_cli", "run_cli"]


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


OFFICER = "cli-officer@bpo.example.jp"


def grant_with_cli(
    env: dict[str, str], email: str, role: str, tenant: str | None = None
) -> int | None:
    """``madoguchi user grant``; the id of the request it made when the grant awaits a second
    person's approval (a tenant role that reads personal data), else None."""
    args = ["user", "grant", email, role, *(["--tenant", tenant] if tenant else [])]
    output = run_cli(env, *args)
    found = re.search(r"\(request (\d+)\)", output)
    return int(found.group(1)) if found else None


def approve_over_http(env: dict[str, str], url: str, request_ids: list[int]) -> None:
    """Approve requests as a security officer through the running server's API (the officer
    and their token are made by the server's console, as when a platform is bootstrapped)."""
    if not request_ids:
        return
    listed = run_cli(env, "user", "create", OFFICER, "--no-password")
    assert "created" in listed
    run_cli(env, "user", "grant", OFFICER, "security_officer")
    token = run_cli(env, "token", "create", OFFICER, "--expires", "1").strip()
    for request_id in request_ids:
        answer = httpx.post(
            f"{url}/api/v1/admin/approvals/{request_id}/approve",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
