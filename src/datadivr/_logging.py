"""Logging: the library logs through the standard library; the CLI renders with structlog.

datadivr's modules log structured events (``log.info("client connected", client_id=…)``) to
standard-library loggers named ``datadivr.*``. A library must not print on its own: until the
application configures logging, only warnings and errors reach standard error (through
:mod:`logging`'s last resort). :func:`configure_logging` (what ``datadivr serve`` calls) renders
every record, uvicorn's included, as aligned console lines or JSON lines.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from enum import Enum
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import unquote_plus

if TYPE_CHECKING:
    # Imported where a logger is made: structlog imports rich, which the command line's
    # --help need not wait for.
    import structlog

__all__ = [
    "LogFormat",
    "RedactingFilter",
    "configure_logging",
    "get_logger",
    "redact_library_logs",
    "redact_tokens",
]

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
    import structlog

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
    """Render every log record of the process with structlog, credentials removed.

    Every string a line is made of passes through :func:`redact_tokens` before it is rendered:
    the message (uvicorn's handshake lines, the websockets library's header dumps at debug
    level), every value logged with it, and the traceback.

    Args:
        level: ``debug``, ``info``, ``warning`` or ``error``.
        fmt: Console lines or JSON lines.
        stream: Where to write; standard error when omitted.
    """
    import structlog

    out = stream if stream is not None else sys.stderr
    # Tracebacks without local variables: they would print request headers, tokens included.
    processors: list[structlog.typing.Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta
    ]
    if fmt is LogFormat.JSON:
        processors += [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            _redact_event,
            structlog.processors.JSONRenderer(),
        ]
    else:
        rich = structlog.dev.RichTracebackFormatter(
            show_locals=False, color_system="truecolor" if out.isatty() else None
        )
        processors += [
            _redact_event,
            structlog.dev.ConsoleRenderer(
                colors=out.isatty(), exception_formatter=_redacted_traceback(rich)
            ),
        ]
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=processors,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level.lower()])


#: Where a request target's query (or fragment) begins: ``?``, ``#``, or their
#: percent-encodings, which no server takes for a query but a log line shows all the same. It
#: ends at whitespace or the end of the text, a quote just before either left alone
#: (``"WebSocket /ws?a=1" 403``).
_QUERY = re.compile(r"(\?|#|%3[Ff]|%23)(\S*?)(?=[\"']?(?:\s|$))")
_QUERY_SEPARATOR = re.compile(r"([&;])")
#: A parameter name shown as it is (percent-decoded); any other is ``***``, since a client may
#: write a token where a name goes (``?token%3DSECRET``).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.~-]{1,32}")
#: Headers that carry credentials, and ``datadivr.token.…`` subprotocols.
_SECRET_HEADER = r"(?:proxy-)?authorization|(?:set-)?cookie"
#: ``'authorization': 'Bearer …'``, ``(b'cookie', b'…')``, ``"Authorization": "…"``: up to the
#: closing quote, escaped quotes included.
_QUOTED_HEADER = re.compile(
    rf"(?i)((?:{_SECRET_HEADER})[\"']\s*[:,]\s*b?([\"']))(?:\\.|(?!\2)[^\r\n])*"
)
#: ``< Authorization: Bearer …`` (the websockets library's header dumps): to the end of the line.
_HEADER_LINE = re.compile(rf"(?i)((?:{_SECRET_HEADER})\s*:\s*)[^\r\n]*")
_SUBPROTOCOL = re.compile(r"(?i)(datadivr\.token\.)[^\s,\"'\\]*")
#: An ASGI scope's query (``'query_string': b'token=…'``, as uvicorn dumps scopes at trace
#: level): up to the closing quote.
_QUERY_STRING = re.compile(r"(?i)(query_string[\"']?\s*[:=]\s*b?([\"']))(?:\\.|(?!\2)[^\r\n])*")
#: Logged values under these names are removed whole (``log.info(…, authorization=…)``).
_SECRET_KEY = re.compile(rf"(?i){_SECRET_HEADER}|token$|password|secret")


def redact_tokens(text: str) -> str:
    """``text`` without credentials: every query-string value of a request target
    (``/ws?a=***&token=***``, whatever the encoding or separator), the value of every
    ``Authorization``, ``Proxy-Authorization`` and ``Cookie`` header, and every
    ``datadivr.token.…`` subprotocol and every ASGI scope's ``query_string`` are replaced by
    ``***``; names are matched in any case."""
    text = _QUERY.sub(_redact_query, text)
    text = _QUOTED_HEADER.sub(r"\1***", text)
    text = _QUERY_STRING.sub(r"\1***", text)
    text = _HEADER_LINE.sub(r"\1***", text)
    return _SUBPROTOCOL.sub(r"\1***", text)


def _redact_query(match: re.Match[str]) -> str:
    parts = _QUERY_SEPARATOR.split(match.group(2))
    # Parameters at even positions, separators between them.
    parts[::2] = [_redact_parameter(part) for part in parts[::2]]
    return match.group(1) + "".join(parts)


def _redact_parameter(part: str) -> str:
    if not part:
        return part
    name, equals, _ = part.partition("=")
    if not equals:
        return "***"  # a bare word may be a token too
    shown = unquote_plus(name)
    return (shown if _PLAIN_NAME.fullmatch(shown) else "***") + "=***"


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_tokens(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {
            key: "***" if isinstance(key, str) and _SECRET_KEY.search(key) else _redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_redacted(item) for item in value)
    # What a renderer would show of anything else: its repr.
    return redact_tokens(repr(value))


def _redact_event(
    logger: Any, method_name: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """The processor that removes credentials from every value of a record."""
    exc_info = event_dict.pop("exc_info", None)
    redacted: structlog.typing.EventDict = _redacted(event_dict)
    if exc_info is not None:
        redacted["exc_info"] = exc_info  # rendered by _redacted_traceback
    return redacted


def _redacted_traceback(
    formatter: structlog.typing.ExceptionRenderer,
) -> structlog.typing.ExceptionRenderer:
    """``formatter``, with credentials removed from what it writes (exception messages quote
    request lines and headers)."""

    def format_exception(sio: TextIO, exc_info: structlog.typing.ExcInfo) -> None:
        buffer = io.StringIO()
        formatter(buffer, exc_info)
        sio.write(redact_tokens(buffer.getvalue()))

    return format_exception


class RedactingFilter(logging.Filter):
    """A :class:`logging.Filter` that removes credentials (:func:`redact_tokens`) from a
    record's message, its arguments and its traceback text, in place, so that whatever
    handler and formatter the application configured writes none.

    The arguments keep their types and places (uvicorn's access formatter unpacks them).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_redacted_argument(arg) for arg in args)
        elif isinstance(args, dict):
            record.args = {key: _redacted_argument(value) for key, value in args.items()}
        if record.args:
            # A credential may show only once the parts are put together: ("< %s: %s",
            # "authorization", "Bearer …"), as the websockets library dumps headers.
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                message = None  # a bad format string: the handler reports it as it would
            if message is not None and redact_tokens(message) != message:
                record.msg, record.args = redact_tokens(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_tokens(logging.Formatter().formatException(record.exc_info))
        return True


def _redacted_argument(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float)):
        return value  # for %d and the like
    # Anything else as ``%s`` shows it (uvicorn dumps whole ASGI scopes at trace level).
    return redact_tokens(value if isinstance(value, str) else str(value))


#: The loggers that write request targets and headers: uvicorn's (handshake and access lines,
#: its WebSocket protocols' debug dumps) and the websockets library's.
LIBRARY_LOGGERS = ("uvicorn.error", "uvicorn.access", "uvicorn.asgi", "websockets.server")
_FILTER = RedactingFilter()


def redact_library_logs() -> None:
    """Attach :class:`RedactingFilter` to :data:`LIBRARY_LOGGERS` (once; later calls do
    nothing), so that an application that configures logging its own way, or none, still
    logs no credential. :func:`~datadivr.create_app` calls it."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
