"""Inquiry intake through the API: idempotency, customers, queues, take-next, hooks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from core.audit.models import AuditEvent
from core.db.engine import Database
from core.settings import Settings
from plugins.intake.models import Inquiry, InquiryMessage
from tests.plugins.intake.conftest import BODY


async def test_idempotency_key_replays_refuses_and_stores_once(desk: Any, db: Database) -> None:
    client, headers, listener, ctx = desk
    url = "/api/v1/t/honey/inquiries"
    h = {**headers["op1"], "Idempotency-Key": "form-7f3a"}
    first = await client.post(url, json=BODY, headers=h)
    assert first.status_code == 201, first.text
    again = await client.post(url, json=BODY, headers=h)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(url, json={**BODY, "body": "別の内容"}, headers=h)
    assert other.status_code == 422 and other.json()["error"]["field"] == "Idempotency-Key"
    async with db.session(ctx) as session:
        inquiries = (await session.exec(select(Inquiry))).all()
    assert len(inquiries) == 1
    assert listener.events == [("created", first.json()["uid"])]  # once, after commit
    body = first.json()
    assert body["queue"] == "retention" and body["receipt_no"].count("-") == 1
    assert body["customer_uid"]
    # the customer was stored sealed and is found by the normalised phone number
    search = await client.post(
        "/api/v1/t/honey/customers/search", json={"phone": "090-1111-2222"}, headers=headers["op1"]
    )
    assert [c["uid"] for c in search.json()] == [body["customer_uid"]]
    async with db.session(ctx) as session:
        stored = (await session.exec(select(Inquiry))).one()
        message = (await session.exec(select(InquiryMessage))).one()
    assert "解約" not in (stored.subject or "") and "定期便" not in (message.body or "")


@pytest.mark.parametrize("engine_kind", ["postgres"])
async def test_a_repeat_while_the_first_is_in_flight_gets_409(
    engine_kind: str, desk: Any, db: Database
) -> None:
    import hashlib

    client, headers, _, ctx = desk
    lock = int(hashlib.sha256(f"{ctx.id}|slow-key".encode()).hexdigest()[:15], 16)
    async with db.engine.connect() as other:  # another request holding the key
        await other.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": lock})
        response = await client.post(
            "/api/v1/t/honey/inquiries",
            json=BODY,
            headers={**headers["op1"], "Idempotency-Key": "slow-key"},
        )
        await other.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": lock})
    assert response.status_code == 409


async def test_a_key_stored_elsewhere_after_the_groups_read_replays(
    desk: Any, db: Database
) -> None:
    """A group reads the keys before its turn; another process that stores one of them in
    between makes the group's insert fail, and the item, tried again alone, replays."""
    from plugins.intake.idempotency import request_hash
    from plugins.intake.models import IdempotencyRecord

    client, headers, listener, ctx = desk
    url = "/api/v1/t/honey/inquiries"
    warm = await client.post(url, json=BODY, headers={**headers["op1"], "Idempotency-Key": "w"})
    assert warm.status_code == 201
    writer = client.app.state["intake_writer"]
    read, raced = writer.group.prepare, []
    elsewhere = {"uid": "stored-by-another-process", "receipt_no": "ABCD-EFGH"}

    async def read_then_race(session: Any, tenant: Any, group: list[Any]) -> Any:
        found = await read(session, tenant, group)
        if not raced:  # once: the retry reads again
            raced.append(group[0].key)
            async with writer.core.db.session(ctx) as other:  # the app's loop, not the test's
                version, data_key = await writer.core.keyring.active_key(other, ctx.id)
                other.add(
                    IdempotencyRecord(
                        tenant_id=ctx.id,
                        key=group[0].key,
                        request_hash=request_hash(version, data_key, group[0].body),
                        state="done",
                        response_status=201,
                        response_body=elsewhere,
                    )
                )
        return found

    writer.group.prepare = read_then_race
    response = await client.post(
        url, json=BODY, headers={**headers["op1"], "Idempotency-Key": "raced"}
    )
    assert raced == ["raced"]
    assert response.status_code == 201, response.text
    assert response.headers["idempotent-replayed"] == "true"
    assert response.json() == elsewhere
    async with db.session(ctx) as session:
        assert len((await session.exec(select(Inquiry))).all()) == 1  # the warm-up's only
    assert [uid for _, uid in listener.events] == [warm.json()["uid"]]


