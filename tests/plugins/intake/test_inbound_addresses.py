"""An inbound address belongs to one tenant: refused on save by manifest, API and console,
race-free, and the SMTP listener routes by it."""

from __future__ import annotations

import asyncio
import smtplib
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from click.testing import CliRunner
from litestar.testing import AsyncTestClient
from sqlmodel import select

from core.app import create_app
from core.cli.main import cli
from core.cli.process import PluginProcess
from core.db.engine import Database
from core.plugins.host import PluginHost
from core.settings import Settings
from core.tenancy.manifest import ManifestError, parse_manifest
from core.tenancy.service import apply_specs
from plugins.intake.models import Inquiry
from plugins.intake.smtp import IntakeSMTPHandler
from tests.conftest import make_tenant, make_token
from tests.support import free_port

INBOX = "support@kaede.example.jp"
FIELD = "plugins.intake.settings.inbound_addresses"


def _mail(addresses: list[str], **more: Any) -> dict[str, Any]:
    settings = {"channels": ["web", "email"], "inbound_addresses": addresses, **more}
    return {"intake": {"enabled": True, "settings": settings}}


def _spec(host: PluginHost, slug: str, addresses: list[str]) -> Any:
    return parse_manifest(
        {"slug": slug, "display_name": f"{slug} 株式会社", "plugins": _mail(addresses)}, host
    )


def test_madoguchi_tenant_apply_refuses_an_address_of_another_client(
    settings: Settings, tmp_path: Path
) -> None:
    env = {
        "MADOGUCHI_HOME": str(settings.home),
        "MADOGUCHI_DATABASE_URL": settings.database_url,
        "MADOGUCHI_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "MADOGUCHI_LOG_FORMAT": "json",
    }
    files = {
        "kaede": f'inbound_addresses = ["{INBOX}"]',
        "ichou": 'inbound_addresses = ["Support@Kaede.example.jp"]',  # the same, in capitals
    }
    results = []
    for slug, setting in files.items():
        manifest = tmp_path / f"{slug}.toml"
        manifest.write_text(
            f'display_name = "{slug}"\n[plugins.intake]\nsettings = {{ {setting} }}\n',
            encoding="utf-8",
        )
        results.append(CliRunner().invoke(cli, ["tenant", "apply", str(manifest)], env=env))
    assert results[0].exit_code == 0, results[0].output
    refused = results[1]
    assert refused.exit_code == 1 and not isinstance(refused.exception, RuntimeError)
    assert f"{tmp_path / 'ichou.toml'}: {FIELD}" in refused.output
    assert "another client" in refused.output
    listed = CliRunner().invoke(cli, ["tenant", "list"], env=env)
    assert "kaede" in listed.output and "ichou" not in listed.output


async def test_an_address_of_another_client_is_refused_by_api_and_console(
    settings: Settings, db: Database, host: PluginHost
) -> None:
    await make_tenant(db, host, "kaede", _mail([INBOX]))
    other = await make_tenant(db, host, "momiji", _mail(["info@momiji.example.jp"]))

    admin = await make_token(db, "root@bpo.example.jp", ("platform_admin", None))
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        created = await client.post(
            "/api/v1/admin/tenants",
            headers=admin,
            json={"slug": "ichou", "display_name": "銀杏商事", "plugins": _mail([INBOX])},
        )
        assert created.status_code == 422, created.text
        assert created.json()["error"]["field"] == FIELD
        patched = await client.patch(
            f"/api/v1/admin/tenants/{other.slug}",
            headers=admin,
            json={"plugins": {"intake": {"settings": {"inbound_addresses": [INBOX]}}}},
        )
        assert patched.status_code == 422 and patched.json()["error"]["field"] == FIELD
        console = await client.post(
            f"/admin/tenants/{other.slug}/plugins/intake",
            headers=admin,
            data={
                "enabled": "1",
                "setting.channels": "web\nemail",
                "setting.inbound_addresses": f"{INBOX}\ninfo@momiji.example.jp",
            },
        )
        assert console.status_code == 422 and "inbound_addresses" in console.text
        assert "another client" in console.text
        assert (await client.get("/api/v1/admin/tenants/ichou", headers=admin)).status_code == 404
        momiji = (await client.get(f"/api/v1/admin/tenants/{other.slug}", headers=admin)).json()
    [intake] = [p for p in momiji["plugins"] if p["id"] == "intake"]
    assert intake["settings"]["inbound_addresses"] == ["info@momiji.example.jp"]


