"""The Idempotency-Key's request hash is keyed per tenant: no fingerprint of personal data."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import select

from core.audit.log import Actor, acting_as
from core.db.engine import Database
from core.pii.rotation import rotate_tenant
from core.settings import Settings
from plugins.intake.models import IdempotencyRecord, Inquiry
from tests.conftest import make_tenant, make_token
from tests.plugins.intake.conftest import BODY

URL = "/api/v1/t/{}/inquiries"


def _plain_hash(body: dict[str, Any]) -> str:
    """What the hash was before: SHA-256 of the body as the API validated it."""
    import json

    from plugins.intake.schemas import InquiryCreate

    dumped = InquiryCreate.model_validate(body).model_dump()
    return hashlib.sha256(
        json.dumps(dumped, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


async def _records(db: Database, ctx: Any) -> list[IdempotencyRecord]:
    async with db.session(ctx) as session:
        return list((await session.exec(select(IdempotencyRecord))).all())


async def test_the_stored_hash_is_keyed_per_tenant(desk: Any, db: Database) -> None:
    client, headers, _, honey = desk
    other = await make_tenant(db, client.app.state.core.host, "kaede", {"intake": {}})
    kaede = await make_token(db, "op@kaede.example.jp", ("operator", "kaede"))
    for slug, auth in (("honey", headers["op1"]), ("kaede", kaede)):
        made = await client.post(
            URL.format(slug), json=BODY, headers={**auth, "Idempotency-Key": "same-key"}
        )
        assert made.status_code == 201, made.text
    [a], [b] = await _records(db, honey), await _records(db, other)
    # the same body and key give different hashes in two tenants, and neither is the body's
    # plain SHA-256, which anyone could compute from a guessed name, phone and address
    assert a.request_hash != b.request_hash
    assert _plain_hash(BODY) not in (a.request_hash, b.request_hash)
    assert a.request_hash.startswith("k1:") and len(a.request_hash) <= 64
    replay = await client.post(
        URL.format("honey"), json=BODY, headers={**headers["op1"], "Idempotency-Key": "same-key"}
    )
    assert replay.headers["idempotent-replayed"] == "true"


async def test_a_record_stored_before_the_change_still_replays(desk: Any, db: Database) -> None:
    client, headers, _, ctx = desk
    stored = {"uid": "stored-before", "receipt_no": "ABCD-EFGH"}
    async with db.session(ctx) as session:
        session.add(
            IdempotencyRecord(
                tenant_id=ctx.id,
                key="old-key",
                request_hash=_plain_hash(BODY),
                state="done",
                response_status=201,
                response_body=stored,
            )
        )
    h = {**headers["op1"], "Idempotency-Key": "old-key"}
    replay = await client.post(URL.format("honey"), json=BODY, headers=h)
    assert replay.status_code == 201 and replay.json() == stored
    other = await client.post(URL.format("honey"), json={**BODY, "body": "別件"}, headers=h)
    assert other.status_code == 422 and other.json()["error"]["field"] == "Idempotency-Key"
    async with db.session(ctx) as session:
        assert (await session.exec(select(Inquiry))).all() == []


async def test_a_key_used_before_a_key_rotation_is_refused_clearly(
    desk: Any, db: Database, settings: Settings
) -> None:
    """The data key its hash was made under is destroyed: the body cannot be compared any
    more, so the repeat is neither replayed as if it matched nor stored a second time."""
    client, headers, _, ctx = desk
    h = {**headers["op1"], "Idempotency-Key": "before-rotation"}
    first = await client.post(URL.format("honey"), json=BODY, headers=h)
    assert first.status_code == 201
    with acting_as(Actor(via="test")):
        await rotate_tenant(db, settings, ctx.id)
    again = await client.post(URL.format("honey"), json=BODY, headers=h)
    assert again.status_code == 409 and again.json()["error"]["field"] == "Idempotency-Key"
    async with db.session(ctx) as session:
        assert len((await session.exec(select(Inquiry))).all()) == 1
    fresh = await client.post(
        URL.format("honey"), json=BODY, headers={**h, "Idempotency-Key": "after-rotation"}
    )
    assert fresh.status_code == 201
    replay = await client.post(
        URL.format("honey"), json=BODY, headers={**h, "Idempotency-Key": "after-rotation"}
    )
    assert replay.json() == fresh.json() and replay.headers["idempotent-replayed"] == "true"
