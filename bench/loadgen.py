"""What the HTTP benchmarks share: a free loopback port, wrk runs, and the Lua that makes wrk
report its figures as one JSON object."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx

__all__ = ["LUA_REPORT", "LUA_THREAD_IDS", "cpu_seconds", "free_port", "wrk"]

# each wrk thread gets its own id: their random generators start alike, and equal keys or
# addresses from two threads would be (rightly) answered as repeats
LUA_THREAD_IDS = """
local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
counter = 0
"""

LUA_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("JSON{\\"requests\\":%d,\\"errors\\":%d,\\"non2xx\\":%d,\\"seconds\\":%.3f,\\"p50_ms\\":%.2f,\\"p99_ms\\":%.2f}\\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid`` and its descendants (Linux
    ``/proc``). Unlike requests per second, the CPU a request costs hardly depends on what else
    the machine runs, so runs on a shared machine can be compared by it."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def wait_until_ok(url: str, headers: dict[str, str] | None = None, seconds: float = 30) -> None:
    """Poll ``url`` until it answers 200 (a server starting); give up after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer 200 within {seconds:.0f} s")


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    """Drive ``url`` with wrk (2 threads) for a bounded time; the figures of ``LUA_REPORT``."""
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    match = re.search(r"JSON(\{.*\})", out.stdout)
    if match is None:
        raise SystemExit(out.stdout + out.stderr)
    figures: dict[str, float] = json.loads(match.group(1))
    return figures
