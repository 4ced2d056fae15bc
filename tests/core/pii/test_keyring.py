"""The key ring keeps what a transaction read or made only once that transaction committed."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import Actor, acting_as
from core.db.engine import Database
from core.db.group_commit import GroupCommit
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.pii.models import Customer
from core.plugins.host import PluginHost
from core.settings import Settings
from core.tenancy.context import TenantContext
from core.tenancy.models import Tenant
from tests.conftest import make_tenant

POISON = "poison"


def person(n: int) -> dict[str, str]:
    return {"name": f"顧客 {n}号", "phone": f"0311110{n:03d}"}


class Registrar:
    """A group handler that creates each item's customer through the audited accessor, with
    the tenant's ``config_version`` read first (as a recheck does), and fails the whole
    transaction for the poisoned item after everything else was sealed."""

    def __init__(self, db: Database, keyring: KeyRing) -> None:
        self.db, self.keyring = db, keyring

    async def __call__(
        self, session: AsyncSession, ctx: TenantContext, items: list[Any]
    ) -> list[Any]:
        version = (
            await session.exec(select(Tenant.config_version).where(Tenant.id == ctx.id))
        ).one()
        accessor = PersonalData(self.db, session, self.keyring, ctx, version)
        made = await accessor.create_customers([person(n) for n in items if n != POISON])
        if POISON in items:
            raise RuntimeError("this transaction fails")
        refs = iter(made)
        return [next(refs).uid if n != POISON else None for n in items]  # type: ignore[union-attr]


async def test_a_new_tenants_failed_first_group_leaves_every_row_readable_by_a_fresh_process(
    db: Database, host: PluginHost, settings: Settings
) -> None:
    """The first group of a new tenant creates its data key, then fails; its items are
    retried one by one. Every retried row must be sealed with a key some row holds: a new
    process (new Database, new KeyRing, the same database and key files) reads them all."""
    ctx = await make_tenant(db, host, "shinki-shoji")
    keyring = KeyRing(settings)
    group: GroupCommit[Any, Any] = GroupCommit(db.for_groups(), Registrar(db, keyring), name="test")
    items: list[Any] = [1, 2, POISON, 3, 4]
    with acting_as(Actor(via="test")):
        answers = await asyncio.gather(
            *(group.submit(ctx, n) for n in items), return_exceptions=True
        )
        assert isinstance(answers[2], RuntimeError)
        uids = [a for n, a in enumerate(answers) if n != 2]
        assert all(isinstance(uid, str) for uid in uids), answers
        # later groups, which may take the key from the cache, are readable as well
        uids.append(await group.submit(ctx, 5))

    fresh = Database(settings.database_url)
    try:
        with acting_as(Actor(via="test")):
            async with fresh.session(ctx) as session:
                accessor = PersonalData(fresh, session, KeyRing(settings), ctx)
                customers = (await session.exec(select(Customer).order_by(col(Customer.id)))).all()
                assert sorted(c.uid for c in customers) == sorted(uids)
                names = [
                    (await accessor.field(c, "name"), await accessor.field(c, "phone"))
                    for c in customers
                ]
    finally:
        await fresh.dispose()
    expected = [(p["name"], p["phone"]) for p in map(person, [1, 2, 3, 4, 5])]
    assert sorted(names) == sorted(expected)
