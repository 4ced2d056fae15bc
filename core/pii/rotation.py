"""Key rotation: ``madoguchi keys rotate [--tenant SLUG]``."""

from __future__ import annotations

from sqlmodel import select

from core.audit.log import record
from core.db.base import utcnow
from core.db.engine import Database
from core.identity.models import User
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.pii.models import Customer, TenantKey
from core.settings import Settings
from core.tenancy.models import Tenant
from core.tenancy.service import context_of

__all__ = ["rotate_master", "rotate_tenant"]


async def rotate_tenant(db: Database, settings: Settings, tenant_id: int) -> int:
    """A new data key for the tenant; every record re-sealed under it, in one transaction;
    then the old versions are destroyed. Returns the number of records re-sealed."""
    keyring = KeyRing(settings)
    async with db.session() as platform:
        tenant = await platform.get(Tenant, tenant_id)
    assert tenant is not None
    ctx = context_of(tenant)
    async with db.session(ctx) as session:
        pd = PersonalData(db, session, keyring, ctx)
        customers = list((await session.exec(select(Customer))).all())
        plain = await pd.plaintext_rows(customers)
        version, _ = await keyring.new_version(session, tenant_id)
        pd = PersonalData(db, session, keyring, ctx)  # a fresh accessor seals with the new key
        for customer, values in zip(customers, plain, strict=True):
            await pd._seal(customer, {k: v for k, v in values.items() if k != "uid"})
        for row in (await session.exec(select(TenantKey))).all():
            if row.version != version and row.wrapped is not None:
                row.wrapped, row.destroyed_at = None, utcnow()
        await record(
            session,
            "keys.rotate",
            object_type="tenant_key",
            object_id=version,
            fields=[f"records:{len(customers)}"],
        )
    return len(customers)


async def rotate_master(db: Database, settings: Settings) -> tuple[int, int]:
    """A new master key re-wraps every data key and sealed secret; old master key files are
    removed once nothing depends on them. Returns (data keys re-wrapped, files removed)."""
    keyring = KeyRing(settings)
    old = [ident for ident in keyring.master_ids()]
    keyring.new_master()
    rewrapped = 0
    async with db.session() as platform:
        tenants = list((await platform.exec(select(Tenant))).all())
        for user in (await platform.exec(select(User))).all():
            if user.totp_sealed is not None:
                label = f"totp|{user.id}"
                user.totp_sealed = keyring.seal_secret(
                    label, keyring.open_secret(label, user.totp_sealed)
                )
        await record(
            platform, "keys.rotate_master", object_type="master_key", object_id=keyring.current
        )
    for tenant in tenants:
        assert tenant.id is not None
        async with db.session(tenant.id) as session:
            count = await keyring.rewrap(session, tenant.id)
            if count:
                await record(
                    session, "keys.rewrap", object_type="tenant_key", fields=[f"keys:{count}"]
                )
            rewrapped += count
    removed = sum(1 for ident in old if keyring.forget_master(ident) is not None)
    return rewrapped, removed
