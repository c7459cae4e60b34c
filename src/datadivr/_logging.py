"""Logging: the library logs through the standard library; the CLI renders with structlog.

datadivr's modules log structured events (``log.info("client connected", client_id=…)``) to
standard-library loggers named ``datadivr.*``. A library must not print on its own: until the
application configures logging, only warnings and errors reach standard error (through
:mod:`logging`'s last resort). :func:`configure_logging` (what ``datadivr serve`` calls) renders
every record, uvicorn's included, as aligned console lines or JSON lines.
"""

from __future__ import annotations

import logging
import re
import sys
from enum import Enum
from typing import Any, TextIO

import structlog

__all__ = ["LogFormat", "configure_logging", "get_logger", "redact_tokens"]

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


def get_logger(name: str) -> Any:
    """A structlog logger writing to the standard library's logger ``name``.

    Events below the logger's level cost a level check and nothing more.
    """
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.render_to_log_kwargs,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


def configure_logging(
    level: str = "info", fmt: LogFormat = LogFormat.CONSOLE, stream: TextIO | None = None
) -> None:
    """Render every log record of the process with structlog.

    Args:
        level: ``debug``, ``info``, ``warning`` or ``error``.
        fmt: Console lines or JSON lines.
        stream: Where to write; standard error when omitted.
    """
    out = stream if stream is not None else sys.stderr
    # Tracebacks without local variables: they would print request headers, tokens included.
    renderer: structlog.typing.Processor
    if fmt is LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=out.isatty(),
            exception_formatter=structlog.dev.RichTracebackFormatter(
                show_locals=False, color_system="truecolor" if out.isatty() else None
            ),
        )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        _RedactingFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *(
                    [
                        structlog.processors.ExceptionRenderer(
                            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
                        )
                    ]
                    if fmt is LogFormat.JSON
                    else []
                ),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level.lower()])


_TOKEN_IN_TEXT = re.compile(
    r"([?&]token=)[^&\s\"'\\]*"
    r"|(datadivr\.token\.)[^,\s\"'\\]*"
    r"|((?i:authorization)[\"']?\s*[:=,]\s*b?[\"']?)[^\"'\\\r\n]*"
)


def redact_tokens(text: str) -> str:
    """``text`` with every token in a query string, a subprotocol or an ``Authorization``
    header replaced by ``***``."""
    return _TOKEN_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)


class _RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """Keeps tokens out of every line written, whatever logged it (uvicorn logs each
    handshake's path with its query, and at debug level the websockets library its headers)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_tokens(super().format(record))
