"""The audit chains catch every kind of tampering and name the first bad event."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.audit.chain import event_hash
from core.audit.checkpoint import verify_all, write_checkpoint
from core.audit.log import Actor, acting_as, record
from core.db.engine import Database, make_engine
from core.settings import Settings
from core.tenancy.context import TenantContext
from tests.conftest import make_tenant

COLUMNS = (
    "seq",
    "at",
    "actor_user_id",
    "actor_roles",
    "action",
    "object_type",
    "object_id",
    "fields",
    "purpose",
    "outcome",
    "request_id",
    "client_addr",
    "prev_hash",
)


@pytest.fixture
async def chain(db: Database, host: object) -> TenantContext:
    ctx = await make_tenant(db, host, "chain-co", {})  # type: ignore[arg-type]
    with acting_as(Actor(user_id=7, roles=("operator",), request_id="r1", client_addr="10.0.0.1")):
        for n in range(30):
            async with db.session(ctx) as session:
                await record(
                    session,
                    "pii.read",
                    object_type="customer",
                    object_id=f"c{n}",
                    fields=["name", "phone"],
                    purpose="問い合わせ対応",
                )
    return ctx


class Owner:
    """Raw SQL as the table owner: what a rogue administrator with database access could do."""

    def __init__(self, settings: Settings, tenant_id: int) -> None:
        self.engine = make_engine(settings.migration_database_url, poolclass=sa.pool.NullPool)
        self.tenant_id = tenant_id

    async def run(self, sql: str, **params: object) -> None:
        async with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # FORCE RLS binds the owner too
                await connection.execute(
                    sa.text("SELECT set_config('app.tenant_id', :t, true)"),
                    {"t": str(self.tenant_id)},
                )
            await connection.execute(sa.text(sql), params)

    async def rows(self) -> list[sa.Row[object]]:
        async with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    sa.text("SELECT set_config('app.tenant_id', :t, true)"),
                    {"t": str(self.tenant_id)},
                )
            result = await connection.execute(
                sa.text(f"SELECT id, {', '.join(COLUMNS)}, hash FROM audit_event ORDER BY seq")
            )
            return list(result.all())


async def first_bad(db: Database, settings: Settings, ctx: TenantContext) -> tuple[int | None, str]:
    result = await verify_all(db, settings, ctx.id)
    [report] = result.reports
    return report.first_bad_seq, report.reason


async def test_untouched_chains_verify(
    db: Database, settings: Settings, chain: TenantContext
) -> None:
    result = await verify_all(db, settings)
    assert result.ok
    # the tenant's first event records the security settings it was created with; 30 reads
    assert {r.chain: r.events for r in result.reports}[f"t:{chain.id}"] == 31


async def test_random_single_byte_changes_are_caught(
    db: Database, settings: Settings, chain: TenantContext
) -> None:
    owner = Owner(settings, chain.id)
    rng = random.Random(20261122)
    for _ in range(5):
        seq = rng.randint(1, 30)
        column = rng.choice(["object_id", "purpose", "action", "client_addr", "request_id"])
        rows = {r.seq: r for r in await owner.rows()}
        original = getattr(rows[seq], column)
        position = rng.randrange(len(original))
        flipped = original[:position] + chr(ord(original[position]) ^ 1) + original[position + 1 :]
        await owner.run(
            f"UPDATE audit_event SET {column} = :v WHERE seq = :s AND tenant_id = :t",
            v=flipped,
            s=seq,
            t=chain.id,
        )
        assert await first_bad(db, settings, chain) == (
            seq,
            "event content does not match its hash",
        )
        await owner.run(
            f"UPDATE audit_event SET {column} = :v WHERE seq = :s AND tenant_id = :t",
            v=original,
            s=seq,
            t=chain.id,
        )
        assert (await verify_all(db, settings, chain.id)).ok


async def test_deletion_insertion_swap_and_truncation_are_caught(
    db: Database, settings: Settings, chain: TenantContext
) -> None:
    owner = Owner(settings, chain.id)
    rows = {r.seq: r for r in await owner.rows()}

    await owner.run("DELETE FROM audit_event WHERE seq = 12 AND tenant_id = :t", t=chain.id)
    bad, reason = await first_bad(db, settings, chain)
    assert bad == 12 and "missing" in reason
    await _insert(owner, dict(rows[12]._mapping), chain.id)

    # an inserted event, well-formed but not part of the chain
    await owner.run(
        "UPDATE audit_event SET seq = seq + 1000 WHERE seq > 20 AND tenant_id = :t", t=chain.id
    )
    forged = dict(rows[20]._mapping)
    forged.update(seq=21, object_id="forged")
    await _insert(owner, forged, chain.id)
    bad, reason = await first_bad(db, settings, chain)
    assert bad == 21
    await owner.run("DELETE FROM audit_event WHERE seq = 21 AND tenant_id = :t", t=chain.id)
    await owner.run(
        "UPDATE audit_event SET seq = seq - 1000 WHERE seq > 1000 AND tenant_id = :t", t=chain.id
    )
    assert (await verify_all(db, settings, chain.id)).ok

    # swapping two events
    await owner.run("UPDATE audit_event SET seq = -5 WHERE seq = 5 AND tenant_id = :t", t=chain.id)
    await owner.run("UPDATE audit_event SET seq = 5 WHERE seq = 6 AND tenant_id = :t", t=chain.id)
    await owner.run("UPDATE audit_event SET seq = 6 WHERE seq = -5 AND tenant_id = :t", t=chain.id)
    bad, _ = await first_bad(db, settings, chain)
    assert bad == 5

    # truncation of the tail
    await owner.run("UPDATE audit_event SET seq = -5 WHERE seq = 6 AND tenant_id = :t", t=chain.id)
    await owner.run("UPDATE audit_event SET seq = 6 WHERE seq = 5 AND tenant_id = :t", t=chain.id)
    await owner.run("UPDATE audit_event SET seq = 5 WHERE seq = -5 AND tenant_id = :t", t=chain.id)
    assert (await verify_all(db, settings, chain.id)).ok
    await owner.run("DELETE FROM audit_event WHERE seq > 27 AND tenant_id = :t", t=chain.id)
    bad, reason = await first_bad(db, settings, chain)
    assert bad == 28 and "truncated" in reason


async def _insert(owner: Owner, values: dict[str, object], tenant_id: int) -> None:
    data = dict(values)
    data.pop("id", None)
    names = [*COLUMNS, "hash"]
    for key in ("actor_roles", "fields"):
        data[key] = json.dumps(data[key]) if not isinstance(data[key], str) else data[key]
    await owner.run(
        f"INSERT INTO audit_event (tenant_id, {', '.join(names)}) VALUES "
        f"(:tenant_id, {', '.join(':' + n for n in names)})",
        tenant_id=tenant_id,
        **{n: data[n] for n in names},
    )


async def test_a_full_rewrite_is_caught_by_the_checkpoint(
    db: Database, settings: Settings, chain: TenantContext
) -> None:
    await write_checkpoint(db, settings)
    owner = Owner(settings, chain.id)
    rows = await owner.rows()
    prev = "0" * 64
    for row in rows:  # rewrite every event, recomputing every hash, and the head
        values = list(row[1:14])
        if isinstance(values[1], str):  # SQLite hands raw timestamps back as text
            values[1] = datetime.fromisoformat(values[1])
        if isinstance(values[3], str):
            values[3], values[7] = json.loads(values[3]), json.loads(values[7])
        values[8] = "改ざんされた目的"  # purpose
        values[12] = prev
        digest = event_hash(f"t:{chain.id}", values)
        await owner.run(
            "UPDATE audit_event SET purpose = :p, prev_hash = :prev, hash = :h WHERE id = :id",
            p=values[8],
            prev=prev,
            h=digest,
            id=row[0],
        )
        prev = digest
    await owner.run("UPDATE audit_head SET hash = :h WHERE tenant_id = :t", h=prev, t=chain.id)
    from core.audit.verify import verify_tenant

    assert (await verify_tenant(db, chain.id)).report.ok  # the chain itself is consistent again
    result = await verify_all(db, settings, chain.id)
    [report] = result.reports
    assert not report.ok and "rewritten since the checkpoint" in report.reason
    assert result.checkpoint is not None


async def test_checkpoint_with_a_forged_signature_is_refused(
    db: Database, settings: Settings, chain: TenantContext
) -> None:
    from core.audit.checkpoint import CheckpointError

    path: Path = await write_checkpoint(db, settings)
    path.write_text(path.read_text().replace('"seq": 31', '"seq": 30'))
    with pytest.raises(CheckpointError):
        await verify_all(db, settings, chain.id)


# SQLite has no roles: there the file's permissions are the protection
@pytest.mark.parametrize("engine_kind", ["postgres"])
async def test_app_role_cannot_update_or_delete_audit_events(
    engine_kind: str, db: Database, chain: TenantContext
) -> None:
    async with db.engine.connect() as connection:
        await connection.execute(
            sa.text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(chain.id)}
        )
        with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
            await connection.execute(sa.text("DELETE FROM audit_event"))
