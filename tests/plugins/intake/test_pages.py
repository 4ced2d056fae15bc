"""Intake pages without a browser: canned replies, category and tags, the verification link,
the channel filter."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import select

from core.db.engine import Database
from plugins.intake.models import CannedReply, Inquiry
from tests.core.web.test_pages import sign_in, with_password
from tests.plugins.intake.conftest import BODY

URL = "/api/v1/t/honey/inquiries"


async def _signed_in(client: Any, db: Database, email: str) -> str:
    await with_password(db, email)
    return await sign_in(client, email)


async def test_supervisor_keeps_canned_replies_and_operators_send_them(
    desk: Any, db: Database
) -> None:
    client, headers, _, ctx = desk
    created = (await client.post(URL, json=BODY, headers=headers["op1"])).json()
    csrf = await _signed_in(client, db, "sv@bpo.example.jp")
    saved = await client.post(
        "/t/honey/canned-replies",
        data={"_csrf": csrf, "title": "解約の受付", "body": "解約を承りました。"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    supervise = await client.get("/t/honey/supervise")
    assert "解約の受付" in supervise.text and "解約を承りました。" in supervise.text
    # the queues' routing is shown with them
    routing = {"name": "請求", "categories": ["請求"], "keywords": ["領収書", "引き落とし"]}
    put = await client.put(
        "/api/v1/t/honey/intake/queues/billing", json=routing, headers=headers["sv"]
    )
    assert put.status_code == 201
    shown = await client.get("/t/honey/supervise")
    assert "分類: 請求" in shown.text and "キーワード: 領収書、引き落とし" in shown.text
    empty = await client.post(
        "/t/honey/canned-replies", data={"_csrf": csrf, "title": "", "body": "x"}
    )
    assert empty.status_code == 422
    async with db.session(ctx) as session:
        [reply] = (await session.exec(select(CannedReply))).all()

    csrf = await _signed_in(client, db, "op1@bpo.example.jp")
    page = await client.get(f"/t/honey/inquiries/{created['uid']}")
    assert f'<option value="{reply.id}">解約の受付</option>' in page.text
    sent = await client.post(
        f"/t/honey/inquiries/{created['uid']}/messages",
        data={
            "_csrf": csrf,
            "canned": str(reply.id),
            "body": "ご返金は来月です。",
            "kind": "reply",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    detail = (await client.get(f"{URL}/{created['uid']}", headers=headers["op1"])).json()
    assert detail["messages"][-1]["body"] == "解約を承りました。\n\nご返金は来月です。"
    # an operator may use canned replies but not change them
    refused = await client.post(
        "/t/honey/canned-replies", data={"_csrf": csrf, "title": "勝手に", "body": "x"}
    )
    assert refused.status_code == 403


async def test_category_tags_and_the_channel_filter(desk: Any, db: Database) -> None:
    client, headers, _, ctx = desk
    web = (await client.post(URL, json=BODY, headers=headers["op1"])).json()
    chat = (
        await client.post(
            URL, json={**BODY, "channel": "chat", "body": "チャットです"}, headers=headers["op1"]
        )
    ).json()
    csrf = await _signed_in(client, db, "op1@bpo.example.jp")
    changed = await client.post(
        f"/t/honey/inquiries/{web['uid']}/update",
        data={"_csrf": csrf, "category": "解約", "tags.shown": "1", "tags": ["定期便", "至急"]},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    async with db.session(ctx) as session:
        stored = (await session.exec(select(Inquiry).where(Inquiry.uid == web["uid"]))).one()
    assert stored.category == "解約" and stored.tags == ["定期便", "至急"]
    chats = await client.get("/t/honey/inquiries?channel=chat")
    assert chat["receipt_no"] in chats.text and web["receipt_no"] not in chats.text
    assert "チャット" in chats.text


async def test_the_verification_link_is_shown_once_on_the_page(desk: Any, db: Database) -> None:
    client, headers, _, _ = desk
    created = (await client.post(URL, json=BODY, headers=headers["op1"])).json()
    csrf = await _signed_in(client, db, "op1@bpo.example.jp")
    before = await client.get(f"/t/honey/inquiries/{created['uid']}")
    assert "未発行" in before.text
    made = await client.post(
        f"/t/honey/inquiries/{created['uid']}/verification", data={"_csrf": csrf}
    )
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    link = re.search(r"/t/honey/verify/[A-Za-z0-9_-]{20,}", made.text)
    assert link is not None and "お客様の入力待ち" in made.text
    again = await client.get(f"/t/honey/inquiries/{created['uid']}")
    assert link.group(0) not in again.text and "お客様の入力待ち" in again.text
    form = await client.get(link.group(0))  # the customer's side opens
    assert form.status_code == 200