async def test_bad_input_gets_a_clear_error_and_changes_nothing(desk: Any, db: Database) -> None:
    client, headers, _, ctx = desk
    url = "/api/v1/t/honey/inquiries"
    cases = [
        ({**BODY, "phone": "12-34"}, 422),
        ({**BODY, "channel": "fax"}, 422),
        ({**BODY, "priority": "high"}, 400),
        ({k: v for k, v in BODY.items() if k != "body"}, 400),
    ]
    for body, status in cases:
        response = await client.post(url, json=body, headers=headers["op1"])
        assert response.status_code == status, (body, response.text)
    broken = await client.post(
        url, content=b'{"body": ', headers={**headers["op1"], "content-type": "application/json"}
    )
    assert broken.status_code == 400
    huge = await client.post(url, json={**BODY, "body": "あ" * 600_000}, headers=headers["op1"])
    assert huge.status_code in (400, 413)
    unknown = await client.post("/api/v1/t/no-such/inquiries", json=BODY, headers=headers["op1"])
    assert unknown.status_code == 404
    async with db.session(ctx) as session:
        assert (await session.exec(select(Inquiry))).all() == []


async def test_take_next_gives_two_operators_different_inquiries(desk: Any) -> None:
    client, headers, _, _ = desk
    url = "/api/v1/t/honey/inquiries"
    for n, priority in enumerate((3, 1, 2)):
        await client.post(
            url,
            json={
                **BODY,
                "body": f"問い合わせ{n}",
                "priority": priority,
                "phone": None,
                "email": f"c{n}@example.jp",
            },
            headers=headers["op1"],
        )
    taken = await asyncio.gather(
        *(client.post(f"{url}/take-next", headers=headers[op]) for op in ("op1", "op2"))
    )
    uids = [t.json()["uid"] for t in taken]
    assert len(set(uids)) == 2
    assert sorted(t.json()["priority"] for t in taken) == [1, 2]  # the most urgent first
    third = await client.post(f"{url}/take-next", headers=headers["op1"])
    assert third.json()["priority"] == 3
    assert (await client.post(f"{url}/take-next", headers=headers["op2"])).status_code == 204


async def test_reply_resolve_and_supervision(desk: Any) -> None:
    client, headers, listener, _ = desk
    url = "/api/v1/t/honey/inquiries"
    uid = (await client.post(url, json=BODY, headers=headers["op1"])).json()["uid"]
    reply = await client.post(
        f"{url}/{uid}/messages",
        json={"kind": "reply", "body": "承知しました。"},
        headers=headers["op1"],
    )
    assert reply.status_code == 201
    note = await client.post(
        f"{url}/{uid}/messages", json={"kind": "note", "body": "要確認"}, headers=headers["op1"]
    )
    assert note.status_code == 201
    detail = await client.get(f"{url}/{uid}", headers=headers["op1"])
    assert [m["kind"] for m in detail.json()["messages"]] == ["inbound", "reply", "note"]
    assert (
        detail.json()["subject"] == "定期便の解約" and detail.headers["cache-control"] == "no-store"
    )
    resolved = await client.patch(
        f"{url}/{uid}", json={"status": "resolved"}, headers=headers["op1"]
    )
    assert resolved.json()["status"] == "resolved"
    assert ("resolved", uid) in listener.events
    stats = await client.get("/api/v1/t/honey/intake/queues", headers=headers["sv"])
    assert stats.status_code == 200
    assert {q["queue"] for q in stats.json()} == {"retention", "general"}
    assert (
        await client.get("/api/v1/t/honey/intake/queues", headers=headers["op1"])
    ).status_code == 403


