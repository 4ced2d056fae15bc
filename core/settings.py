"""Process settings, read once from the environment.

``MADOGUCHI_HOME`` decides where ``var/`` lives (the SQLite file, keys, archives); without
it, the current directory. ``MADOGUCHI_DATABASE_URL`` switches to PostgreSQL; the app
connects with it, while ``MADOGUCHI_MIGRATION_DATABASE_URL`` (the table owner) runs
migrations when it is given. ``MADOGUCHI_AUDIT_SIGNING_KEY_FILE`` says where the audit
checkpoints' signing key lives; by default in the user's configuration folder, never in ``var/``.
``MADOGUCHI_TRUSTED_PROXIES`` names the reverse proxies (addresses
or CIDR ranges, separated by commas) whose ``X-Forwarded-For`` gives the client's address.
"""

from __future__ import annotations

import ipaddress
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
    trusted_proxies: tuple[str, ...] = ()  # none: X-Forwarded-For is ignored

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


def _proxies(value: str) -> tuple[str, ...]:
    """Addresses and CIDR ranges, normalised; a malformed one stops the start."""
    found = []
    for item in value.replace(",", " ").split():
        try:
            net = ipaddress.ip_network(item, strict=False) if "/" in item else None
            found.append(str(net) if net else str(ipaddress.ip_address(item)))
        except ValueError:
            raise ValueError(
                f"MADOGUCHI_TRUSTED_PROXIES: {item!r} is not an address or a CIDR range"
            ) from None
    return tuple(found)


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
        "trusted_proxies": _proxies(os.environ.get("MADOGUCHI_TRUSTED_PROXIES", "")),
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
