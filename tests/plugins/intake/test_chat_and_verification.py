"""Chat bound to one conversation per token, and the secure identity-verification link."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from core.app import create_app
from core.db.base import utcnow
from core.db.engine import Database
from core.plugins.host import PluginHost
from core.settings import Settings
from plugins.intake.models import Verification
from tests.conftest import make_tenant, make_token


@pytest.fixture
async def chat_desk(settings: Settings, db: Database, host: PluginHost) -> Any:
    await make_tenant(db, host, "sonpo", {"intake": {"settings": {"channels": ["chat", "web"]}}})
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


async def test_verification_link_shows_the_operator_only_the_result(
    chat_desk: Any, db: Database
) -> None:
    client, op = chat_desk
    created = await client.post(
        "/api/v1/t/sonpo/inquiries",
        headers=op,
        json={
            "channel": "web",
            "body": "契約内容の確認",
            "name": "高橋 一郎",
            "email": "ichiro@example.jp",
        },
    )
    uid = created.json()["uid"]
    link = await client.post(f"/api/v1/t/sonpo/inquiries/{uid}/verification", headers=op)
    url = link.json()["url"]
    pending = (await client.get(f"/api/v1/t/sonpo/inquiries/{uid}/verification", headers=op)).json()
    assert pending == {"status": "pending", "masked": {}}
    form = await client.get(url)
    assert form.status_code == 200 and "本人確認" in form.text
    done = await client.post(
        url,
        data={"name": "高橋　一郎", "birth_date": "1970-05-05", "address": "東京都港区芝公園4-2-8"},
    )
    assert done.status_code == 200 and "ありがとうございました" in done.text
    status = (await client.get(f"/api/v1/t/sonpo/inquiries/{uid}/verification", headers=op)).json()
    assert status["status"] == "verified"  # the name matched; the rest was recorded
    assert (
        status["masked"]["birth_date"] == "****-**-**"
        and status["masked"]["address"] == "東京都***"
    )
    assert "1970-05-05" not in str(status) and "芝公園" not in str(status)
    assert (await client.get(url)).status_code == 404  # one use only
    second = await client.post(f"/api/v1/t/sonpo/inquiries/{uid}/verification", headers=op)
    wrong = await client.post(
        second.json()["url"],
        data={"name": "別人 次郎", "birth_date": "1970-05-05", "address": "東京都港区芝公園4-2-8"},
    )
    assert wrong.status_code == 200
    assert (await client.get(f"/api/v1/t/sonpo/inquiries/{uid}/verification", headers=op)).json()[
        "status"
    ] == "mismatch"
    third = (await client.post(f"/api/v1/t/sonpo/inquiries/{uid}/verification", headers=op)).json()[
        "url"
    ]
    token = re.search(r"/verify/(.+)$", third).group(1)  # type: ignore[union-attr]
    from core.tenancy.service import get_tenant  # the link expires after 30 minutes

    async with db.session() as platform:
        tenant = await get_tenant(platform, "sonpo")
    async with db.session(tenant.id) as session:  # type: ignore[union-attr]
        for row in (await session.exec(select(Verification))).all():
            row.expires_at = utcnow() - timedelta(seconds=1)
    assert (await client.get(f"/t/sonpo/verify/{token}")).status_code == 404


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
