"""Real MIME over real SMTP (smtplib) to the intake listener."""

from __future__ import annotations

import asyncio
import smtplib
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from sqlmodel import col, select

from core.cli.process import PluginProcess
from core.db.engine import Database
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.plugins.host import PluginHost
from core.settings import Settings
from plugins.intake.models import Attachment, Inquiry, InquiryMessage
from plugins.intake.smtp import IntakeSMTPHandler
from tests.conftest import make_tenant
from tests.support import free_port

INBOX = "support@honey.example.jp"


@pytest.fixture
async def listener(settings: Settings, db: Database, host: PluginHost) -> Any:
    ctx = await make_tenant(
        db,
        host,
        "honey-mail",
        {"intake": {"settings": {"channels": ["email"], "inbound_addresses": [INBOX]}}},
    )
    await make_tenant(db, host, "no-mail", {"intake": {"settings": {"channels": ["web"]}}})
    handler = IntakeSMTPHandler(PluginProcess("intake", settings, host))
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, data_size_limit=2_000_000, enable_SMTPUTF8=True), "127.0.0.1", port
    )
    yield port, ctx, handler
    server.close()
    await server.wait_closed()
    await handler.process.close()


async def send(port: int, message: Any, to: str = INBOX) -> Any:
    def deliver() -> Any:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            return client.sendmail("customer@example.jp", [to], message.as_bytes())

    return await asyncio.to_thread(deliver)


async def conversation(db: Database, settings: Settings, ctx: Any) -> list[tuple[str, list[str]]]:
    keyring = KeyRing(settings)
    out = []
    async with db.session(ctx) as session:
        pd = PersonalData(db, session, keyring, ctx)
        for inquiry in (await session.exec(select(Inquiry).order_by(col(Inquiry.id)))).all():
            messages = (
                await session.exec(
                    select(InquiryMessage)
                    .where(InquiryMessage.inquiry_id == inquiry.id)
                    .order_by(col(InquiryMessage.id))
                )
            ).all()
            subject = await pd.open_text("intake_inquiry", "subject", inquiry.uid, inquiry.subject)
            out.append(
                (
                    subject or "",
                    [
                        await pd.open_text("intake_message", "body", m.uid, m.body) or ""
                        for m in messages
                    ],
                )
            )
    return out


async def test_japanese_mail_in_every_charset_threads_and_keeps_attachments(
    listener: Any, db: Database, settings: Settings
) -> None:
    port, ctx, _ = listener
    first = MIMEText("注文番号１２３の商品がまだ届きません。", "plain", "iso-2022-jp")
    first["Subject"] = Header("配送について", "iso-2022-jp")
    first["From"] = formataddr(("山田 太郎", "taro@example.jp"), charset="iso-2022-jp")
    first["Message-ID"] = "<q1@mail.example.jp>"
    await send(port, first)

    reply = MIMEText("追伸：不在票も入っていませんでした。", "plain", "shift_jis")
    reply["Subject"] = Header("Re: 配送について", "shift_jis")
    reply["From"] = "taro@example.jp"
    reply["In-Reply-To"] = "<q1@mail.example.jp>"
    reply["Message-ID"] = "<q2@mail.example.jp>"
    await send(port, reply)

    html = MIMEMultipart()
    html["Subject"] = "返品の相談"
    html["From"] = "hanako@example.jp"
    html.attach(
        MIMEText("<p>返品したい<br>商品があります</p><script>alert(1)</script>", "html", "utf-8")
    )
    pdf = MIMEApplication(b"%PDF-1.4 receipt", "pdf")
    pdf.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "領収書.pdf"))
    html.attach(pdf)
    await send(port, html)

    threads = await conversation(db, settings, ctx)
    assert threads == [
        (
            "配送について",
            ["注文番号１２３の商品がまだ届きません。", "追伸：不在票も入っていませんでした。"],
        ),
        ("返品の相談", ["返品したい\n商品があります"]),
    ]
    keyring = KeyRing(settings)
    async with db.session(ctx) as session:
        [attachment] = (await session.exec(select(Attachment))).all()
        pd = PersonalData(db, session, keyring, ctx)
        name = await pd.open_text(
            "intake_attachment", "filename", attachment.uid, attachment.filename
        )
        assert "領収書" not in (attachment.filename or "")  # sealed at rest
        found = await pd.find(email="taro@example.jp")
    assert name == "領収書.pdf" and attachment.size == len(b"%PDF-1.4 receipt")
    assert len(found) == 1


