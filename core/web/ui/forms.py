"""Small helpers for HTML forms: reading them, redirects that stay on this site."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Redirect

__all__ = ["form_data", "redirect", "safe_next"]


async def form_data(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def safe_next(target: str | None, default: str = "/") -> str:
    """Only paths on this site: no scheme, no host, no protocol-relative ``//``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\\\" in target:
        return default
    return target


def redirect(path: str) -> Redirect:
    return Redirect(path=path, status_code=303)
