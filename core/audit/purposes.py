"""Why someone touched personal data: purposes chosen from a vocabulary, never free text.

An audit event's ``purpose`` column holds a purpose's code, and, when the person added a
note, a reference to it: ``callback`` or ``callback note:<uid>``. The note itself is free text
(it may name the customer), so it is sealed under the tenant's data key in its own row
(:class:`core.pii.models.PurposeNote`, written by :meth:`core.pii.access.PersonalData.state_purpose`);
the chain covers the reference, the seal (bound to the note's uid) covers the text, so a note
cannot be swapped, edited or removed unnoticed, and key rotation can re-seal it without
touching the chain. The client's access log shows the purpose's label and that a note exists.

Vocabularies: :data:`REVEAL_PURPOSES` (revealing a customer's fields) and
:data:`EXPORT_PURPOSES` (a bulk export request). A code means the same in every vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "EXPORT_PURPOSES",
    "NOTE_MAX_LENGTH",
    "REVEAL_PURPOSES",
    "Purpose",
    "PurposeRequired",
    "PurposeShown",
    "StatedPurpose",
    "Vocabulary",
    "describe",
]

NOTE_MAX_LENGTH = 500


class PurposeRequired(ValueError):
    """No purpose from the vocabulary, or one that needs a note without one. ``field`` names
    the input at fault (``purpose`` or ``note``); the message never repeats the input."""

    def __init__(self, message: str, field: str = "purpose") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Purpose:
    code: str
    ja: str
    en: str
    needs_note: bool = False  # "other" says nothing without one

    def label(self, locale: str = "ja") -> str:
        return self.en if locale == "en" else self.ja


@dataclass(frozen=True)
class Vocabulary:
    """The purposes one kind of access may be done for, in the order a form lists them."""

    name: str
    purposes: tuple[Purpose, ...]

    def __iter__(self) -> Iterator[Purpose]:
        return iter(self.purposes)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.purposes)

    def choose(self, code: str, note: str | None) -> Purpose:
        """The purpose ``code`` names, checked with its note (already stripped; None when
        empty). Raises :class:`PurposeRequired`."""
        found = next((p for p in self.purposes if p.code == code), None)
        if found is None:
            raise PurposeRequired(f"choose a purpose: {', '.join(self.codes)}")
        if found.needs_note and not note:
            raise PurposeRequired(f"the purpose {code} needs a note", field="note")
        if note is not None and len(note) > NOTE_MAX_LENGTH:
            raise PurposeRequired(f"a note has at most {NOTE_MAX_LENGTH} characters", "note")
        return found


OTHER = Purpose("other", "その他", "Other", needs_note=True)

REVEAL_PURPOSES = Vocabulary(
    "reveal",
    (
        Purpose("inquiry", "本人からの問い合わせ対応", "Answering the customer's own inquiry"),
        Purpose("callback", "折り返し連絡", "Calling or writing back"),
        Purpose("identity", "本人確認", "Identity verification"),
        Purpose("procedure", "配送・契約手続き", "Delivery or contract procedure"),
        Purpose("complaint", "苦情・事故対応", "Complaint or incident handling"),
        Purpose("correction", "登録内容の確認・訂正", "Checking or correcting the record"),
        OTHER,
    ),
)

EXPORT_PURPOSES = Vocabulary(
    "export",
    (
        Purpose("handover", "委託元への引き渡し", "Handover to the client"),
        Purpose("audit", "監査対応", "Audit"),
        Purpose("migration", "移行", "Migration to another system"),
        Purpose("disclosure", "本人からの開示請求対応", "Disclosure requested by the customers"),
        OTHER,
    ),
)

_BY_CODE: dict[str, Purpose] = {}
for _vocabulary in (REVEAL_PURPOSES, EXPORT_PURPOSES):
    for _purpose in _vocabulary:
        if _BY_CODE.setdefault(_purpose.code, _purpose) != _purpose:
            raise ValueError(f"purpose {_purpose.code} means two things")

_STORED = re.compile(r"([a-z_]{1,32})(?: note:([0-9a-f-]{36}))?")


@dataclass(frozen=True)
class StatedPurpose:
    """A purpose as an audit event records it: its code and its sealed note's uid, if any."""

    code: str
    note_uid: str | None = None

    def stored(self) -> str:
        return f"{self.code} note:{self.note_uid}" if self.note_uid else self.code

    @classmethod
    def parse(cls, text: str) -> StatedPurpose | None:
        """The purpose an event's ``purpose`` column names; None for text that is not one
        (events written before purposes came from vocabularies, system purposes)."""
        match = _STORED.fullmatch(text)
        if match is None or match.group(1) not in _BY_CODE:
            return None
        return cls(match.group(1), match.group(2))


@dataclass(frozen=True)
class PurposeShown:
    """What an access log shows of an event's purpose."""

    purpose: str  # the code, or the event's text when it holds no code
    label: dict[str, str] | None  # {"ja": ..., "en": ...} for a code
    note: bool  # a sealed note goes with it


def describe(text: str) -> PurposeShown:
    stated = StatedPurpose.parse(text)
    if stated is None:
        return PurposeShown(text, None, False)
    purpose = _BY_CODE[stated.code]
    return PurposeShown(
        stated.code, {"ja": purpose.ja, "en": purpose.en}, stated.note_uid is not None
    )