async def test_unknown_addresses_and_broken_mail_are_refused(
    listener: Any, db: Database, settings: Settings
) -> None:
    port, ctx, _ = listener
    message = MIMEText("こんにちは", "plain", "utf-8")
    message["From"] = "x@example.jp"
    message["Subject"] = "test"
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await send(port, message, to="nobody@honey.example.jp")
    assert refused.value.recipients["nobody@honey.example.jp"][0] == 550

    def broken() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail("x@example.jp", [INBOX], b"Subject: no sender\r\n\r\n")

    with pytest.raises(smtplib.SMTPDataError) as bad:
        await asyncio.to_thread(broken)
    assert bad.value.smtp_code == 554
    assert await conversation(db, settings, ctx) == []


class Sink:
    """A real SMTP peer standing in for the company's relay: it keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        self.received.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


async def test_replies_go_out_through_the_relay_and_answers_thread_back(
    listener: Any,
    db: Database,
    settings: Settings,
    host: PluginHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.jobs.worker import Worker
    from tests.conftest import make_token

    port, ctx, _ = listener
    sink, relay_port = Sink(), free_port()
    relay = await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink), "127.0.0.1", relay_port
    )
    monkeypatch.setenv("MADOGUCHI_SMTP_RELAY", f"127.0.0.1:{relay_port}")
    try:
        question = MIMEText("ポイントの有効期限を教えてください。", "plain", "iso-2022-jp")
        question["Subject"] = Header("ポイントについて", "iso-2022-jp")
        question["From"] = "kana@example.jp"
        question["Message-ID"] = "<ask-1@mail.example.jp>"
        await send(port, question)
        headers = await make_token(db, "op@bpo.example.jp", ("operator", "honey-mail"))
        from litestar.testing import AsyncTestClient

        from core.app import create_app

        async with AsyncTestClient(app=create_app(settings, host=host)) as client:
            [inquiry] = (await client.get("/api/v1/t/honey-mail/inquiries", headers=headers)).json()
            sent = await client.post(
                f"/api/v1/t/honey-mail/inquiries/{inquiry['uid']}/messages",
                json={"kind": "reply", "body": "有効期限は1年です。"},
                headers=headers,
            )
            assert sent.status_code == 201
            await client.post(
                f"/api/v1/t/honey-mail/inquiries/{inquiry['uid']}/messages",
                json={"kind": "note", "body": "社内メモは送らない"},
                headers=headers,
            )
        worker = Worker(db, host, keyring=KeyRing(settings))
        while await worker.run_once():  # the reply; the note queued nothing
            pass
        [mail] = sink.received
        assert mail["To"] == "kana@example.jp"
        assert mail["Subject"] == "Re: ポイントについて"
        assert mail["In-Reply-To"] == "<ask-1@mail.example.jp>"
        assert (
            "有効期限は1年です。" in mail.get_content()
            and inquiry["receipt_no"] in mail.get_content()
        )
        answer = MIMEText("ありがとうございました。", "plain", "utf-8")
        answer["Subject"] = "Re: Re: ポイントについて"
        answer["From"] = "kana@example.jp"
        answer["In-Reply-To"] = mail["Message-ID"]
        await send(port, answer)
        threads = await conversation(db, settings, ctx)
        assert threads == [
            (
                "ポイントについて",
                [
                    "ポイントの有効期限を教えてください。",
                    "有効期限は1年です。",
                    "社内メモは送らない",
                    "ありがとうございました。",
                ],
            )
        ]
    finally:
        relay.close()
        await relay.wait_closed()


async def test_a_reply_threads_only_when_the_sender_is_the_inquirys_customer(
    listener: Any, db: Database, settings: Settings
) -> None:
    """Anyone who knows a Message-ID (a forwarded mail, a guess) starts an inquiry of their
    own; the customer, in whatever case or width, joins the thread."""
    port, ctx, _ = listener
    first = MIMEText("請求書の宛名を変えたいです。", "plain", "utf-8")
    first["Subject"] = "請求書の宛名"
    first["From"] = "taro@example.jp"
    first["Message-ID"] = "<ask@mail.example.jp>"
    await send(port, first)
    stranger = MIMEText("この件、私の口座に返金してください。", "plain", "utf-8")
    stranger["Subject"] = "Re: 請求書の宛名"
    stranger["From"] = "mallory@example.net"
    stranger["In-Reply-To"] = "<ask@mail.example.jp>"
    stranger["References"] = "<ask@mail.example.jp>"
    await send(port, stranger)
    customer = MIMEText("宛名は山田商店でお願いします。", "plain", "utf-8")
    customer["Subject"] = "Re: 請求書の宛名"
    customer["From"] = "Taro@Example.JP"
    customer["References"] = "<ask@mail.example.jp>"
    await send(port, customer)
    assert await conversation(db, settings, ctx) == [
        ("請求書の宛名", ["請求書の宛名を変えたいです。", "宛名は山田商店でお願いします。"]),
        ("Re: 請求書の宛名", ["この件、私の口座に返金してください。"]),
    ]


class Refusing:
    """A relay that refuses every recipient for good."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return "550 5.1.1 No such user"


