"""Japanese input normalisation for the intake forms: phone numbers, postal codes, widths."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["InputError", "clean_text", "normalise_phone", "normalise_postal"]


class InputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def clean_text(value: str | None, field: str, *, limit: int, required: bool = False) -> str | None:
    """NFKC (full-width letters and digits become half-width), trimmed, length-checked."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    text = text.replace("\r\n", "\n")
    if not text:
        if required:
            raise InputError(field, "入力してください")
        return None
    if len(text) > limit:
        raise InputError(field, f"{limit}文字以内で入力してください")
    return text


def normalise_phone(value: str | None, field: str = "phone") -> str | None:
    """Japanese phone numbers in any width and punctuation: 10-11 digits starting with 0
    (``+81`` accepted). Returns the digits."""
    text = clean_text(value, field, limit=40)
    if text is None:
        return None
    digits = re.sub(r"[\s\-‐‑–—―ー()（）.]", "", text)
    if digits.startswith("+81"):
        digits = "0" + digits[3:]
    if not re.fullmatch(r"0\d{9,10}", digits):
        raise InputError(field, "電話番号は0から始まる10〜11桁で入力してください")
    return digits


def normalise_postal(value: str | None, field: str = "postal_code") -> str | None:
    text = clean_text(value, field, limit=10)
    if text is None:
        return None
    digits = re.sub(r"[\s\-‐ー〒]", "", text)
    if not re.fullmatch(r"\d{7}", digits):
        raise InputError(field, "郵便番号は7桁で入力してください")
    return f"{digits[:3]}-{digits[3:]}"
