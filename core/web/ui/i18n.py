"""Japanese first, English second: gettext catalogues read with Babel.

Message ids are English; ``core/web/locale/ja/LC_MESSAGES/messages.po`` (and a plugin's own
``locale`` folder) translate them. Catalogues are compiled in memory at start-up, so no binary
``.mo`` files live in the repository. Dates and numbers follow the user's locale.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = ["DEFAULT_LOCALE", "LOCALES", "Translator", "catalogue_dirs", "translator"]

LOCALES = ("ja", "en")
DEFAULT_LOCALE = "ja"
TOKYO = ZoneInfo("Asia/Tokyo")
CORE_LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
_extra_dirs: list[Path] = []


def catalogue_dirs() -> list[Path]:
    return [CORE_LOCALE_DIR, *_extra_dirs]


def add_catalogue_dir(path: Path) -> None:
    """A plugin's ``locale`` folder; its messages join the core's."""
    if path.is_dir() and path not in _extra_dirs:
        _extra_dirs.append(path)
        translator.cache_clear()


def _load(locale: str) -> gettext.NullTranslations:
    merged: gettext.NullTranslations | None = None
    for folder in catalogue_dirs():
        po = folder / locale / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        translations = gettext.GNUTranslations(buffer)
        if merged is None:
            merged = translations
        else:
            merged.add_fallback(translations)
    return merged or gettext.NullTranslations()


class Translator:
    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self._t = _load(self.locale) if self.locale != "en" else gettext.NullTranslations()

    def gettext(self, message: str, **values: object) -> str:
        text = self._t.gettext(message)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n).format(n=n)

    def datetime(self, value: datetime | None, style: str = "medium") -> str:
        if value is None:
            return ""
        return format_datetime(value.astimezone(TOKYO), style, locale=self.locale)

    def number(self, value: float | int) -> str:
        return format_decimal(value, locale=self.locale)

    @property
    def _(self) -> Callable[..., str]:
        return self.gettext


@lru_cache(maxsize=8)
def translator(locale: str) -> Translator:
    return Translator(locale)
