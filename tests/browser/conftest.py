"""A real server on a free loopback port and a real Chromium (Debian's, driven by Playwright).

The server runs ``madoguchi serve`` on a fresh MADOGUCHI_HOME prepared with the CLI: the demo
tenants, staff with passwords, and a TOTP second factor for the administrator.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import approve_over_http, free_port, grant_with_cli, run_cli

PASSWORD = "ブラウザ試験用の長い合言葉42"
CHROMIUM = os.environ.get("MADOGUCHI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# made by `madoguchi demo`; the tests give them passwords
DEMO_STAFF = ("viewer@sakura-sonpo.example.jp", "cs@mitsubachi-honpo.example.jp")
# created here: email -> [(role, tenant)]
STAFF = {
    "op.two@bpo.example.jp": [("operator", "mitsubachi-honpo"), ("operator", "sakura-sonpo")],
}
ADMIN = "admin@madoguchi.example"


@dataclass
class Server:
    url: str
    home: Path
    admin_totp_secret: str
    env: dict[str, str]


def cli_token(server: Server, email: str, tenant: str) -> str:
    """An API token made with the CLI, as an administrator would hand one out."""
    return run_cli(server.env, "token", "create", email, "--tenant", tenant).strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("browser-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(MADOGUCHI_HOME=str(home), MADOGUCHI_LOG_FORMAT="json")
    run_cli(env, "demo")
    run_cli(env, "user", "password", ADMIN, stdin=PASSWORD + "\n")
    secret = run_cli(env, "user", "totp", ADMIN).splitlines()[0].split()[-1]
    for email in DEMO_STAFF:
        run_cli(env, "user", "password", email, stdin=PASSWORD + "\n")
    asked = []
    for email, grants in STAFF.items():
        run_cli(env, "user", "create", email, stdin=PASSWORD + "\n")
        for role, slug in grants:
            asked.append(grant_with_cli(env, email, role, slug))
    port = free_port()
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)  # waiting for start-up, not timing anything
    else:
        process.kill()
        raise RuntimeError("the server did not start: " + (home / "server.log").read_text())
    approve_over_http(env, url, [a for a in asked if a is not None])
    yield Server(url=url, home=home, admin_totp_secret=secret, env=env)
    process.terminate()
    process.wait(timeout=30)
    log.close()


# module scope: Playwright's sync API keeps an event loop running in this thread while it
# lives, which the rest of the suite (asyncio.run in migrations and the CLI) must not meet
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"Chromium is missing at {CHROMIUM}: scripts/test.sh installs it")
        pytest.skip("Chromium not installed here (scripts/test.sh installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 800}, locale="ja-JP"
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, email: str, totp: str | None = None) -> None:
    page.goto("/login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(PASSWORD)
    if totp:
        page.get_by_label("ワンタイムコード").fill(totp)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state()
