"""Process settings, read once from the environment.

``MADOGUCHI_HOME`` decides where ``var/`` lives (the SQLite file, keys, archives); without
it, the current directory. ``MADOGUCHI_DATABASE_URL`` switches to PostgreSQL; the app
connects with it, while ``MADOGUCHI_MIGRATION_DATABASE_URL`` (the table owner) runs
migrations when it is given. ``MADOGUCHI_AUDIT_SIGNING_KEY_FILE`` says where the audit
checkpoints' signing key lives; by default in the user's configuration folder, never in ``var/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "default_audit_signing_key_file", "load_settings"]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    migration_database_url: str
    app_role: str | None = None
    trace_hooks: bool = False
    secure_cookies: bool = False  # set MADOGUCHI_SECURE_COOKIES=1 behind HTTPS
    log_format: str = "auto"  # "json", "console" or "auto" (console on a terminal)
    tenants_dir: Path = field(default_factory=lambda: Path("tenants"))
    audit_signing_key_file: Path = field(default_factory=lambda: default_audit_signing_key_file())

    @property
    def var_dir(self) -> Path:
        return self.home / "var"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def ensure_dirs(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)


def default_audit_signing_key_file() -> Path:
    """``$XDG_CONFIG_HOME/madoguchi/audit-signing.key`` (``~/.config`` without the variable):
    apart from the data directory and its backups, so that whoever holds the database cannot
    sign a rewritten audit log."""
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "madoguchi" / "audit-signing.key"


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; keyword arguments win (tests use them)."""
    home = Path(os.environ.get("MADOGUCHI_HOME") or Path.cwd()).resolve()
    default_db = f"sqlite+aiosqlite:///{home / 'var' / 'madoguchi.db'}"
    database_url = os.environ.get("MADOGUCHI_DATABASE_URL") or default_db
    values: dict[str, object] = {
        "home": home,
        "database_url": database_url,
        "migration_database_url": os.environ.get("MADOGUCHI_MIGRATION_DATABASE_URL")
        or database_url,
        "app_role": os.environ.get("MADOGUCHI_DB_APP_ROLE") or None,
        "trace_hooks": _flag("MADOGUCHI_TRACE_HOOKS"),
        "secure_cookies": _flag("MADOGUCHI_SECURE_COOKIES"),
        "log_format": os.environ.get("MADOGUCHI_LOG_FORMAT", "auto"),
        "tenants_dir": Path(os.environ.get("MADOGUCHI_TENANTS_DIR") or _project_root() / "tenants"),
        "audit_signing_key_file": Path(
            os.environ.get("MADOGUCHI_AUDIT_SIGNING_KEY_FILE") or default_audit_signing_key_file()
        )
        .expanduser()
        .resolve(),
    }
    values.update(overrides)
    values["home"] = Path(str(values["home"])).resolve()
    if (
        "home" in overrides
        and "database_url" not in overrides
        and not os.environ.get("MADOGUCHI_DATABASE_URL")
    ):
        home_path = Path(str(values["home"]))
        values["database_url"] = f"sqlite+aiosqlite:///{home_path / 'var' / 'madoguchi.db'}"
        values["migration_database_url"] = values["database_url"]
    if "database_url" in overrides and "migration_database_url" not in overrides:
        values["migration_database_url"] = values["database_url"]
    return Settings(**values)  # type: ignore[arg-type]
