"""Japanese first: every text the UI shows has a Japanese translation."""

from __future__ import annotations

import re
from pathlib import Path

from core.web.ui.i18n import translator
from core.web.ui.workspace_pages import FIELD_LABELS

ROOT = Path(__file__).resolve().parents[3]
PATTERN = re.compile(r"""(?:\b_|gettext)\(\s*(["'])((?:(?!\1).)+)\1""")


def ui_messages() -> set[str]:
    files = [
        *ROOT.glob("core/web/templates/**/*.html"),
        *ROOT.glob("plugins/*/templates/**/*.html"),
        *ROOT.glob("core/web/ui/*.py"),
        *ROOT.glob("plugins/*/*.py"),
    ]
    found = {m.group(2) for f in files for m in PATTERN.finditer(f.read_text(encoding="utf-8"))}
    return found | {label for _, label in FIELD_LABELS}


def test_every_ui_text_has_a_japanese_translation() -> None:
    from core.app import build_host
    from core.plugins.routes import plugin_ui_dirs
    from core.settings import load_settings
    from core.web.ui.i18n import add_catalogue_dir

    for folder in plugin_ui_dirs(build_host(load_settings()), "locale"):  # as create_app does
        add_catalogue_dir(folder)
    messages = ui_messages()
    assert len(messages) > 150
    ja = translator("ja")
    missing = sorted(m for m in messages if ja.gettext(m) == m)
    assert missing == []


def test_english_is_the_message_itself_and_dates_follow_the_locale() -> None:
    from datetime import UTC, datetime

    assert translator("en").gettext("Sign in") == "Sign in"
    assert translator("ja").gettext("Sign in") == "ログイン"
    moment = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)  # 10:30 in Tokyo
    assert "2026/11/22" in translator("ja").datetime(moment) and "10:30" in translator(
        "ja"
    ).datetime(moment)
    assert "Nov 22, 2026" in translator("en").datetime(moment)
    assert translator("ja").number(1234567) == "1,234,567"