async def test_contact_form_with_spam_protection(
    desk: Any, settings: Settings, db: Database
) -> None:
    import re

    from core.crypto.keyfiles import load_or_create_key
    from plugins.intake.contact import form_token

    client, headers, _, ctx = desk
    form = await client.get("/t/honey/contact")
    assert form.status_code == 200 and "お問い合わせ" in form.text
    fresh = re.search(r'name="token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    fields = {
        "name": "佐藤　花子",
        "phone": "０８０－３３３３－４４４４",
        "postal_code": "１００－０００１",
        "address": "東京都千代田区",
        "body": "商品が届きません。",
    }
    too_fast = await client.post("/t/honey/contact", data={**fields, "token": fresh})
    assert too_fast.status_code == 400
    key = load_or_create_key(
        settings.var_dir / "keys" / "plugin-intake-form.key", env="MADOGUCHI_INTAKE_FORM_KEY"
    )
    aged = form_token(key, "honey", int(time.time()) - 30)  # as if the customer typed for 30 s
    bot = await client.post(
        "/t/honey/contact", data={**fields, "token": aged, "website": "http://spam"}
    )
    assert bot.status_code == 400
    bad_phone = await client.post(
        "/t/honey/contact", data={**fields, "phone": "123", "token": aged}
    )
    assert bad_phone.status_code == 422 and "電話番号" in bad_phone.text
    done = await client.post("/t/honey/contact", data={**fields, "token": aged})
    assert done.status_code == 200
    receipt = re.search(r'data-testid="receipt-no">([A-Z0-9-]+)<', done.text).group(1)  # type: ignore[union-attr]
    async with db.session(ctx) as session:
        [inquiry] = (await session.exec(select(Inquiry))).all()
        events = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "inquiry.create"))
        ).all()
    assert inquiry.receipt_no == receipt and inquiry.channel == "web" and len(events) == 1
    found = await client.post(
        "/api/v1/t/honey/customers/search", json={"phone": "08033334444"}, headers=headers["op1"]
    )
    assert len(found.json()) == 1
    assert (await client.get("/t/no-such-tenant/contact")).status_code == 404


async def test_a_revoked_grant_refuses_the_next_inquiry_at_once(desk: Any, db: Database) -> None:
    """The gate takes the token's caller from a short cache on this route; the group's
    transaction reads the grants again, so a revoke counts for the very next request."""
    from core.approvals.service import revoke

    client, headers, _, ctx = desk
    url = "/api/v1/t/honey/inquiries"
    first = await client.post(url, json=BODY, headers=headers["op1"])
    assert first.status_code == 201
    async with db.session() as session:
        assert await revoke(session, "op1@bpo.example.jp", "operator", "honey")
    refused = await client.post(url, json={**BODY, "body": "二件目"}, headers=headers["op1"])
    assert refused.status_code == 404, refused.text  # no role in the tenant: as if none
    async with db.session(ctx) as session:
        assert len((await session.exec(select(Inquiry))).all()) == 1
        denied = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "access.denied"))
        ).all()
    assert [(e.object_id, e.outcome) for e in denied] == [("inquiry:create", "denied:no_role")]


async def test_a_burst_of_inquiries_is_stored_once_each_with_shared_customers(
    desk: Any, db: Database
) -> None:
    from core.audit.verify import verify_tenant
    from core.pii.models import Customer

    client, headers, _, ctx = desk
    url = "/api/v1/t/honey/inquiries"

    async def send(n: int) -> Any:
        body = {**BODY, "body": f"問い合わせ {n}", "phone": f"090-2222-{n % 5:04d}"}
        body.pop("email")
        return await client.post(
            url, json=body, headers={**headers["op2"], "Idempotency-Key": f"k{n}"}
        )

    answers = await asyncio.gather(*(send(n) for n in range(30)))
    assert [a.status_code for a in answers] == [201] * 30
    by_phone: dict[int, set[str]] = {}
    for n, answer in enumerate(answers):
        by_phone.setdefault(n % 5, set()).add(answer.json()["customer_uid"])
    assert all(len(uids) == 1 for uids in by_phone.values())  # one customer per phone number
    replay = await send(7)
    assert replay.json() == answers[7].json() and replay.headers["idempotent-replayed"] == "true"
    async with db.session(ctx) as session:
        assert len((await session.exec(select(Inquiry))).all()) == 30
        assert len((await session.exec(select(InquiryMessage))).all()) == 30
        assert len((await session.exec(select(Customer))).all()) == 5
    assert (await verify_tenant(db, ctx.id)).report.ok


