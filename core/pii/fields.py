"""Personal field kinds: how each is normalised (for blind indexes) and masked for display.

Japanese input arrives in every width: NFKC folds full-width digits, letters and hyphens, so
``０９０－１２３４－５６７８`` and ``090-1234-5678`` index the same.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["KINDS", "mask", "normalise"]

KINDS = ("name", "phone", "email", "address", "birth_date", "free_text")
_DASHES = re.compile(r"[\s\-‐‑‒–—―ー－()（）]")


def normalise(kind: str, value: str) -> str:
    text = unicodedata.normalize("NFKC", value).strip()
    if kind == "phone":
        digits = _DASHES.sub("", text)
        if digits.startswith("+81"):
            digits = "0" + digits[3:]
        return digits
    if kind == "email":
        return text.lower()
    return re.sub(r"\s+", " ", text)


def _mask_phone(value: str) -> str:
    digits = normalise("phone", value)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}-****-{digits[-4:]}"


def _mask_name(value: str) -> str:
    text = normalise("name", value)
    family, _, rest = text.partition(" ")
    if rest:
        return f"{family} **"
    return text[:1] + "*" * max(len(text) - 1, 1)


def _mask_email(value: str) -> str:
    local, _, domain = normalise("email", value).partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _mask_address(value: str) -> str:
    text = normalise("address", value)
    match = re.match(r"^(.{2,3}?[都道府県])", text)
    head = match.group(1) if match else text[:3]
    return f"{head}***"


def mask(kind: str, value: str | None) -> str | None:
    """What anyone without a stated purpose sees."""
    if value is None:
        return None
    if kind == "phone":
        return _mask_phone(value)
    if kind == "name":
        return _mask_name(value)
    if kind == "email":
        return _mask_email(value)
    if kind == "address":
        return _mask_address(value)
    if kind == "birth_date":
        return "****-**-**"
    return f"[{len(value)}文字 非表示]"
