"""Key rotation: ``madoguchi keys rotate [--tenant SLUG]``."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from core.audit.log import record
from core.crypto.sealing import open_field, sealed_version
from core.db.base import utcnow
from core.db.engine import Database
from core.identity.models import User
from core.pii.access import PersonalData, sealed_text_models
from core.pii.keyring import KeyRing
from core.pii.models import Customer, TenantKey
from core.settings import Settings
from core.tenancy.models import Tenant
from core.tenancy.service import context_of

__all__ = ["rotate_master", "rotate_tenant"]


async def _sealed_texts(
    session: Any, keyring: KeyRing, tenant_id: int
) -> list[tuple[Any, str, str]]:
    """(row, column, plaintext) of every sealed text of the tenant, opened with the key
    version each was sealed under."""
    keys: dict[int, bytes] = {}
    texts: list[tuple[Any, str, str]] = []
    for model in sealed_text_models():
        for row in (await session.exec(select(model))).all():
            for column in model.__sealed_text__:
                sealed = getattr(row, column)
                if sealed is None:
                    continue
                version = sealed_version(sealed)
                if version not in keys:
                    keys[version] = await keyring.key_version(session, tenant_id, version)
                plain = open_field(
                    keys[version], tenant_id, model.__tablename__, column, row.uid, sealed
                )
                texts.append((row, column, plain))
    return texts


async def rotate_tenant(db: Database, settings: Settings, tenant_id: int) -> int:
    """A new data key for the tenant; every record re-sealed under it (customers, and the
    free text of every model that declares ``__sealed_text__``), in one transaction; then
    the old versions are destroyed. Returns the number of rows re-sealed."""
    keyring = KeyRing(settings)
    async with db.session() as platform:
        tenant = await platform.get(Tenant, tenant_id)
    assert tenant is not None
    ctx = context_of(tenant)
    async with db.session(ctx) as session:
        pd = PersonalData(db, session, keyring, ctx)
        customers = list((await session.exec(select(Customer))).all())
        plain = await pd.plaintext_rows(customers)
        texts = await _sealed_texts(session, keyring, tenant_id)
        version, _ = await keyring.new_version(session, tenant_id)
        pd = PersonalData(db, session, keyring, ctx)  # a fresh accessor seals with the new key
        for customer, values in zip(customers, plain, strict=True):
            await pd._seal(customer, {k: v for k, v in values.items() if k != "uid"})
        for row, column, text in texts:
            setattr(row, column, await pd.seal_text(type(row).__tablename__, column, row.uid, text))
        for row in (await session.exec(select(TenantKey))).all():
            if row.version != version and row.wrapped is not None:
                row.wrapped, row.destroyed_at = None, utcnow()
        await record(
            session,
            "keys.rotate",
            object_type="tenant_key",
            object_id=version,
            fields=[f"records:{len(customers)}", f"texts:{len(texts)}"],
        )
    return len(customers) + len({id(row) for row, _, _ in texts})


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