async def test_a_new_grant_counts_at_once_despite_the_gate_cache(desk: Any, db: Database) -> None:
    from tests.conftest import grant, make_token

    client, _, _, ctx = desk
    newcomer = await make_token(db, "op3@bpo.example.jp")  # no role anywhere yet
    url = "/api/v1/t/honey/inquiries"
    assert (await client.post(url, json=BODY, headers=newcomer)).status_code == 404
    await grant(db, "op3@bpo.example.jp", "operator", "honey")
    accepted = await client.post(url, json=BODY, headers=newcomer)
    assert accepted.status_code == 201, accepted.text
    async with db.session(ctx) as session:
        denied = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "access.denied"))
        ).all()
    assert len(denied) == 1  # the real refusal; the cache's provisional one is not evidence


async def test_a_new_queue_and_a_new_data_key_count_from_the_next_inquiry(
    desk: Any, db: Database, settings: Settings
) -> None:
    """The writer keeps the queues and the active key while the tenant's configuration is
    unchanged; a queue or a key written in between is used by the very next inquiry."""
    from core.audit.log import Actor, acting_as
    from core.crypto.sealing import sealed_version
    from core.pii.keyring import KeyRing
    from plugins.intake.models import Queue

    client, headers, _, ctx = desk
    url = "/api/v1/t/honey/inquiries"
    billing = {"channel": "web", "subject": "請求書の再発行", "body": "請求書をなくしました。"}
    first = await client.post(url, json=billing, headers=headers["op1"])
    assert first.status_code == 201 and first.json()["queue"] == "general"
    async with db.session(ctx) as session:
        session.add(
            Queue(tenant_id=ctx.id, slug="billing", name="請求", position=10, keywords=["請求"])
        )
    second = await client.post(url, json=billing, headers=headers["op1"])
    assert second.status_code == 201 and second.json()["queue"] == "billing"
    async with db.session(ctx) as session:
        with acting_as(Actor(via="test")):
            version, _ = await KeyRing(settings).new_version(session, ctx.id)
    third = await client.post(url, json=billing, headers=headers["op1"])
    assert third.status_code == 201
    async with db.session(ctx) as session:
        stored = await session.exec(select(Inquiry).where(Inquiry.uid == third.json()["uid"]))
        subject = stored.one().subject
    assert subject is not None and sealed_version(subject) == version == 2


async def test_key_rotation_reseals_inquiry_texts_and_attachments(
    desk: Any, db: Database, settings: Settings
) -> None:
    """Rotation destroys the old data keys: an inquiry's subject, its messages and their
    attachments are sealed under the new key first, so they stay readable."""
    from core.audit.log import Actor, acting_as
    from core.crypto.sealing import sealed_version
    from core.pii.access import PersonalData
    from core.pii.keyring import KeyRing
    from core.pii.rotation import rotate_tenant
    from plugins.intake.models import Attachment

    client, headers, _, ctx = desk
    created = await client.post("/api/v1/t/honey/inquiries", json=BODY, headers=headers["op1"])
    assert created.status_code == 201
    uid = created.json()["uid"]
    keyring = KeyRing(settings)
    async with db.session(ctx) as session:
        message = (await session.exec(select(InquiryMessage))).one()
        pd = PersonalData(db, session, keyring, ctx)
        attachment = Attachment(
            tenant_id=ctx.id, uid="att-1", message_id=message.id or 0, content_type="text/plain"
        )
        attachment.filename = await pd.seal_text(
            "intake_attachment", "filename", "att-1", "明細.txt"
        )
        session.add(attachment)
        with pytest.raises(ValueError, match="__sealed_text__"):  # rotation would not find it
            await pd.seal_text("intake_inquiry", "category", uid, "請求")
    with acting_as(Actor(via="test")):
        # the customer and three sealed rows (the inquiry, its message, the attachment)
        assert await rotate_tenant(db, settings, ctx.id) == 4
    detail = await client.get(f"/api/v1/t/honey/inquiries/{uid}", headers=headers["op1"])
    assert detail.status_code == 200, detail.text
    assert detail.json()["subject"] == BODY["subject"]
    assert [m["body"] for m in detail.json()["messages"]] == [BODY["body"]]
    async with db.session(ctx) as session:
        stored = (await session.exec(select(Attachment))).one()
        assert stored.filename is not None and sealed_version(stored.filename) == 2
        pd = PersonalData(db, session, KeyRing(settings), ctx)
        opened = await pd.open_text("intake_attachment", "filename", "att-1", stored.filename)
    assert opened == "明細.txt"


