"""Personal data: sealed at rest per tenant, masked by default, revealed only with a purpose."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from core.audit.log import Actor, acting_as
from core.audit.models import AuditEvent
from core.crypto.sealing import SealError
from core.db.engine import Database
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing, KeyShredded
from core.pii.models import Customer
from core.settings import Settings
from tests.canaries import CUSTOMER_A, CUSTOMER_B
from tests.conftest import World


async def test_customer_is_stored_sealed_and_shown_masked(
    app: Any, db: Database, world: World
) -> None:
    shown = await app.get(
        f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}",
        headers=world.headers["a:operator"],
    )
    assert shown.status_code == 200
    body = shown.json()
    assert body["phone"] == "090-****-0123"
    assert body["name"] == "鈴木 **"
    assert body["email"] == "k***@example.jp"
    assert body["address"] == "東京都***"
    assert body["birth_date"] == "****-**-**"
    assert "鳴鳥町" not in shown.text and "0123" in body["phone"]
    assert shown.headers["cache-control"] == "no-store"
    async with db.session(world.a) as session:
        stored = (await session.exec(select(Customer))).one()
    columns = [
        stored.name,
        stored.name_kana,
        stored.phone,
        stored.email,
        stored.address,
        stored.birth_date,
        stored.note,
        stored.phone_index,
        stored.email_index,
    ]
    assert all(c is not None for c in columns)
    for value in columns:
        assert not any(v in str(value) for v in CUSTOMER_A.values())
        assert "09077770123" not in str(value)
    async with db.session(world.a) as session:
        events = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "pii.read"))
        ).all()
    assert [e.object_id for e in events] == [world.customer_a]


async def test_reveal_needs_a_purpose_and_is_audited(app: Any, db: Database, world: World) -> None:
    url = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}/reveal"
    headers = world.headers["a:operator"]
    missing = await app.post(url, json={"fields": ["phone"], "purpose": " "}, headers=headers)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "purpose"
    bad_field = await app.post(
        url, json={"fields": ["password"], "purpose": "identity"}, headers=headers
    )
    assert bad_field.status_code == 422
    shown = await app.post(
        url, json={"fields": ["phone", "name"], "purpose": "callback"}, headers=headers
    )
    assert shown.status_code == 200
    assert shown.json()["values"] == {"phone": "09077770123", "name": CUSTOMER_A["name"]}
    assert shown.headers["cache-control"] == "no-store"
    async with db.session(world.a) as session:
        [event] = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "pii.reveal"))
        ).all()
    assert event.fields == ["name", "phone"] and event.purpose == "callback"
    assert event.object_id == world.customer_a and event.actor_roles == ["operator"]
    assert not any(v in str(event.model_dump()) for v in CUSTOMER_A.values())


async def test_platform_roles_and_viewers_cannot_read_plaintext(app: Any, world: World) -> None:
    url = f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}"
    body = {"fields": ["phone"], "purpose": "identity"}
    assert (await app.get(url, headers=world.headers["platform_admin"])).status_code == 404
    assert (
        await app.post(url + "/reveal", json=body, headers=world.headers["platform_admin"])
    ).status_code == 404
    officer = await app.post(url + "/reveal", json=body, headers=world.headers["security_officer"])
    assert officer.status_code == 403
    assert (await app.get(url, headers=world.headers["security_officer"])).status_code == 403
    viewer = await app.post(url + "/reveal", json=body, headers=world.headers["a:client_viewer"])
    assert viewer.status_code == 403


async def test_lookup_by_phone_or_email_in_any_width(app: Any, world: World) -> None:
    url = f"/api/v1/t/{world.a.slug}/customers/search"
    headers = world.headers["a:operator"]
    wide = await app.post(url, json={"phone": "０９０－７７７７－０１２３"}, headers=headers)
    assert [c["uid"] for c in wide.json()] == [world.customer_a]
    mail = await app.post(url, json={"email": "Kanaria.Suzuki@EXAMPLE.jp"}, headers=headers)
    assert [c["uid"] for c in mail.json()] == [world.customer_a]
    # the same number belongs to nobody in tenant B (its index key differs)
    other = await app.post(
        f"/api/v1/t/{world.b.slug}/customers/search",
        json={"phone": "090-7777-0123"},
        headers=world.headers["b:operator"],
    )
    assert other.json() == []


async def test_ciphertext_moved_to_another_row_or_tenant_does_not_open(
    db: Database, settings: Settings, world: World
) -> None:
    keyring = KeyRing(settings)
    async with db.session(world.a) as session:
        pd = PersonalData(db, session, keyring, world.a)
        victim = await pd.create_customer({"name": "別人 太郎"})
        source = await pd.by_uid(world.customer_a)
        assert source is not None
        victim.name = source.name  # copy A's sealed name onto another row
        with pytest.raises(SealError):
            await pd._open(victim, "name")
        with pytest.raises(SealError):  # and onto another column of the same row
            source.note = source.name
            await pd._open(source, "note")
    async with db.session(world.b) as session:
        pd_b = PersonalData(db, session, keyring, world.b)
        stranger = await pd_b.create_customer({"name": "他社 花子"})
        stranger.name = source.phone  # another tenant's ciphertext
        with pytest.raises(SealError):
            await pd_b._open(stranger, "name")


async def test_offboarding_shreds_one_tenant_and_spares_the_others(
    db: Database, settings: Settings, world: World, tmp_path: Any
) -> None:
    from core.pii.offboarding import offboard, open_archive

    path, key, certificate = await offboard(db, settings, world.a.id, tmp_path / "a.mdgarchive")
    archive = open_archive(path, key)
    assert archive["customers"][0]["phone"] == "09077770123"  # type: ignore[index]
    assert CUSTOMER_A["name"].encode() not in path.read_bytes()
    keyring = KeyRing(settings)
    with acting_as(Actor(via="test")):
        async with db.session(world.a) as session:
            pd = PersonalData(db, session, keyring, world.a)
            customer = await pd.by_uid(world.customer_a)
            assert customer is not None
            with pytest.raises(KeyShredded):
                await pd._open(customer, "name")
        async with db.session(world.b) as session:
            pd_b = PersonalData(db, session, keyring, world.b)
            other = await pd_b.by_uid(world.customer_b)
            assert other is not None
            assert await pd_b._open(other, "name") == CUSTOMER_B["name"]
        async with db.session(world.a) as session:
            [event] = (
                await session.exec(select(AuditEvent).where(AuditEvent.action == "tenant.offboard"))
            ).all()
    assert event.hash == certificate
    assert any(f.startswith("archive_sha256:") for f in event.fields)


async def test_offboarded_tenant_is_gone_from_the_api(
    app: Any, db: Database, settings: Settings, world: World, tmp_path: Any
) -> None:
    from core.pii.offboarding import offboard

    await offboard(db, settings, world.a.id, tmp_path / "a.mdgarchive")
    response = await app.get(
        f"/api/v1/t/{world.a.slug}/customers", headers=world.headers["a:operator"]
    )
    assert response.status_code == 404


async def test_tenant_key_rotation_reseals_every_record(
    db: Database, settings: Settings, world: World
) -> None:
    from core.pii.models import TenantKey
    from core.pii.rotation import rotate_tenant

    async with db.session(world.a) as session:
        before = (await session.exec(select(Customer))).one().name
    with acting_as(Actor(via="test")):
        assert await rotate_tenant(db, settings, world.a.id) == 1
    keyring = KeyRing(settings)
    async with db.session(world.a) as session:
        customer = (await session.exec(select(Customer))).one()
        assert (
            customer.name != before
            and customer.name is not None
            and customer.name.startswith("v2:")
        )
        assert (
            await PersonalData(db, session, keyring, world.a)._open(customer, "name")
            == CUSTOMER_A["name"]
        )
        keys = {k.version: k.wrapped for k in (await session.exec(select(TenantKey))).all()}
        assert keys[1] is None and keys[2] is not None
        found = await PersonalData(db, session, keyring, world.a).find(phone="09077770123")
        assert [c.uid for c in found] == [world.customer_a]


async def test_master_key_rotation_rewraps_and_removes_the_old_key(
    db: Database, settings: Settings, world: World
) -> None:
    from core.pii.rotation import rotate_master

    old = set(KeyRing(settings).master_ids())
    with acting_as(Actor(via="test")):
        rewrapped, removed = await rotate_master(db, settings)
    assert rewrapped == 2 and removed == 1
    keyring = KeyRing(settings)
    assert not old & set(keyring.master_ids())
    async with db.session(world.b) as session:
        pd = PersonalData(db, session, keyring, world.b)
        customer = await pd.by_uid(world.customer_b)
        assert customer is not None
        assert await pd._open(customer, "email") == CUSTOMER_B["email"]
    assert oct((settings.var_dir / "keys").stat().st_mode)[-3:] == "700"
    for path in (settings.var_dir / "keys").glob("master-*.key"):
        assert oct(path.stat().st_mode)[-3:] == "600"


async def test_two_processes_creating_the_first_key_agree_on_it(
    db: Database, settings: Settings, host: Any
) -> None:
    """Two app processes (two key rings) seal a new tenant's first data at the same moment:
    only one data key may exist, and both must use it."""
    import asyncio

    from tests.conftest import make_tenant

    ctx = await make_tenant(db, host, "race-co", {})
    rings = [KeyRing(settings), KeyRing(settings)]

    async def seal(ring: KeyRing, name: str) -> str:
        with acting_as(Actor(via="test")):
            async with db.session(ctx) as session:
                customer = await PersonalData(db, session, ring, ctx).create_customer(
                    {"name": name}
                )
                return customer.uid

    uids = await asyncio.gather(seal(rings[0], "甲野 一"), seal(rings[1], "乙野 二"))
    for ring in rings:  # each process reads both records
        async with db.session(ctx) as session:
            pd = PersonalData(db, session, ring, ctx)
            names = [await pd.field(await pd.by_uid(uid), "name") for uid in uids]  # type: ignore[arg-type]
        assert names == ["甲野 一", "乙野 二"]
    from core.pii.models import TenantKey

    async with db.session(ctx) as session:
        assert len((await session.exec(select(TenantKey))).all()) == 1


async def test_duplicates_are_found_by_index_and_merged(
    app: Any, db: Database, world: World
) -> None:
    base = f"/api/v1/t/{world.a.slug}/customers"
    op, sv = world.headers["a:operator"], world.headers["a:supervisor"]
    twin = await app.post(
        base,
        json={
            "name": "スズキ カナリア",
            "phone": "09077770123",
            "address": "東京都千代田区鳴鳥町1-2-3",
        },
        headers=op,
    )
    assert twin.status_code == 201
    groups = (await app.get(f"{base}/duplicates", headers=op)).json()
    assert [sorted(c["uid"] for c in g) for g in groups] == [
        sorted([world.customer_a, twin.json()["uid"]])
    ]
    assert "0123" in groups[0][0]["phone"] and "7777" not in str(groups)  # masked
    assert (
        await app.post(
            f"{base}/{twin.json()['uid']}/merge", json={"into": world.customer_a}, headers=op
        )
    ).status_code == 403  # supervisors merge
    merged = await app.post(
        f"{base}/{twin.json()['uid']}/merge", json={"into": world.customer_a}, headers=sv
    )
    assert merged.status_code == 200 and merged.json()["uid"] == world.customer_a
    assert (await app.get(f"{base}/duplicates", headers=op)).json() == []
    listed = [c["uid"] for c in (await app.get(base, headers=op)).json()]
    assert listed == [world.customer_a]
    found = await app.post(f"{base}/search", json={"phone": "09077770123"}, headers=op)
    assert [c["uid"] for c in found.json()] == [world.customer_a]
    via_old = await app.get(f"{base}/{twin.json()['uid']}", headers=op)
    assert via_old.json()["uid"] == world.customer_a  # the old id leads to the merged record
    again = await app.post(
        f"{base}/{twin.json()['uid']}/merge", json={"into": world.customer_a}, headers=sv
    )
    assert again.status_code == 409
