"""An inquiry is acknowledged only after it is committed: SIGKILL the server mid-stream,
retry until acknowledged, and every acknowledged inquiry is there exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from core.db.migrate import sync_url
from tests.support import approve_over_http, free_port, grant_with_cli, run_cli

TOTAL, KILL_AT = 60, (12, 29, 44)


def _start(env: dict[str, str], port: int, log: Any) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli.main", "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)  # waiting for start-up, not timing anything
    process.kill()
    raise RuntimeError("server did not start")


def test_sigkill_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(MADOGUCHI_HOME=str(tmp_path), MADOGUCHI_LOG_FORMAT="json")
    manifest = tmp_path / "crash-co.toml"
    manifest.write_text(
        'display_name = "クラッシュ試験"\n[plugins.intake]\nenabled = true\n', encoding="utf-8"
    )
    run_cli(env, "tenant", "apply", str(manifest))
    run_cli(env, "user", "create", "op@bpo.example.jp", "--no-password")
    asked = grant_with_cli(env, "op@bpo.example.jp", "operator", "crash-co")
    token = run_cli(env, "token", "create", "op@bpo.example.jp").strip()
    port = free_port()
    log = (tmp_path / "server.log").open("ab")
    server = _start(env, port, log)
    approve_over_http(env, f"http://127.0.0.1:{port}", [asked] if asked else [])
    url = f"http://127.0.0.1:{port}/api/v1/t/crash-co/inquiries"
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()

    def send(n: int) -> None:
        key = f"crash-{n:03d}"
        with httpx.Client(timeout=10) as client:
            for _attempt in range(400):
                try:
                    response = client.post(
                        url,
                        json={
                            "channel": "web",
                            "body": f"問い合わせ {n}",
                            "email": f"c{n}@example.jp",
                        },
                        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                    )
                except httpx.TransportError:
                    time.sleep(0.05)  # back off while the server is down; not a timing check
                    continue
                if response.status_code in (200, 201):
                    with lock:
                        acknowledged[key] = response.json()["uid"]
                    return
                time.sleep(0.05)

    kills = 0
    with ThreadPoolExecutor(max_workers=4) as pool:  # requests in flight when the kill lands
        futures = [pool.submit(send, n) for n in range(TOTAL)]
        for threshold in KILL_AT:
            while len(acknowledged) < threshold:
                time.sleep(0.01)  # waiting for progress, not timing anything
            server.send_signal(signal.SIGKILL)
            server.wait()
            kills += 1
            server = _start(env, port, log)
        for future in futures:
            future.result()
    assert len(acknowledged) == TOTAL
    server.send_signal(signal.SIGKILL)  # and once more at the very end
    server.wait()
    log.close()
    assert kills == len(KILL_AT)
    engine = sa.create_engine(sync_url(f"sqlite:///{tmp_path / 'var' / 'madoguchi.db'}"))
    with engine.connect() as connection:
        uids = [r[0] for r in connection.execute(sa.text("SELECT uid FROM intake_inquiry"))]
        keys = [r[0] for r in connection.execute(sa.text("SELECT key FROM intake_idempotency"))]
    engine.dispose()
    assert sorted(uids) == sorted(acknowledged.values())  # each acknowledged one, once
    assert sorted(keys) == sorted(acknowledged)
    verify = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout
    assert "BROKEN" not in verify.stdout
