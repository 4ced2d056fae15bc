"""Plausible fictional Japanese customers, for the demo and for canary (honeytoken) records.

Canaries must look like everyone else: they are generated the same way, and only the
``canary`` table (never shown by the API) knows which ones they are.
"""

from __future__ import annotations

import random

from sqlmodel.ext.asyncio.session import AsyncSession

from core.db.engine import Database
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.pii.models import Canary
from core.tenancy.context import TenantContext

__all__ = ["fake_customer", "seed_canaries", "seed_customers"]

FAMILY = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
]
GIVEN = [
    ("陽菜", "ヒナ"),
    ("蓮", "レン"),
    ("結衣", "ユイ"),
    ("湊", "ミナト"),
    ("美咲", "ミサキ"),
    ("大翔", "ヒロト"),
    ("さくら", "サクラ"),
    ("健太", "ケンタ"),
    ("花子", "ハナコ"),
    ("誠", "マコト"),
]
PLACES = [
    ("東京都", "世田谷区桜丘"),
    ("大阪府", "大阪市北区梅田"),
    ("北海道", "札幌市中央区大通西"),
    ("福岡県", "福岡市博多区博多駅前"),
    ("愛知県", "名古屋市中区栄"),
    ("宮城県", "仙台市青葉区一番町"),
]
NOTES = [
    "定期便の配送日を変更したいとのご希望",
    "請求書の宛名変更について",
    "商品が届かないとのお問い合わせ",
    "解約手続きの確認",
    "住所変更の届出",
]


def fake_customer(rng: random.Random) -> dict[str, str]:
    family, given = rng.choice(FAMILY), rng.choice(GIVEN)
    prefecture, town = rng.choice(PLACES)
    return {
        "name": f"{family[0]} {given[0]}",
        "name_kana": f"{family[1]} {given[1]}",
        "phone": f"0{rng.choice([70, 80, 90])}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        "email": f"user{rng.randint(10000, 99999)}@example.jp",
        "address": f"{prefecture}{town}{rng.randint(1, 9)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}",
        "birth_date": f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "note": rng.choice(NOTES),
    }


async def seed_customers(
    session: AsyncSession, pd: PersonalData, count: int, rng: random.Random
) -> list[int]:
    ids = []
    for _ in range(count):
        customer = await pd.create_customer(fake_customer(rng))
        assert customer.id is not None
        ids.append(customer.id)
    return ids


async def seed_canaries(
    db: Database, keyring: KeyRing, ctx: TenantContext, count: int = 2, seed: int | None = None
) -> int:
    """Add ``count`` canary customers to the tenant; any reveal or export of one alerts."""
    # canaries must not be predictable; a seed is for tests only
    rng = random.SystemRandom() if seed is None else random.Random(seed)  # noqa: S311
    async with db.session(ctx) as session:
        pd = PersonalData(db, session, keyring, ctx)
        for customer_id in await seed_customers(session, pd, count, rng):
            session.add(Canary(tenant_id=ctx.id, customer_id=customer_id))
    return count
