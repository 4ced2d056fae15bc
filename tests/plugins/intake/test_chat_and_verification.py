"""Chat bound to one conversation per token, and the secure identity-verification link."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from core.app import create_app
from core.audit.log import Actor, acting_as
from core.audit.models import AuditEvent
from core.db.engine import Database
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.pii.models import Customer
from core.plugins.host import PluginHost
from core.settings import Settings
from core.tenancy.service import context_of, get_tenant
from plugins.intake.models import Inquiry, Verification
from tests.conftest import make_tenant, make_token
from tests.plugins.intake.conftest import concurrent_client

VERIFYING = {
    "channels": ["chat", "web"],
    "identity_verification": True,
    "verification_fields": ["name", "name_kana", "birth_date", "address", "phone"],
}


@pytest.fixture
async def chat_desk(settings: Settings, db: Database, host: PluginHost) -> Any:
    await make_tenant(db, host, "sonpo", {"intake": {"settings": VERIFYING}})
    await make_tenant(db, host, "no-chat", {"intake": {"settings": {"channels": ["web"]}}})
    op = await make_token(db, "op@bpo.example.jp", ("operator", "sonpo"))
    async with AsyncTestClient(app=create_app(settings, host=host)) as client:
        yield client, op


async def test_each_chat_token_reaches_its_own_conversation_only(chat_desk: Any) -> None:
    client, op = chat_desk
    base = "/api/v1/t/sonpo/chat"
    a = (
        await client.post(f"{base}/conversations", json={"body": "事故の連絡です", "name": "甲"})
    ).json()
    b = (
        await client.post(f"{base}/conversations", json={"body": "住所変更したい", "name": "乙"})
    ).json()
    assert a["token"] != b["token"] and a["token"].startswith("chat_")
    await client.post(
        f"{base}/messages", json={"body": "車両番号は品川500"}, headers={"X-Chat-Token": a["token"]}
    )
    inquiries = (await client.get("/api/v1/t/sonpo/inquiries?status=new", headers=op)).json()
    by_receipt = {i["receipt_no"]: i["uid"] for i in inquiries}
    a_uid = by_receipt[a["receipt_no"]]
    await client.post(
        f"/api/v1/t/sonpo/inquiries/{a_uid}/messages",
        json={"kind": "reply", "body": "担当者がお電話します"},
        headers=op,
    )
    await client.post(
        f"/api/v1/t/sonpo/inquiries/{a_uid}/messages",
        json={"kind": "note", "body": "等級を確認"},
        headers=op,
    )
    seen_a = (await client.get(f"{base}/messages", headers={"X-Chat-Token": a["token"]})).json()
    assert [(m["from"], m["body"]) for m in seen_a] == [
        ("you", "事故の連絡です"),
        ("you", "車両番号は品川500"),
        ("operator", "担当者がお電話します"),
    ]
    seen_b = (await client.get(f"{base}/messages", headers={"X-Chat-Token": b["token"]})).json()
    assert [m["body"] for m in seen_b] == ["住所変更したい"]
    assert (
        await client.get(f"{base}/messages", headers={"X-Chat-Token": "chat_forged"})
    ).status_code == 401
    # a token of one tenant means nothing in another
    other = await client.get(
        "/api/v1/t/no-chat/chat/messages", headers={"X-Chat-Token": a["token"]}
    )
    assert other.status_code == 401
    assert (
        await client.post("/api/v1/t/no-chat/chat/conversations", json={"body": "x"})
    ).status_code == 404


ON_FILE = {
    "name": "高橋 一郎",
    "name_kana": "タカハシ イチロウ",
    "birth_date": "1970-05-05",
    "address": "〒105-0011 東京都港区芝公園4-2-8",
    "phone": "09012345678",
}


async def _inquiry_with_customer(
    client: Any, op: dict[str, str], db: Database, settings: Settings, values: dict[str, str]
) -> str:
    """An inquiry whose customer record holds ``values`` (as earlier contacts left it)."""
    created = await client.post(
        "/api/v1/t/sonpo/inquiries",
        headers=op,
        json={"channel": "web", "body": "契約内容の確認", "email": f"{len(values)}@example.jp"},
    )
    uid = created.json()["uid"]
    async with db.session() as platform:
        tenant = await get_tenant(platform, "sonpo")
    assert tenant is not None
    ctx = context_of(tenant)
    async with db.session(ctx) as session:
        inquiry = (await session.exec(select(Inquiry).where(Inquiry.uid == uid))).one()
        customer = await session.get(Customer, inquiry.customer_id)
        assert customer is not None
        with acting_as(Actor(via="test")):
            await PersonalData(db, session, KeyRing(settings), ctx).update_customer(
                customer, values
            )
    return str(uid)


async def _sealed_record(db: Database, uid: str) -> tuple[Any, ...]:
    async with db.session() as platform:
        tenant = await get_tenant(platform, "sonpo")
    async with db.session(tenant.id if tenant else None) as session:
        inquiry = (await session.exec(select(Inquiry).where(Inquiry.uid == uid))).one()
        c = await session.get(Customer, inquiry.customer_id)
        assert c is not None
        return (c.name, c.name_kana, c.birth_date, c.address, c.phone, c.updated_at)


async def test_verification_compares_each_field_and_never_changes_the_record(
    chat_desk: Any, db: Database, settings: Settings
) -> None:
    client, op = chat_desk
    uid = await _inquiry_with_customer(client, op, db, settings, ON_FILE)
    before = await _sealed_record(db, uid)
    base = f"/api/v1/t/sonpo/inquiries/{uid}/verification"
    url = (await client.post(base, headers=op)).json()["url"]
    pending = (await client.get(base, headers=op)).json()
    assert pending == {"status": "pending", "checks": {}, "masked": {}}
    form = await client.get(url)
    assert form.status_code == 200
    asked = set(re.findall(r'name="([a-z_]+)" required', form.text))
    assert asked == {"name", "name_kana", "birth_date", "address", "phone"}
    entered = {  # the same person, typed another way
        "name": "高橋　一郎",
        "name_kana": "たかはし いちろう",
        "birth_date": "1970/5/5",
        "address": "東京都港区芝公園４－２－８",
        "phone": "090-1234-5678",
    }
    done = await client.post(url, data=entered)
    assert done.status_code == 200 and "ありがとうございました" in done.text
    status = (await client.get(base, headers=op)).json()
    assert status["status"] == "verified"
    assert status["checks"] == dict.fromkeys(entered, "match")
    assert status["masked"]["birth_date"] == "****-**-**"
    assert status["masked"]["address"].startswith("〒10") or "***" in status["masked"]["address"]
    assert "1970" not in str(status) and "芝公園" not in str(status)
    assert (await client.get(url)).status_code == 404  # one use only
    # one field wrong: reported as that field, and not verified
    url = (await client.post(base, headers=op)).json()["url"]
    await client.post(url, data={**entered, "birth_date": "1971-05-05", "name": "別人 次郎"})
    status = (await client.get(base, headers=op)).json()
    assert status["status"] == "mismatch"
    assert status["checks"] == {
        **dict.fromkeys(entered, "match"),
        "birth_date": "mismatch",
        "name": "mismatch",
    }
    # nothing the customer typed went into the record, right or wrong
    assert await _sealed_record(db, uid) == before
    page = await client.get(f"/t/sonpo/inquiries/{uid}", headers=op)
    assert "不一致" in page.text and "生年月日: 不一致" in page.text


async def test_a_required_field_not_on_file_is_not_verified(
    chat_desk: Any, db: Database, settings: Settings
) -> None:
    client, op = chat_desk
    uid = await _inquiry_with_customer(client, op, db, settings, {"name": "高橋 一郎"})
    base = f"/api/v1/t/sonpo/inquiries/{uid}/verification"
    url = (await client.post(base, headers=op)).json()["url"]
    entered = {"name": "高橋 一郎", "name_kana": "タカハシ", "birth_date": "1970-05-05"}
    await client.post(url, data={**entered, "address": "東京都", "phone": "0312345678"})
    status = (await client.get(base, headers=op)).json()
    assert status["status"] == "unverifiable"
    assert status["checks"]["name"] == "match" and status["checks"]["birth_date"] == "not_on_file"


async def test_verification_is_offered_only_where_the_settings_ask(
    chat_desk: Any, db: Database, host: PluginHost
) -> None:
    client, op = chat_desk
    other = await make_token(db, "op2@bpo.example.jp", ("operator", "no-chat"))
    uid = (
        await client.post(
            "/api/v1/t/no-chat/inquiries", headers=other, json={"channel": "web", "body": "相談"}
        )
    ).json()["uid"]
    base = f"/api/v1/t/no-chat/inquiries/{uid}/verification"
    assert (await client.post(base, headers=other)).status_code == 404
    assert (await client.get(base, headers=other)).status_code == 404
    page = await client.get(f"/t/no-chat/inquiries/{uid}", headers=other)
    assert page.status_code == 200 and "本人確認" not in page.text
    refused = await client.post(f"/t/no-chat/inquiries/{uid}/verification", headers=other)
    assert refused.status_code == 404
    # a link made while the tenant offered it stops working when it no longer does
    sonpo_uid = (
        await client.post(
            "/api/v1/t/sonpo/inquiries", headers=op, json={"channel": "web", "body": "相談"}
        )
    ).json()["uid"]
    url = (
        await client.post(f"/api/v1/t/sonpo/inquiries/{sonpo_uid}/verification", headers=op)
    ).json()["url"]
    await make_tenant(db, host, "sonpo", {"intake": {"settings": {"channels": ["chat", "web"]}}})
    assert (await client.get(url)).status_code == 404


async def test_one_link_submitted_four_times_at_once_counts_once(
    chat_desk: Any, db: Database, settings: Settings, host: PluginHost
) -> None:
    client, op = chat_desk
    uid = await _inquiry_with_customer(client, op, db, settings, ON_FILE)
    base = f"/api/v1/t/sonpo/inquiries/{uid}/verification"
    url = (await client.post(base, headers=op)).json()["url"]
    async with concurrent_client(settings, host) as parallel:
        answers = await asyncio.gather(*(parallel.post(url, data=ON_FILE) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 404, 404, 404]
    async with db.session() as platform:
        tenant = await get_tenant(platform, "sonpo")
    async with db.session(tenant.id if tenant else None) as session:
        events = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "verification.submit"))
        ).all()
    assert len(events) == 1


async def test_the_link_secret_stays_out_of_what_intake_logs_and_stores(
    chat_desk: Any, db: Database, settings: Settings
) -> None:
    from structlog.testing import capture_logs

    client, op = chat_desk
    uid = await _inquiry_with_customer(client, op, db, settings, ON_FILE)
    with capture_logs() as logs:
        url = (
            await client.post(f"/api/v1/t/sonpo/inquiries/{uid}/verification", headers=op)
        ).json()["url"]
        await client.get(url)
        await client.post(url, data=ON_FILE)
    token = url.rsplit("/", 1)[1]
    # the request log line is the core's (it logs the route, not the path); intake's own
    # events, and everything it stores, never hold the secret
    assert logs and not [e for e in logs if token in str(e) and e["event"] != "request_finished"]
    async with db.session() as platform:
        tenant = await get_tenant(platform, "sonpo")
    async with db.session(tenant.id if tenant else None) as session:
        stored = [str(r.model_dump()) for r in (await session.exec(select(Verification))).all()]
        stored += [str(e.model_dump()) for e in (await session.exec(select(AuditEvent))).all()]
    assert stored and not [row for row in stored if token in row]


async def test_one_address_starting_too_many_chats_is_slowed_down(
    chat_desk: Any, db: Database
) -> None:
    """The public chat start allows 10 a minute per client address; the 11th gets 429 with
    Retry-After and stores nothing, while other public routes still answer."""
    from sqlmodel import select

    from plugins.intake.models import ChatSession

    client, _ = chat_desk
    url = "/api/v1/t/sonpo/chat/conversations"
    answers = [(await client.post(url, json={"body": f"相談 {n}"})).status_code for n in range(11)]
    assert answers == [201] * 10 + [429]
    refused = await client.post(url, json={"body": "もう一度"})
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"]["code"] == "too_many_requests"
    async with db.session() as platform:
        from core.tenancy.service import get_tenant

        tenant = await get_tenant(platform, "sonpo")
    async with db.session(tenant.id if tenant else None) as session:
        assert len((await session.exec(select(ChatSession))).all()) == 10
    assert (await client.get("/t/sonpo/contact")).status_code == 200


async def test_a_chat_start_with_a_line_break_in_the_name_or_an_unknown_field_is_refused(
    chat_desk: Any,
) -> None:
    client, op = chat_desk
    url = "/api/v1/t/sonpo/chat/conversations"
    broken = await client.post(url, json={"body": "相談", "name": "甲\r\nBcc: x@spam.example"})
    assert broken.status_code == 422 and broken.json()["error"]["field"] == "name"
    extra = await client.post(url, json={"body": "相談", "email": "a@example.jp"})
    assert extra.status_code == 422 and extra.json()["error"]["field"] == "email"
    assert (await client.get("/api/v1/t/sonpo/inquiries", headers=op)).json() == []
