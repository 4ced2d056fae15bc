"""structlog set-up: JSON lines in production, a readable console in a terminal.

Context (``request_id``, ``tenant``, ``user``) is bound per request through contextvars.
Nothing here logs request or response bodies; events carry ids and names, never values.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

__all__ = ["configure_logging"]


def configure_logging(fmt: str = "auto", level: int = logging.INFO, stream: Any = None) -> None:
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=True)
        if fmt == "console"
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info
            if fmt == "json"
            else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Third-party loggers stay quiet; uvicorn's access log is off (it would print query strings).
    logging.basicConfig(level=logging.WARNING, stream=stream)
    logging.getLogger("casbin").setLevel(logging.WARNING)
