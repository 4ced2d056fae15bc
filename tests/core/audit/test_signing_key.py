"""The checkpoints' signing key is kept outside the data directory, or the process will not
start."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.app import create_app
from core.plugins.host import PluginHost
from core.settings import Settings, load_settings
from tests.conftest import World
from tests.core.audit.cli import invoke

VARIABLES = ("MADOGUCHI_AUDIT_SIGNING_KEY_FILE", "MADOGUCHI_AUDIT_SIGNING_KEY")


def reloaded(settings: Settings) -> Settings:
    """The same home and database, with the environment read again."""
    return load_settings(
        home=settings.home,
        database_url=settings.database_url,
        migration_database_url=settings.migration_database_url,
    )


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def test_the_key_is_made_outside_the_data_directory_by_default(
    settings: Settings, world: World, tmp_path: Path
) -> None:
    config = tmp_path / "config"  # the user's configuration folder, as XDG_CONFIG_HOME says
    signed = await invoke(settings, "audit", "checkpoint", XDG_CONFIG_HOME=str(config))
    assert signed.exit_code == 0, signed.output
    assert not (settings.var_dir / "keys" / "audit-signing.key").exists()
    key = config / "madoguchi" / "audit-signing.key"
    assert files_under(config) == [key]
    assert key.stat().st_mode & 0o777 == 0o600
    assert f"t:{world.a.id}: signed" in signed.output


async def test_a_key_file_inside_the_data_directory_is_refused_at_start(
    settings: Settings, host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = settings.var_dir / "secrets" / "audit.key"
    monkeypatch.setenv("MADOGUCHI_AUDIT_SIGNING_KEY_FILE", str(inside))
    with pytest.raises(RuntimeError) as refused:
        create_app(reloaded(settings), host=host)
    message = str(refused.value)
    assert all(name in message for name in VARIABLES) and str(inside) in message
    assert not inside.exists()


async def test_an_older_installs_key_in_var_keys_is_refused_with_how_to_move_it(
    settings: Settings, host: PluginHost, world: World
) -> None:
    legacy = settings.var_dir / "keys" / "audit-signing.key"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_bytes(secrets.token_bytes(32))
    with pytest.raises(RuntimeError) as refused:
        create_app(settings, host=host)
    message = str(refused.value)
    assert f"mv {legacy} " in message and all(name in message for name in VARIABLES)
    for command in (["serve", "--port", "1"], ["audit", "checkpoint"], ["audit", "verify"]):
        answer = await invoke(settings, *command)
        assert answer.exit_code == 1, command
        assert "MADOGUCHI_AUDIT_SIGNING_KEY_FILE" in answer.output, command
    assert legacy.read_bytes()  # left where it is, for the operator to move


async def test_the_key_may_be_given_in_the_environment(
    settings: Settings, world: World, tmp_path: Path
) -> None:
    given = {
        "MADOGUCHI_AUDIT_SIGNING_KEY": base64.b64encode(
            Ed25519PrivateKey.generate().private_bytes_raw()
        ).decode(),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    signed = await invoke(settings, "audit", "checkpoint", **given)
    assert signed.exit_code == 0, signed.output
    assert files_under(tmp_path / "config") == []  # no key file written anywhere
    assert (await invoke(settings, "audit", "verify", **given)).exit_code == 0
    # with another key the checkpoints do not verify: they were signed with the given one
    another = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    other = await invoke(settings, "audit", "verify", MADOGUCHI_AUDIT_SIGNING_KEY=another)
    assert other.exit_code == 1 and "signature does not hold" in other.output
