"""Structured logging with structlog: readable lines on a terminal, JSON lines when asked."""

from __future__ import annotations

import logging
import sys
from enum import Enum
from typing import TextIO

import structlog

__all__ = ["LogFormat", "configure_logging"]


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class LogFormat(str, Enum):
    """How log lines look."""

    CONSOLE = "console"
    """Aligned, coloured when the stream is a terminal: for people."""
    JSON = "json"
    """One JSON object per line: for machines."""


def configure_logging(
    level: str = "info", fmt: LogFormat = LogFormat.CONSOLE, stream: TextIO | None = None
) -> None:
    """Configure structlog (and the standard library's root logger) for a process.

    Args:
        level: ``debug``, ``info``, ``warning`` or ``error``.
        fmt: Console lines or JSON lines.
        stream: Where to write; standard error when omitted.
    """
    out = stream if stream is not None else sys.stderr
    numeric = _LEVELS[level.lower()]
    renderer: structlog.typing.Processor
    if fmt is LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fmt is LogFormat.JSON:
        processors.append(structlog.processors.dict_tracebacks)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=numeric, stream=out, format="%(levelname)s %(name)s: %(message)s")
