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
    renderer: structlog.typing.Processor
    if fmt is LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    handler = logging.StreamHandler(out)
    handler.addFilter(_redact_record)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *([structlog.processors.dict_tracebacks] if fmt is LogFormat.JSON else []),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level.lower()])


_TOKEN_IN_TEXT = re.compile(r"([?&]token=)[^&\s\"']*|(datadivr\.token\.)[^,\s\"']*")


def redact_tokens(text: str) -> str:
    """``text`` with every token in a query string or subprotocol replaced by ``***``."""
    return _TOKEN_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


def _redact_record(record: logging.LogRecord) -> bool:
    """Keep tokens out of the log (uvicorn logs each handshake's path with its query)."""
    if record.args and isinstance(record.msg, str):
        text = record.getMessage()
        redacted = redact_tokens(text)
        if redacted != text:
            record.msg, record.args = redacted, None
    elif isinstance(record.msg, str) and "token" in record.msg:
        record.msg = redact_tokens(record.msg)
    return True
