"""The command line, as an operator uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.cli.main import cli
from core.settings import Settings

SHIPPED = Path(__file__).resolve().parents[3] / "tenants"


@pytest.fixture
def invoke(settings: Settings) -> object:
    env = {
        "MADOGUCHI_HOME": str(settings.home),
        "MADOGUCHI_DATABASE_URL": settings.database_url,
        "MADOGUCHI_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "MADOGUCHI_LOG_FORMAT": "json",
    }

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    return run


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    for name in ("serve", "db", "tenant", "plugins", "demo", "worker", "user", "token"):
        assert f"  {name} " in result.output
    serve_help = CliRunner().invoke(cli, ["serve", "--help"]).output
    assert "--host" in serve_help and "--port" in serve_help and "--demo" in serve_help


def test_tenant_apply_twice_then_list_and_show(invoke) -> None:  # type: ignore[no-untyped-def]
    first = invoke("tenant", "apply", str(SHIPPED))
    assert first.exit_code == 0, first.output
    assert first.output.count(": created") == 3
    second = invoke("tenant", "apply", str(SHIPPED))
    assert second.output.count("unchanged") == 3 and "created" not in second.output
    listed = invoke("tenant", "list")
    for slug in ("mitsubachi-honpo", "sakura-sonpo", "aoba-city"):
        assert slug in listed.output
    assert "みつばち本舗株式会社" in listed.output
    shown = json.loads(invoke("tenant", "show", "sakura-sonpo").output)
    assert {p["id"] for p in shown["plugins"] if p["enabled"]} == {"intake", "knowledge"}
    plugins = invoke("plugins", "list", "--tenant", "aoba-city")
    assert plugins.exit_code == 0 and "hotline" in plugins.output


def test_invalid_manifest_is_an_error_naming_file_and_field(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "ume-shoji.toml"
    bad.write_text('display_name = "梅商事"\nretention_days = 0\n', encoding="utf-8")
    result = invoke("tenant", "apply", str(bad))
    assert result.exit_code != 0
    assert "ume-shoji.toml: retention_days:" in result.output
    assert "ume-shoji" not in invoke("tenant", "list").output
    missing = invoke("tenant", "apply", str(tmp_path / "nope.toml"))
    assert missing.exit_code != 0 and "file not found" in missing.output


def test_users_grants_and_tokens(invoke) -> None:  # type: ignore[no-untyped-def]
    invoke("tenant", "apply", str(SHIPPED))
    short = invoke("user", "create", "op@example.jp", input="short\n")
    assert short.exit_code != 0 and "12 characters" in short.output
    assert (
        invoke("user", "create", "Op@Example.jp", input="たいへん長い合言葉です123\n").exit_code
        == 0
    )
    again = invoke("user", "create", "op@example.jp", "--no-password")
    assert again.exit_code != 0 and "exists already" in again.output
    asked = invoke("user", "grant", "op@example.jp", "operator", "--tenant", "aoba-city").output
    assert "requested (request" in asked and "client_admin or a security_officer" in asked
    again = invoke("user", "grant", "op@example.jp", "operator", "--tenant", "aoba-city")
    assert again.exit_code != 0 and "awaits approval" in again.output
    assert (
        "granted"
        in invoke("user", "grant", "op@example.jp", "client_viewer", "--tenant", "aoba-city").output
    )
    assert (
        invoke("user", "grant", "op@example.jp", "operator").exit_code != 0
    )  # tenant role needs --tenant
    token = invoke("token", "create", "op@example.jp", "--expires", "3").output.strip()
    assert token.startswith("mdg_") and len(token) > 40
    assert (
        "revoked"
        in invoke(
            "user", "revoke", "op@example.jp", "client_viewer", "--tenant", "aoba-city"
        ).output
    )
    assert (
        "nothing to change"
        in invoke("user", "revoke", "op@example.jp", "operator", "--tenant", "aoba-city").output
    )  # never granted: it still awaits approval


def test_db_current_reports_head(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("db", "current")
    assert result.exit_code == 0
    current, head = (line.split()[-1] for line in result.output.strip().splitlines())
    assert current == head


def test_worker_once_runs_due_jobs(invoke) -> None:  # type: ignore[no-untyped-def]
    invoke("tenant", "apply", str(SHIPPED))
    result = invoke("worker", "--once")
    assert result.exit_code == 0 and "0 job(s) run" in result.output
