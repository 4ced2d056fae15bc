"""The demo: example tenants from ``tenants/`` and demo staff with Japanese names.

Idempotent: a second run changes nothing but issues fresh demo tokens. Demo staff are BPO
and client employees; each new tenant also gets 20 generated customers and 2 canaries.
"""

from __future__ import annotations

import random

import click
from rich.console import Console
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.approvals.models import Status
from core.approvals.service import Requester, decide, held_roles, request_grant
from core.audit.log import Actor, acting_as
from core.cli.runtime import Runtime, services_for
from core.db.engine import Database
from core.identity.models import User
from core.identity.service import create_token, create_user
from core.pii.access import PersonalData
from core.pii.generate import seed_canaries, seed_customers
from core.pii.keyring import KeyRing
from core.tenancy.manifest import load_manifests
from core.tenancy.service import apply_specs, get_tenant

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
    changes = await apply_specs(db, runtime.host, specs, services=services_for(runtime, db))
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
    await _demo_staff(db)
    async with db.session() as session:
        admin_token = await create_token(session, DEMO_STAFF[0][0], expires_days=7)
        operator_token = await create_token(session, DEMO_STAFF[3][0], expires_days=7)
    console.print("demo tokens (valid 7 days, shown once):")
    # plain echo: a token must not be wrapped across lines by the console
    click.echo(f"  platform_admin {DEMO_STAFF[0][0]}: {admin_token}")
    click.echo(f"  operator       {DEMO_STAFF[3][0]}: {operator_token}")
    click.echo(
        '  curl -H "Authorization: Bearer <token>" http://127.0.0.1:8000/api/v1/admin/tenants'
    )


async def _person(db: Database, email: str, name: str) -> int:
    async with db.session() as session:
        user = (await session.exec(select(User).where(User.email == email))).first()
        if user is None:
            user = await create_user(session, email, name)
        assert user.id is not None
        return user.id


async def _demo_staff(db: Database) -> None:
    """The demo's staff, granted the way the product grants: platform roles by the server's
    console, tenant roles asked for by the platform admin and approved by a second person
    (the tenant's client_admin where it has one, else the security officer)."""
    ids = {email: await _person(db, email, name) for email, name, _ in DEMO_STAFF}
    admin, officer = ids[DEMO_STAFF[0][0]], ids[DEMO_STAFF[1][0]]
    client_admins = {
        slug: ids[email]
        for email, _, grants in DEMO_STAFF
        for role, slug in grants
        if role == "client_admin" and slug
    }
    # platform roles first, then each tenant's client_admin (who approves the rest)
    ordered = sorted(
        ((email, role, slug) for email, _, grants in DEMO_STAFF for role, slug in grants),
        key=lambda g: (g[2] is not None, g[1] != "client_admin"),
    )
    for email, role, slug in ordered:
        async with db.session() as session:
            held = await held_roles(session, ids[email])
            tenant_id = await _tenant_id(session, slug)
            if role in held.get(tenant_id, set()):
                continue
            by = Requester(None, "cli") if slug is None else Requester(admin, "cli")
            with acting_as(Actor(user_id=by.user_id, via="cli")):
                row = await request_grant(session, by, email, role, slug)
        if row.status == Status.PENDING and row.id is not None:
            approver = client_admins.get(slug or "", officer)
            with acting_as(Actor(user_id=approver, via="cli")):
                async with db.session() as session:
                    await decide(session, row.id, approver, accept=True)


async def _tenant_id(session: AsyncSession, slug: str | None) -> int | None:
    if slug is None:
        return None
    tenant = await get_tenant(session, slug)
    return tenant.id if tenant else None
