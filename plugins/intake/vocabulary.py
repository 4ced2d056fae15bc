"""The tenant's vocabularies: the categories and tags an inquiry may carry.

Labels are staff-made and the same for every customer, so they are stored plain, and free
text never goes there: an inquiry's category and tags must be terms of the tenant's
vocabulary (unknown ones are refused, naming them). Supervisors keep the vocabulary
(``vocabulary:configure``, audited); a tenant starts with a Japanese default set, and the
kinds of inquiry its web form offers (``contact_categories``) are always in it. Queues route
by categories of the vocabulary only, so a term a queue routes by or the form offers cannot
be removed. The vocabulary is tenant configuration: a change counts from the next group.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import TENANT, TenantContext, TenantStatement, audit, run_statement
from plugins.intake.models import Queue, VocabularyTerm
from plugins.intake.normalize import InputError, one_line
from plugins.intake.schemas import CATEGORY_LENGTH, MAX_TAGS, MAX_TERMS, TAG_LENGTH

__all__ = [
    "DEFAULT_CATEGORIES",
    "DEFAULT_TAGS",
    "KINDS",
    "Vocabulary",
    "VocabularyError",
    "add_terms",
    "check_inquiry_labels",
    "read_vocabulary",
    "save_vocabulary",
    "seed_vocabulary",
]

KINDS = {"category": CATEGORY_LENGTH, "tag": TAG_LENGTH}  # kind -> longest label
DEFAULT_CATEGORIES = (
    "商品・サービス",
    "注文・配送",
    "請求・支払い",
    "契約・解約",
    "登録情報の変更",
    "ご意見・ご要望",
    "苦情",
    "その他",
)
DEFAULT_TAGS = (
    "至急",
    "要折り返し",
    "再問い合わせ",
    "クレーム",
    "高齢のお客様",
    "要エスカレーション",
)

_TERMS = TenantStatement(  # built once; the group writer reads it when the config moved
    sa.select(col(VocabularyTerm.kind), col(VocabularyTerm.label))
    .where(col(VocabularyTerm.tenant_id) == TENANT)
    .order_by(col(VocabularyTerm.id))
)


class VocabularyError(ValueError):
    """A label is not in the vocabulary, or a term cannot be changed. ``field`` names the
    input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Vocabulary:
    """The terms of each kind, in the order they were added."""

    categories: tuple[str, ...]
    tags: tuple[str, ...]


def _shown(labels: Iterable[str]) -> str:
    return ", ".join(label[:40] for label in list(labels)[:5])  # a refusal quotes a little


def normalise_label(kind: str, label: str) -> str:
    """NFKC, trimmed, one line, within the kind's length; raises VocabularyError."""
    text = unicodedata.normalize("NFKC", label).strip()
    try:
        one_line(text, kind)
    except InputError as exc:
        raise VocabularyError("labels", f"{_shown([text])}: {exc.message}") from None
    if not 1 <= len(text) <= KINDS[kind]:
        raise VocabularyError("labels", f"each {kind} is 1-{KINDS[kind]} characters")
    return text


async def read_vocabulary(session: AsyncSession) -> Vocabulary:
    """The session tenant's vocabulary (one statement)."""
    rows = (await run_statement(session, _TERMS)).all()
    return Vocabulary(
        tuple(label for kind, label in rows if kind == "category"),
        tuple(label for kind, label in rows if kind == "tag"),
    )


def check_inquiry_labels(vocabulary: Vocabulary, category: str, tags: Sequence[str]) -> None:
    """Raise VocabularyError (field ``category`` or ``tags``) naming what is not a term."""
    if category and category not in vocabulary.categories:
        raise VocabularyError("category", f"not a category of this desk: {_shown([category])}")
    if len(tags) > MAX_TAGS:
        raise VocabularyError("tags", f"at most {MAX_TAGS} tags")
    unknown = [t for t in dict.fromkeys(tags) if t not in vocabulary.tags]
    if unknown:
        raise VocabularyError("tags", f"not tags of this desk: {_shown(unknown)}")


async def _terms(session: AsyncSession, kind: str) -> dict[str, VocabularyTerm]:
    rows = (await session.exec(select(VocabularyTerm).where(VocabularyTerm.kind == kind))).all()
    return {row.label: row for row in rows}


async def add_terms(
    session: AsyncSession, ctx: TenantContext, kind: str, labels: Iterable[str]
) -> list[str]:
    """Add the labels the tenant's vocabulary lacks; returns those added (not audited: the
    caller's change is)."""
    held = await _terms(session, kind)
    added = []
    for label in dict.fromkeys(normalise_label(kind, label) for label in labels):
        if label not in held:
            session.add(VocabularyTerm(tenant_id=ctx.id, kind=kind, label=label))
            added.append(label)
    if added:
        await session.flush()
    return added


async def seed_vocabulary(session: AsyncSession, ctx: TenantContext) -> None:
    """A tenant that has no vocabulary yet gets the default one."""
    if (await session.exec(select(VocabularyTerm.id).limit(1))).first() is not None:
        return
    await add_terms(session, ctx, "category", DEFAULT_CATEGORIES)
    await add_terms(session, ctx, "tag", DEFAULT_TAGS)


async def save_vocabulary(
    session: AsyncSession,
    ctx: TenantContext,
    kind: str,
    labels: Sequence[str],
    settings: dict[str, Any],
) -> tuple[list[str], list[str]]:
    """Make the tenant's terms of ``kind`` exactly ``labels``; (added, removed), audited
    (``vocabulary.configure``). A category a queue routes by or the web form offers stays
    (VocabularyError naming it). Inquiries keep the labels they were given."""
    wanted = list(dict.fromkeys(normalise_label(kind, label) for label in labels))
    if len(wanted) > MAX_TERMS:
        raise VocabularyError("labels", f"at most {MAX_TERMS} terms")
    held = await _terms(session, kind)
    removed = [label for label in held if label not in wanted]
    if kind == "category" and removed:
        queues = (await session.exec(select(Queue))).all()
        in_use = {c for q in queues for c in (q.categories or [])}
        in_use |= set(settings["contact_categories"])
        kept = [label for label in removed if label in in_use]
        if kept:
            raise VocabularyError(
                "labels", f"used by a queue's routing or the web form: {_shown(kept)}"
            )
    for label in removed:
        await session.delete(held[label])
    added = await add_terms(session, ctx, kind, wanted)
    if added or removed:
        await session.flush()
        await audit(
            session,
            "vocabulary.configure",
            object_type="vocabulary",
            object_id=kind,
            fields=[f"added:{len(added)}", f"removed:{len(removed)}"],
        )
    return added, removed
