"""X-Forwarded-For counts only from the proxies MADOGUCHI_TRUSTED_PROXIES names.

Served by uvicorn with the options ``madoguchi serve`` uses, over loopback: uvicorn on its own
trusts X-Forwarded-For from 127.0.0.1, which let any local caller, or anyone behind a proxy
that passes the header on, choose the address the audit log records and the login throttle
counts.
"""

from __future__ import annotations

import dataclasses

import pytest
from sqlmodel import col, select

from core.app import create_app
from core.audit.models import PlatformAuditEvent
from core.db.engine import Database
from core.identity.attempts import ATTEMPTS
from core.plugins.host import PluginHost
from core.settings import Settings, load_settings
from tests.served import served


async def failed_login_addresses(db: Database) -> list[str]:
    async with db.session() as session:
        events = await session.exec(
            select(PlatformAuditEvent)
            .where(PlatformAuditEvent.action == "auth.login")
            .order_by(col(PlatformAuditEvent.seq))
        )
        return [e.client_addr for e in events.all()]


def login(email: str) -> dict[str, str]:
    return {"email": email, "password": "not-the-password"}


async def test_forwarded_for_is_ignored_when_no_proxy_is_trusted(
    settings: Settings, host: PluginHost, db: Database
) -> None:
    async with served(create_app(settings, host=host)) as client:
        answers = [
            await client.post(
                "/api/v1/auth/login",
                json=login("sv@example.jp"),
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            )
            for n in range(ATTEMPTS + 1)
        ]
    # a new forged address each time neither hides the caller nor resets its count
    assert [a.status_code for a in answers] == [401] * ATTEMPTS + [429]
    assert await failed_login_addresses(db) == ["127.0.0.1"] * (ATTEMPTS + 1)


async def test_a_trusted_proxy_gives_the_client_address(
    settings: Settings, host: PluginHost, db: Database
) -> None:
    behind_proxy = dataclasses.replace(settings, trusted_proxies=("127.0.0.0/8",))
    async with served(create_app(behind_proxy, host=host)) as client:
        # the client wrote the first address itself; the proxy appended the one it saw
        forwarded = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
        answer = await client.post(
            "/api/v1/auth/login", json=login("u@example.jp"), headers=forwarded
        )
    assert answer.status_code == 401
    assert await failed_login_addresses(db) == ["203.0.113.9"]


def test_a_malformed_trusted_proxy_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MADOGUCHI_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")
    with pytest.raises(ValueError, match=r"proxy\.internal"):
        load_settings()
    monkeypatch.setenv("MADOGUCHI_TRUSTED_PROXIES", "10.1.2.3/8 ::1")
    assert load_settings().trusted_proxies == ("10.0.0.0/8", "::1")
