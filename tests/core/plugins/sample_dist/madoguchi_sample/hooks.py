from typing import Any

import click
from litestar import get
from litestar.di import NamedDependency

from core import TenantContext, hookimpl

ONBOARDED: list[str] = []


@get("/api/v1/t/{tenant:str}/sample/greeting", opt={"permission": "greeting:read"})
async def greeting(
    ctx: NamedDependency[TenantContext], plugin_settings: NamedDependency[dict[str, Any]]
) -> dict[str, str]:
    return {"greeting": f"{plugin_settings['greeting']} ({ctx.display_name})"}


@hookimpl
def register_routes() -> list[Any]:
    from madoguchi_sample.greetings import count_greetings, log_greeting

    return [greeting, log_greeting, count_greetings]


@hookimpl
def on_tenant_onboarded(ctx: TenantContext) -> None:
    ONBOARDED.append(ctx.slug)


@click.command("sample-greet")
def greet() -> None:
    """Print the default greeting."""
    click.echo("いらっしゃいませ")


@hookimpl
def register_cli_commands() -> list[click.Command]:
    return [greet]
