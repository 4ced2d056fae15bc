"""The demo: example tenants from ``tenants/`` and demo staff with Japanese names.

Idempotent: a second run changes nothing but issues fresh demo tokens. Demo staff are BPO
and client employees; each new tenant also gets 20 generated customers and 2 canaries.
"""

from __future__ import annotations

import random

import click
from rich.console import Console
from sqlmodel import select

from core.cli.runtime import Runtime
from core.db.engine import Database
from core.identity.models import User
from core.identity.service import create_token, create_user, grant_role
from core.pii.access import PersonalData
from core.pii.generate import seed_canaries, seed_customers
from core.pii.keyring import KeyRing
from core.tenancy.manifest import load_manifests
from core.tenancy.service import apply_specs

__all__ = ["DEMO_STAFF", "load_demo"]

# (email, name, [(role, tenant slug or None)])
DEMO_STAFF: list[tuple[str, str, list[tuple[str, str | None]]]] = [
    ("admin@madoguchi.example", "管理 花子", [("platform_admin", None)]),
    ("security@madoguchi.example", "監査 誠", [("security_officer", None)]),
    (
        "sv.tanaka@madoguchi.example",
        "田中 美咲",
        [("supervisor", "mitsubachi-honpo"), ("supervisor", "aoba-city")],
    ),
    (
        "op.suzuki@madoguchi.example",
        "鈴木 健太",
        [("operator", "mitsubachi-honpo"), ("operator", "sakura-sonpo")],
    ),
    (
        "op.takahashi@madoguchi.example",
        "高橋 由美",
        [("operator", "sakura-sonpo"), ("operator", "aoba-city")],
    ),
    ("cs@mitsubachi-honpo.example.jp", "蜂谷 さくら", [("client_admin", "mitsubachi-honpo")]),
    ("viewer@sakura-sonpo.example.jp", "桜井 直樹", [("client_viewer", "sakura-sonpo")]),
]


async def load_demo(db: Database, runtime: Runtime, console: Console) -> None:
    specs = load_manifests(runtime.settings.tenants_dir, runtime.host)
    changes = await apply_specs(db, runtime.host, specs)
    for change in changes:
        console.print(f"tenant {change.slug}: {'created' if change.created else 'ready'}")
    keyring = KeyRing(runtime.settings)
    for change in changes:
        if change.created and change.context is not None:
            async with db.session(change.context) as session:
                pd = PersonalData(db, session, keyring, change.context)
                await seed_customers(session, pd, 20, random.Random(change.slug))  # noqa: S311 (repeatable demo data)
            await seed_canaries(db, keyring, change.context, 2)
            console.print(f"  {change.slug}: 20 demo customers, 2 canaries")
    async with db.session() as session:
        for email, name, grants in DEMO_STAFF:
            exists = (await session.exec(select(User).where(User.email == email))).first()
            if exists is None:
                await create_user(session, email, name)
            for role, slug in grants:
                await grant_role(session, email, role, slug)
        admin_token = await create_token(session, DEMO_STAFF[0][0], expires_days=7)
        operator_token = await create_token(session, DEMO_STAFF[3][0], expires_days=7)
    console.print("demo tokens (valid 7 days, shown once):")
    # plain echo: a token must not be wrapped across lines by the console
    click.echo(f"  platform_admin {DEMO_STAFF[0][0]}: {admin_token}")
    click.echo(f"  operator       {DEMO_STAFF[3][0]}: {operator_token}")
    click.echo(
        '  curl -H "Authorization: Bearer <token>" http://127.0.0.1:8000/api/v1/admin/tenants'
    )
