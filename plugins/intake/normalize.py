"""Japanese input normalisation for the intake forms: phone numbers, postal codes, widths,
e-mail addresses, and the one-line fields that may end up in a mail header."""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "EMAIL_PATTERN",
    "ONE_LINE_PATTERN",
    "PHONE_PATTERN",
    "InputError",
    "clean_text",
    "normalise_email",
    "normalise_phone",
    "normalise_postal",
    "one_line",
]

# One address and nothing else: no display name, no second address (``a@x, b@y`` would make a
# receipt go to everyone listed, from the tenant's name), no whitespace or control characters,
# and a domain with a dot. Deliberately narrower than RFC 5322, which allows quoted local parts.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"
)
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")

# The same rules as JSON Schema patterns for the API's document, in the canonical form (ASCII,
# which folding leaves as it is): each value of that form is accepted; full-width input and
# other punctuation, folded, are accepted too. Empty means none.
ONE_LINE_PATTERN = rf"^[^{_LINE_BREAKS.pattern[1:-1]}]*$"
EMAIL_PATTERN = rf"^[ \t]*(?:{_EMAIL.pattern})?[ \t]*$"
PHONE_PATTERN = r"^[ \t]*(?:(?:\+81|0)(?:[ -]?[0-9]){9,10})?[ \t]*$"


class InputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def one_line(value: str | None, field: str) -> str | None:
    """Refuse a line break (CR, LF or any other) in a value that may become a mail header
    (a subject, a name): a header with one is two headers."""
    if value is not None and _LINE_BREAKS.search(value):
        raise InputError(field, "改行を含めないでください")
    return value


def clean_text(
    value: str | None,
    field: str,
    *,
    limit: int,
    required: bool = False,
    single_line: bool = False,
) -> str | None:
    """NFKC (full-width letters and digits become half-width), trimmed, length-checked;
    ``single_line`` values may hold no line break."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    if single_line:
        one_line(text, field)
    text = text.replace("\r\n", "\n")
    if not text:
        if required:
            raise InputError(field, "入力してください")
        return None
    if len(text) > limit:
        raise InputError(field, f"{limit}文字以内で入力してください")
    return text


def normalise_email(value: str | None, field: str = "email") -> str | None:
    """Exactly one e-mail address (full-width input folded), lower-cased; None when empty."""
    text = clean_text(value, field, limit=254, single_line=True)
    if text is None:
        return None
    if not _EMAIL.fullmatch(text):
        raise InputError(field, "メールアドレスを1件だけ、正しい形式で入力してください")
    return text.lower()


def normalise_phone(value: str | None, field: str = "phone") -> str | None:
    """Japanese phone numbers in any width and punctuation: 10-11 digits starting with 0
    (``+81`` accepted). Returns the digits."""
    text = clean_text(value, field, limit=40, single_line=True)
    if text is None:
        return None
    digits = re.sub(r"[\s\-‐‑–—―ー()（）.]", "", text)
    if digits.startswith("+81"):
        digits = "0" + digits[3:]
    if not re.fullmatch(r"0\d{9,10}", digits):
        raise InputError(field, "電話番号は0から始まる10〜11桁で入力してください")
    return digits


def normalise_postal(value: str | None, field: str = "postal_code") -> str | None:
    text = clean_text(value, field, limit=10, single_line=True)
    if text is None:
        return None
    digits = re.sub(r"[\s\-‐ー〒]", "", text)
    if not re.fullmatch(r"\d{7}", digits):
        raise InputError(field, "郵便番号は7桁で入力してください")
    return f"{digits[:3]}-{digits[3:]}"