async def test_supervisors_configure_queues_and_inquiries_route_by_category_and_keyword(
    desk: Any, db: Database
) -> None:
    from plugins.intake.models import Queue

    client, headers, _, ctx = desk
    queues = "/api/v1/t/honey/intake/queues"
    billing = {"name": "請求", "position": 10, "categories": ["請求"], "keywords": ["領収書"]}
    created = await client.put(f"{queues}/billing", json=billing, headers=headers["sv"])
    assert created.status_code == 201, created.text
    assert created.json()["categories"] == ["請求"]
    async with db.session(ctx) as session:  # a refused change changes nothing
        before = (await session.exec(select(Queue).where(Queue.slug == "billing"))).one()
    # an operator works the queues but does not configure them
    refused = await client.put(f"{queues}/billing", json=billing, headers=headers["op1"])
    assert refused.status_code == 403
    for wrong, field in (
        ({**billing, "channels": ["fax"]}, "channels"),
        ({**billing, "name": ""}, "name"),
    ):
        answer = await client.put(f"{queues}/billing", json=wrong, headers=headers["sv"])
        assert answer.status_code in (400, 422) and answer.json()["error"]["field"] == field
    async with db.session(ctx) as session:
        after = (await session.exec(select(Queue).where(Queue.slug == "billing"))).one()
    assert (after.name, after.channels) == (before.name, before.channels) == ("請求", [])
    bad_slug = await client.put(f"{queues}/Billing_Q", json=billing, headers=headers["sv"])
    assert bad_slug.status_code == 422 and bad_slug.json()["error"]["field"] == "slug"

    url = "/api/v1/t/honey/inquiries"
    by_category = await client.post(
        url,
        json={"channel": "web", "body": "二重に引き落とされました", "category": "請求"},
        headers=headers["op1"],
    )
    by_keyword = await client.post(
        url, json={"channel": "web", "body": "領収書を送ってください"}, headers=headers["op1"]
    )
    other = await client.post(
        url, json={"channel": "web", "body": "住所変更"}, headers=headers["op1"]
    )
    assert [r.json()["queue"] for r in (by_category, by_keyword, other)] == [
        "billing",
        "billing",
        "general",
    ]
    # a change of routing counts from the next inquiry
    changed = await client.put(
        f"{queues}/billing", json={**billing, "keywords": ["住所"]}, headers=headers["sv"]
    )
    assert changed.status_code == 200
    moved = await client.post(
        url, json={"channel": "web", "body": "住所変更"}, headers=headers["op1"]
    )
    assert moved.json()["queue"] == "billing"
    stats = await client.get(queues, headers=headers["sv"])
    assert {q["queue"]: q["keywords"] for q in stats.json()}["billing"] == ["住所"]
    # a queue that holds inquiries stays; an unused one can go
    assert (await client.delete(f"{queues}/billing", headers=headers["sv"])).status_code == 409
    await client.put(f"{queues}/spare", json={"name": "予備"}, headers=headers["sv"])
    assert (await client.delete(f"{queues}/spare", headers=headers["sv"])).status_code == 204
    assert (await client.delete(f"{queues}/spare", headers=headers["sv"])).status_code == 404
    async with db.session(ctx) as session:
        actions = (
            await session.exec(
                select(AuditEvent.action, AuditEvent.object_id).where(
                    col(AuditEvent.action).in_(["queue.configure", "queue.delete"])
                )
            )
        ).all()
    assert sorted(actions) == [
        ("queue.configure", "billing"),
        ("queue.configure", "billing"),
        ("queue.configure", "spare"),
        ("queue.delete", "spare"),
    ]
