"""Changing a password ends the user's other sessions, from the account page and the CLI."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from litestar.testing import TestClient

from core.app import create_app
from core.cli.main import cli
from core.db.engine import Database
from core.identity.attempts import ATTEMPTS
from core.identity.sessions import COOKIE
from core.plugins.host import PluginHost
from core.settings import Settings
from tests.core.identity.test_sign_in import PASSWORD, make_user

NEW_PASSWORD = "あたらしい合言葉-2026-12"


async def signed_in(app: Any, password: str = PASSWORD) -> tuple[dict[str, str], str]:
    """The cookie header and CSRF token of a new session of op@example.jp."""
    app.cookies.clear()
    done = await app.post(
        "/api/v1/auth/login", json={"email": "op@example.jp", "password": password}
    )
    assert done.status_code == 200, done.text
    token = done.cookies[COOKIE]
    app.cookies.clear()  # each request below names its session itself
    return {"Cookie": f"{COOKIE}={token}"}, done.json()["csrf_token"]


async def change(app: Any, session: dict[str, str], csrf: str, current: str) -> Any:
    form = {"_csrf": csrf, "current": current, "new": NEW_PASSWORD, "again": NEW_PASSWORD}
    return await app.post("/account/password", data=form, headers=session)


async def test_changing_the_password_on_the_account_page_ends_the_other_sessions(
    app: Any, db: Database
) -> None:
    await make_user(db, "op@example.jp")
    here, csrf = await signed_in(app)
    elsewhere, _ = await signed_in(app)
    changed = await change(app, here, csrf, PASSWORD)
    assert changed.status_code == 200
    assert (await app.get("/api/v1/auth/me", headers=elsewhere)).status_code == 401
    assert "ほかの端末のセッションをすべてログアウトしました" in changed.text
    assert (await app.get("/api/v1/auth/me", headers=here)).status_code == 200
    old = await app.post(
        "/api/v1/auth/login", json={"email": "op@example.jp", "password": PASSWORD}
    )
    assert old.status_code == 401
    await signed_in(app, NEW_PASSWORD)


async def test_guesses_of_the_current_password_are_throttled(app: Any, db: Database) -> None:
    await make_user(db, "op@example.jp")
    session, csrf = await signed_in(app)
    guesses = [await change(app, session, csrf, f"guess-{n:03}-password") for n in range(ATTEMPTS)]
    assert [g.status_code for g in guesses] == [400] * ATTEMPTS
    assert (await change(app, session, csrf, PASSWORD)).status_code == 429


def test_madoguchi_user_password_ends_every_session(settings: Settings, host: PluginHost) -> None:
    env = {
        "MADOGUCHI_HOME": str(settings.home),
        "MADOGUCHI_DATABASE_URL": settings.database_url,
        "MADOGUCHI_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "MADOGUCHI_LOG_FORMAT": "json",
    }

    def madoguchi(*args: str, password: str | None = None) -> str:
        result = CliRunner().invoke(cli, list(args), env=env, input=password)
        assert result.exit_code == 0, result.output
        return result.output

    madoguchi("user", "create", "op@example.jp", password=PASSWORD + "\n")
    with TestClient(app=create_app(settings, host=host)) as client:
        body = {"email": "op@example.jp", "password": PASSWORD}
        assert client.post("/api/v1/auth/login", json=body).status_code == 200
        assert client.get("/api/v1/auth/me").status_code == 200
        output = madoguchi("user", "password", "op@example.jp", password=NEW_PASSWORD + "\n")
        assert client.get("/api/v1/auth/me").status_code == 401
    assert "1 session(s) signed out" in output
