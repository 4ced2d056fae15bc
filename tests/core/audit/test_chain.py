"""The audit chains catch every kind of tampering and name the first bad event."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.audit.checkpoint import verify_all
from core.audit.log import Actor, acting_as, record
from core.audit.signer import CheckpointRun, take_checkpoints
from core.audit.signing import load_signing_key
from core.db.engine import Database
from core.settings import Settings
from core.tenancy.context import TenantContext
from tests.conftest import make_tenant
from tests.core.audit.tamper import COLUMNS, Owner


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


async def checkpoint(db: Database, settings: Settings) -> CheckpointRun:
    return await take_checkpoints(db, load_signing_key(settings), every=timedelta(0))


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
    await checkpoint(db, settings)
    owner = Owner(settings, chain.id)
    await owner.rewrite("改ざんされた目的")  # every event, every hash, and the head
    from core.audit.verify import verify_tenant

    assert (await verify_tenant(db, chain.id)).report.ok  # the chain itself is consistent again
    result = await verify_all(db, settings, chain.id)
    [report] = result.reports
    assert not report.ok and "rewritten since the checkpoint" in report.reason
    assert result.checkpoint is not None


async def test_checkpoint_with_a_forged_signature_is_refused(
    db: Database, settings: Settings, chain: TenantContext
) -> None:
    await checkpoint(db, settings)
    owner = Owner(settings, chain.id)
    # the checkpoint moved back to match a chain cut short: its signature no longer holds
    await owner.run("UPDATE audit_checkpoint SET seq = 30 WHERE tenant_id = :t", t=chain.id)
    [report] = (await verify_all(db, settings, chain.id)).reports
    assert (report.ok, report.first_bad_seq) == (False, 30)
    assert "signature does not hold" in report.reason


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
