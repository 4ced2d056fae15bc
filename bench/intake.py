"""Inquiry intake under load: prints one JSON line per run.

    .venv/bin/python bench/intake.py [--seconds 15] [--connections 32 128] [--database-url URL]
                                     [--workers 2] [--no-helpdesk]

Starts the real server (uvicorn, ``--workers`` processes) on a fresh MADOGUCHI_HOME with one
tenant, an operator token and full security on (authorisation, encryption, audit,
idempotency), then drives it with ``wrk`` (Debian's package) for a bounded time:

* ``POST /api/v1/t/bench/inquiries``, each request with its own Idempotency-Key and customer;
* ``GET /healthz`` of the same server, as the hello-world baseline of this run;
* django-helpdesk (``bench/helpdesk_baseline.py``) creating tickets through its REST API at
  the same concurrency, after Madoguchi's server has stopped, with the ratio to it.

Take-next latency at 1,000,000 inquiries is ``bench/take_next.py``.

Targets (from the issue): 1,000 inquiries/s on SQLite and PostgreSQL, at least 15% of the
hello-world figure, p99 under 150 ms at 32 connections, at least 15 times django-helpdesk.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import helpdesk_baseline  # sibling scripts
from loadgen import LUA_REPORT, LUA_THREAD_IDS, cpu_seconds, free_port, wait_until_ok, wrk

ROOT = Path(__file__).resolve().parent.parent
LUA = (
    LUA_THREAD_IDS
    + """
request = function()
  counter = counter + 1
  local id = string.format("%d-%d-%d", tid, os.time(), counter)
  local body = string.format('{"channel":"web","body":"負荷試験の問い合わせ %s","email":"b%s@example.jp"}', id, id)
  return wrk.format("POST", "/api/v1/t/bench/inquiries", {
    ["Authorization"] = "Bearer TOKEN",
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. id,
  }, body)
end
"""
    + LUA_REPORT
)


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "core.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return done.stdout


def _analyze(url: str) -> None:
    """PostgreSQL: statistics for the tables the warm-up filled, as autovacuum gathers them
    within its first minute (its threshold is 50 rows). Without them the plans the server
    cached while the tables were empty (an index read by tenant only, a scan) are what the
    run would measure; ANALYZE makes the server plan those statements again."""
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("+asyncpg", "+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))
    engine.dispose()


def _approve(url: str, token: str, request_id: int) -> None:
    import httpx

    answer = httpx.post(
        f"{url}/api/v1/admin/approvals/{request_id}/approve",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if answer.status_code != 200:
        raise SystemExit(f"approval failed: {answer.status_code} {answer.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", help="PostgreSQL URL of an empty database (owner)")
    parser.add_argument("--no-helpdesk", action="store_true", help="skip django-helpdesk")
    args = parser.parse_args()
    ours: dict[int, float] = {}
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
        env.update(MADOGUCHI_HOME=str(home), MADOGUCHI_LOG_FORMAT="json")
        # the audit signing key lives outside var/: in the run's own folder, not the user's
        env.update(MADOGUCHI_AUDIT_SIGNING_KEY_FILE=str(home / "secrets" / "audit-signing.key"))
        if args.database_url:
            env.update(MADOGUCHI_DATABASE_URL=args.database_url)
            _cli(env, "db", "upgrade")
        (home / "bench.toml").write_text(
            'display_name = "ベンチ商事"\n[plugins.intake]\nenabled = true\n'
            "[security]\nread_hard_limit = 0\nreveal_hard_limit = 0\n",
            encoding="utf-8",
        )
        _cli(env, "tenant", "apply", str(home / "bench.toml"))
        _cli(env, "user", "create", "bench@bpo.example.jp", "--no-password")
        asked = _cli(env, "user", "grant", "bench@bpo.example.jp", "operator", "--tenant", "bench")
        # the operator's role waits for a second person: a security officer, bootstrapped by
        # the console, approves it through the API once the server runs
        request_id = re.search(r"\(request (\d+)\)", asked)
        _cli(env, "user", "create", "bench-officer@bpo.example.jp", "--no-password")
        _cli(env, "user", "grant", "bench-officer@bpo.example.jp", "security_officer")
        officer = _cli(env, "token", "create", "bench-officer@bpo.example.jp").strip()
        token = _cli(env, "token", "create", "bench@bpo.example.jp").strip()
        script = home / "post.lua"
        script.write_text(LUA.replace("TOKEN", token), encoding="utf-8")
        port = free_port()
        log = (home / "server.log").open("w")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "core.app:create_app",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_ok(f"{url}/readyz")
            if request_id is not None:
                _approve(url, officer, int(request_id.group(1)))
            engine = "postgresql" if args.database_url else "sqlite"
            hello = home / "hello.lua"
            hello.write_text(LUA_REPORT, encoding="utf-8")
            # both workers start on their own; warm them (and the caches) before measuring
            wrk(f"{url}/healthz", hello, 32, 2)
            wrk(url, script, 32, 2)
            if args.database_url:
                _analyze(args.database_url)
            for connections in args.connections:
                before = cpu_seconds(server.pid)
                base = wrk(f"{url}/healthz", hello, connections, max(5, args.seconds // 2))
                between = cpu_seconds(server.pid)
                run = wrk(url, script, connections, args.seconds)
                hello_cpu, run_cpu = between - before, cpu_seconds(server.pid) - between
                ok = run["requests"] - run["non2xx"]
                per_s = ok / run["seconds"]
                hello_s = base["requests"] / base["seconds"]
                ours[connections] = per_s
                print(
                    json.dumps(
                        {
                            "bench": "intake",
                            "engine": engine,
                            "connections": connections,
                            "workers": args.workers,
                            "inquiries_per_s": round(per_s, 1),
                            "p50_ms": run["p50_ms"],
                            "p99_ms": run["p99_ms"],
                            "errors": run["errors"],
                            "non_2xx": run["non2xx"],
                            "hello_world_per_s": round(hello_s, 1),
                            "ratio_to_hello_world": round(per_s / hello_s, 3),
                            # the app server's CPU per request (its database server's not
                            # counted), and hello-world's over it: steadier on a shared machine
                            "server_cpu_ms_per_inquiry": round(run_cpu * 1000 / max(ok, 1), 3),
                            "cpu_ratio_to_hello_world": round(
                                hello_cpu
                                / max(base["requests"], 1)
                                / max(run_cpu / max(ok, 1), 1e-9),
                                3,
                            ),
                            "targets": {
                                "inquiries_per_s": 1000,
                                "ratio": 0.15,
                                "p99_ms_at_32": 150,
                            },
                        },
                        ensure_ascii=False,
                    ),
                    flush=True,
                )
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
            log.close()
    if args.no_helpdesk:
        return
    for connections, figures in helpdesk_baseline.run(
        args.connections, args.seconds, args.workers
    ).items():
        theirs = (figures["requests"] - figures["non2xx"]) / figures["seconds"]
        print(
            json.dumps(
                {
                    "bench": "intake-vs-django-helpdesk",
                    "connections": connections,
                    "django_helpdesk_tickets_per_s": round(theirs, 1),
                    "django_helpdesk_p99_ms": figures["p99_ms"],
                    "django_helpdesk_non_2xx": figures["non2xx"],
                    "madoguchi_inquiries_per_s": round(ours[connections], 1),
                    "ratio": round(ours[connections] / theirs, 1) if theirs else None,
                    "target_ratio": 15,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