async def test_a_reply_that_cannot_be_sent_shows_why_on_the_inquiry(
    listener: Any,
    db: Database,
    settings: Settings,
    host: PluginHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from litestar.testing import AsyncTestClient

    from core.app import create_app
    from core.jobs.worker import Worker
    from tests.conftest import make_token

    port, ctx, _ = listener
    for n in range(3):
        question = MIMEText(f"質問{n}です。", "plain", "utf-8")
        question["Subject"] = f"質問{n}"
        question["From"] = f"kana{n}@example.jp"
        await send(port, question)
    async with db.session(ctx) as session:  # an address list stored before addresses were checked
        customer = (await session.exec(select(Inquiry).order_by(col(Inquiry.id)))).all()[2]
        from core.pii.models import Customer

        record = await session.get(Customer, customer.customer_id)
        assert record is not None
        pd = PersonalData(db, session, KeyRing(settings), ctx)
        await pd.update_customer(record, {"email": "kana2@example.jp, spam@example.net"})
    headers = await make_token(db, "op@bpo.example.jp", ("operator", "honey-mail"))
    refusing_port, dead_port = free_port(), free_port()
    refusing = await asyncio.get_running_loop().create_server(
        lambda: SMTP(Refusing()), "127.0.0.1", refusing_port
    )
    worker = Worker(db, host, keyring=KeyRing(settings))
    base = "/api/v1/t/honey-mail/inquiries"
    try:
        async with AsyncTestClient(app=create_app(settings, host=host)) as client:
            uids = [i["uid"] for i in (await client.get(base, headers=headers)).json()]
            monkeypatch.delenv("MADOGUCHI_SMTP_RELAY", raising=False)  # no relay at all
            await client.post(
                f"{base}/{uids[0]}/messages",
                json={"kind": "reply", "body": "回答0"},
                headers=headers,
            )
            monkeypatch.setenv("MADOGUCHI_SMTP_RELAY", f"127.0.0.1:{dead_port}")
            await client.post(
                f"{base}/{uids[1]}/messages",
                json={"kind": "reply", "body": "回答1"},
                headers=headers,
            )
            await client.post(
                f"{base}/{uids[2]}/messages",
                json={"kind": "reply", "body": "回答2"},
                headers=headers,
            )
            while await worker.run_once():  # each job once; retries wait for their backoff
                pass
            states = []
            for uid in uids:
                detail = (await client.get(f"{base}/{uid}", headers=headers)).json()
                states.append(detail["messages"][-1]["delivery"])
            assert states == [
                {"state": "failed", "reason": "no_relay"},
                {"state": "retrying", "reason": "relay_unreachable"},
                {"state": "failed", "reason": "invalid_address"},
            ]
            page = await client.get(f"/t/honey-mail/inquiries/{uids[1]}", headers=headers)
            assert "再送します" in page.text and "メール中継サーバーに接続できません" in page.text
            # the relay is back but refuses the recipient for good: failed, and said so
            monkeypatch.setenv("MADOGUCHI_SMTP_RELAY", f"127.0.0.1:{refusing_port}")
            async with db.session(ctx) as session:  # the backoff is over
                from core.db.base import utcnow
                from core.jobs.models import Job

                for job in (await session.exec(select(Job))).all():
                    job.run_at = utcnow()
            while await worker.run_once():
                pass
            detail = (await client.get(f"{base}/{uids[1]}", headers=headers)).json()
            assert detail["messages"][-1]["delivery"] == {
                "state": "failed",
                "reason": "relay_refused",
            }
            page = await client.get(f"/t/honey-mail/inquiries/{uids[1]}", headers=headers)
            assert "送信できませんでした" in page.text
    finally:
        refusing.close()
        await refusing.wait_closed()


async def test_a_subject_that_decodes_to_several_lines_is_stored_on_one(
    listener: Any, db: Database, settings: Settings
) -> None:
    port, ctx, _ = listener
    message = MIMEText("本文です。", "plain", "utf-8")
    message["Subject"] = Header("一行目\r\nBcc: spam@example.net", "utf-8")  # an encoded word
    message["From"] = "taro@example.jp"
    await send(port, message)
    [(subject, _)] = await conversation(db, settings, ctx)
    assert subject == "一行目 Bcc: spam@example.net"
