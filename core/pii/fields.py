"""Personal field kinds: how each is normalised (for blind indexes) and masked for display.

Japanese input arrives in every width: NFKC folds full-width digits, letters and hyphens, so
``０９０－１２３４－５６７８`` and ``090-1234-5678`` index the same.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "ADDRESS_PATTERN",
    "KINDS",
    "ONE_LINE_PATTERN",
    "mask",
    "normalise",
    "one_line",
    "single_address",
]

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


# line breaks of every kind (CR/LF break mail headers and log lines) and other control
# characters; a tab is as unwelcome in a name as a newline
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
# the same rule as a JSON Schema pattern, for the API's document
ONE_LINE_PATTERN = rf"^[^{_BREAKS.pattern[1:-1]}]*$"
# One address: a local part of anything but spaces, brackets, quotes, separators and "@"
# (dots anywhere: Japanese carriers issued addresses such as taro..x.@docomo.ne.jp, which a
# strict RFC 5322 check refuses though mail to them is delivered), "@", and a domain of two or
# more dot-separated labels. No display names, no lists: "a@x, b@y" and "A <a@x>" are refused.
_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"  # letters and digits, inner hyphens
_ADDRESS = re.compile(
    r"[^\s@<>()\[\],;:\"\\]{1,64}"
    rf"@(?=.{{1,253}}$)(?:{_LABEL}\.)+(?=[^\W\d_]){_LABEL}"  # a top-level label not all digits
)


# The canonical form of an address, for the API's document: ASCII, which folding leaves as it
# is; every address of this form is accepted (full-width input, folded, is accepted too).
ADDRESS_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)


def one_line(value: str) -> str:
    """``value`` if it is one line with no control characters; else ValueError (whose
    message never repeats the value)."""
    if _BREAKS.search(value):
        raise ValueError("must be a single line without control characters")
    return value


def single_address(value: str) -> str:
    """Exactly one e-mail address, folded with NFKC (full-width ＠ and letters, as typed on
    Japanese keyboards) and trimmed; else ValueError (whose message never repeats it)."""
    text = unicodedata.normalize("NFKC", one_line(value)).strip()
    if not _ADDRESS.fullmatch(text):
        raise ValueError("must be exactly one e-mail address, such as name@example.jp")
    return text


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
