"""Reveal purposes come from a list; a note given with one is sealed, and the client sees only
the purpose's label and that a note exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from core.audit.log import Actor, acting_as
from core.audit.models import AuditEvent
from core.audit.purposes import REVEAL_PURPOSES, StatedPurpose
from core.audit.verify import verify_tenant
from core.crypto.sealing import SealError
from core.db.engine import Database
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.pii.models import PurposeNote
from core.pii.rotation import rotate_tenant
from core.settings import Settings
from tests.canaries import CUSTOMER_A
from tests.conftest import World
from tests.core.web.test_pages import sign_in, with_password

# free text that names the customer: exactly what must never sit in plaintext anywhere
NOTE = f"{CUSTOMER_A['name']}様から{CUSTOMER_A['phone']}へ折り返し希望"


def reveal_url(world: World) -> str:
    return f"/api/v1/t/{world.a.slug}/customers/{world.customer_a}/reveal"


async def reveal_events(db: Database, world: World) -> list[AuditEvent]:
    async with db.session(world.a) as session:
        statement = select(AuditEvent).where(AuditEvent.action == "pii.reveal")
        return list((await session.exec(statement.order_by(AuditEvent.seq))).all())


async def open_note(db: Database, settings: Settings, world: World, uid: str) -> str | None:
    with acting_as(Actor(via="test")):
        async with db.session(world.a) as session:
            row = (await session.exec(select(PurposeNote).where(PurposeNote.uid == uid))).one()
            pd = PersonalData(db, session, KeyRing(settings), world.a)
            return await pd.open_text("purpose_note", "note", uid, row.note)


async def test_a_reveal_purpose_is_a_code_from_the_list(
    app: Any, db: Database, world: World
) -> None:
    headers = world.headers["a:operator"]
    free_text = await app.post(
        reveal_url(world), json={"fields": ["phone"], "purpose": NOTE}, headers=headers
    )
    assert free_text.status_code == 422
    error = free_text.json()["error"]
    assert error["field"] == "purpose" and "callback" in error["message"]
    assert CUSTOMER_A["name"] not in free_text.text  # the input is not repeated
    other = await app.post(
        reveal_url(world), json={"fields": ["phone"], "purpose": "other"}, headers=headers
    )
    assert other.status_code == 422 and other.json()["error"]["field"] == "note"
    assert await reveal_events(db, world) == []  # nothing revealed, nothing counted
    shown = await app.post(
        reveal_url(world), json={"fields": ["phone"], "purpose": "callback"}, headers=headers
    )
    assert shown.status_code == 200
    [event] = await reveal_events(db, world)
    assert event.purpose == "callback"


async def test_a_note_is_sealed_and_the_client_sees_the_label_and_that_it_exists(
    app: Any, db: Database, world: World, settings: Settings
) -> None:
    body = {"fields": ["phone"], "purpose": "callback", "note": NOTE}
    shown = await app.post(reveal_url(world), json=body, headers=world.headers["a:operator"])
    assert shown.status_code == 200
    [event] = await reveal_events(db, world)
    stated = StatedPurpose.parse(event.purpose)
    assert stated is not None and stated.code == "callback" and stated.note_uid
    assert CUSTOMER_A["name"] not in event.purpose
    async with db.session(world.a) as session:
        [stored] = (await session.exec(select(PurposeNote))).all()
    assert stored.uid == stated.note_uid
    assert CUSTOMER_A["name"] not in stored.note and CUSTOMER_A["phone"] not in stored.note
    assert await open_note(db, settings, world, stored.uid) == NOTE
    assert (await verify_tenant(db, world.a.id)).report.ok  # the chain covers the reference
    if settings.database_url.startswith("sqlite"):
        files = Path(settings.home, "var").glob("madoguchi.db*")
        assert not any(CUSTOMER_A["name"].encode() in f.read_bytes() for f in files)

    log = await app.get(
        f"/api/v1/t/{world.a.slug}/audit/events?action=pii.reveal",
        headers=world.headers["a:client_viewer"],
    )
    [seen] = log.json()
    assert seen["purpose"] == "callback" and seen["purpose_note"] is True
    assert seen["purpose_label"] == {"ja": "折り返し連絡", "en": "Calling or writing back"}
    assert CUSTOMER_A["name"] not in log.text

    email = f"client_viewer@{world.a.slug}.example.jp"
    await with_password(db, email)
    await sign_in(app, email)
    portal = await app.get(f"/t/{world.a.slug}/portal/access-log")
    assert portal.status_code == 200
    assert "折り返し連絡" in portal.text and 'data-testid="purpose-note"' in portal.text
    assert CUSTOMER_A["name"] not in portal.text and stated.note_uid not in portal.text


async def test_a_note_cannot_be_moved_to_another_event_and_survives_key_rotation(
    app: Any, db: Database, world: World, settings: Settings
) -> None:
    headers = world.headers["a:operator"]
    for purpose, note in (("callback", NOTE), ("complaint", "二件目の備考")):
        body = {"fields": ["name"], "purpose": purpose, "note": note}
        assert (await app.post(reveal_url(world), json=body, headers=headers)).status_code == 200
    first, second = [StatedPurpose.parse(e.purpose) for e in await reveal_events(db, world)]
    assert first is not None and second is not None
    assert first.note_uid and second.note_uid
    await rotate_tenant(db, settings, world.a.id)
    assert await open_note(db, settings, world, first.note_uid) == NOTE
    # a database administrator gives the first event the second one's note: it will not open
    async with db.session(world.a) as session:
        await session.exec(
            sa.update(PurposeNote)
            .where(PurposeNote.uid == first.note_uid)
            .values(
                note=sa.select(PurposeNote.note)
                .where(PurposeNote.uid == second.note_uid)
                .scalar_subquery()
            )
        )
    with pytest.raises(SealError):
        await open_note(db, settings, world, first.note_uid)


async def test_the_reveal_form_offers_the_purposes_and_takes_a_note(
    app: Any, db: Database, world: World
) -> None:
    email = f"operator@{world.a.slug}.example.jp"
    await with_password(db, email)
    token = await sign_in(app, email)
    url = f"/t/{world.a.slug}/customers/{world.customer_a}"
    form = await app.get(url)
    options = re.findall(r'<option value="([a-z_]+)">', form.text)
    assert options == list(REVEAL_PURPOSES.codes)
    assert "本人からの問い合わせ対応" in form.text and '<textarea name="note"' in form.text
    refused = await app.post(
        f"{url}/reveal", data={"_csrf": token, "fields": "phone", "purpose": "電話のため"}
    )
    assert refused.status_code == 422 and "09077770123" not in refused.text
    shown = await app.post(
        f"{url}/reveal",
        data={"_csrf": token, "fields": "phone", "purpose": "other", "note": NOTE},
    )
    assert shown.status_code == 200 and "09077770123" in shown.text
    [event] = await reveal_events(db, world)
    stated = StatedPurpose.parse(event.purpose)
    assert stated is not None and stated.code == "other" and stated.note_uid