async def test_an_address_must_be_one_address_and_reply_from_one_line(
    db: Database, host: PluginHost
) -> None:
    for settings, field in (
        ({"inbound_addresses": ["a@kaede.example.jp, b@kaede.example.jp"]}, "inbound_addresses"),
        ({"reply_from": "noreply@kaede.example.jp\r\nBcc: x@spam.example"}, "reply_from"),
    ):
        with pytest.raises(ManifestError) as refused:
            await make_tenant(db, host, "kaede", {"intake": {"settings": settings}})
        assert refused.value.field == f"plugins.intake.settings.{field}"


async def test_two_clients_saving_one_address_at_once_one_wins(
    db: Database, host: PluginHost
) -> None:
    for round_ in range(3):
        address = f"desk{round_}@shared.example.jp"
        specs = [_spec(host, f"t{round_}-{n}", [address]) for n in range(2)]
        outcomes = await asyncio.gather(
            *(apply_specs(db, host, [spec]) for spec in specs), return_exceptions=True
        )
        refused = [o for o in outcomes if isinstance(o, ManifestError)]
        assert len(refused) == 1 and refused[0].field == FIELD, outcomes
        assert sum(isinstance(o, list) for o in outcomes) == 1


async def test_disabling_intake_releases_its_addresses(db: Database, host: PluginHost) -> None:
    await make_tenant(db, host, "kaede", _mail([INBOX]))
    with pytest.raises(ManifestError):
        await make_tenant(db, host, "momiji", _mail([INBOX]))
    await apply_specs(
        db,
        host,
        [
            parse_manifest(
                {
                    "slug": "kaede",
                    "display_name": "kaede 株式会社",
                    "plugins": {
                        "intake": {
                            "enabled": False,
                            "settings": _mail([INBOX])["intake"]["settings"],
                        }
                    },
                },
                host,
            )
        ],
    )
    await make_tenant(db, host, "momiji", _mail([INBOX]))


async def test_the_listener_routes_by_the_address_rows_not_by_settings(
    settings: Settings, db: Database, host: PluginHost
) -> None:
    """A tenant whose stored settings list another client's address (written before the
    check existed) does not get that client's mail."""
    from core.plugins.models import TenantPlugin

    kaede = await make_tenant(db, host, "kaede", _mail([INBOX]))
    zelkova = await make_tenant(db, host, "zelkova", _mail(["info@zelkova.example.jp"]))
    async with db.session(zelkova) as session:  # as an older version could have stored it
        row = (await session.exec(select(TenantPlugin))).one()
        row.settings = {**row.settings, "inbound_addresses": [INBOX]}
    handler = IntakeSMTPHandler(PluginProcess("intake", settings, host))
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, enable_SMTPUTF8=True), "127.0.0.1", port
    )
    try:
        message = MIMEText("解約したいです。", "plain", "utf-8")
        message["From"] = "customer@example.jp"
        message["Subject"] = "解約"

        def deliver() -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.sendmail("customer@example.jp", [INBOX], message.as_bytes())

        await asyncio.to_thread(deliver)
    finally:
        server.close()
        await server.wait_closed()
        await handler.process.close()
    counts = {}
    for ctx in (kaede, zelkova):
        async with db.session(ctx) as session:
            counts[ctx.slug] = len((await session.exec(select(Inquiry))).all())
    assert counts == {"kaede": 1, "zelkova": 0}
