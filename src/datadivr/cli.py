"""The ``datadivr`` command line: serve, client, generate, events."""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import fields
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_type_hints

import typer

from datadivr._logging import LogFormat, configure_logging, get_logger
from datadivr._rich_help import HelpCommand, HelpGroup
from datadivr.core._limits import Flag, Limits
from datadivr.exceptions import RegistrationError
from datadivr_codegen.project import (
    DEMO_PROTOCOL,
    ConfigError,
    NotConfiguredError,
    ProjectConfig,
    folders,
    load_config,
    regenerate_command,
)

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["app", "main"]

app = typer.Typer(
    name="datadivr",
    cls=HelpGroup,
    help="Schema-first real-time messaging over WebSocket.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# rich, asyncio and every command's own dependencies are imported where they are used: the
# command line is a pre-commit hook, and `datadivr generate --check` with nothing changed, like
# `datadivr --help`, should answer at once.


def _console(*, stderr: bool = False, width: int | None = None) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, width=width)


def _escape(text: str) -> str:
    """``text`` with rich's markup escaped, for a message that quotes it."""
    from rich.markup import escape

    return escape(text)


ProtocolOption = Annotated[
    str | None,
    typer.Option(
        "--protocol",
        envvar="DATADIVR_PROTOCOL",
        show_default="[tool.datadivr] protocol, else datadivr.demo",
        help="Import name of a generated protocol package (found in the current folder, its "
        "src/ and the project's too).",
    ),
]
DEFAULT_PROTOCOL = DEMO_PROTOCOL


def _project() -> ProjectConfig:
    """The project's ``[tool.datadivr]`` settings, or exit 2 naming the file and key at fault."""
    try:
        return load_config()
    except ConfigError as exc:
        _console(stderr=True).print(f"[red]error:[/] {_escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


#: What the commands say of the protocol they use when nothing names one.
DEMO_NOTE = "the demo protocol: no --protocol, no [tool.datadivr] protocol"


def _protocol_name(option: str | None, config: ProjectConfig) -> str:
    """The protocol package to use: ``option``, else the configured one, else the demo."""
    if option is not None:
        return option
    return config.protocol or DEFAULT_PROTOCOL


def _shown(option: str | None, config: ProjectConfig) -> str:
    """The protocol's name as the commands show it: the demo is said to be the demo."""
    name = _protocol_name(option, config)
    if option is None and config.protocol is None:
        return f"{name} ({DEMO_NOTE})"
    return name


def _is_module_name(name: str) -> bool:
    """Whether ``name`` is an absolute, dotted module name (``game_protocol``, ``game.proto``)."""
    return all(part.isidentifier() for part in name.split("."))


def _load_protocol(package: str | None, config: ProjectConfig | None = None) -> ModuleType:
    """Import a generated protocol package (``package``, else the configured one, else the
    demo), or exit 2 with the reason."""
    from datadivr.core._protocol import Protocol

    if config is None:
        config = _project()
    name = _protocol_name(package, config)
    if not _is_module_name(name):
        _console(stderr=True).print(
            f"[red]error:[/] protocol {_escape(repr(name))} is not a module name: the import "
            "name of a generated package (e.g. game_protocol), not a path",
            highlight=False,
        )
        raise typer.Exit(2)
    config.add_import_paths()
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        where = ", ".join(str(path) for path in config.import_paths())
        hint = ""
        if package is None and config.out is not None and not config.out.is_dir():
            hint = f"; {config.out} is not generated yet: run `datadivr generate` first"
        _console(stderr=True).print(
            f"[red]error:[/] cannot import protocol {name!r}: {_escape(str(exc))} "
            f"(looked in the Python path and in {where}){hint}",
            highlight=False,
        )
        raise typer.Exit(2) from None
    if not isinstance(getattr(module, "PROTOCOL", None), Protocol):
        _console(stderr=True).print(f"[red]error:[/] {name!r} is not a generated protocol package")
        raise typer.Exit(2)
    return module


class LogLevel(str, Enum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class OutputFormat(str, Enum):
    TABLE = "table"
    JSON = "json"


_LIMITS = "Limits"
_ACCESS = "Access"
_CLUSTER = "Scaling out"


def limit_parameters() -> list[inspect.Parameter]:
    """One option of the Limits panel per field of :class:`Limits`, from the field's name,
    type, default and :class:`~datadivr.core._limits.Flag`."""
    types = get_type_hints(Limits)
    parameters = []
    for limit in fields(Limits):
        flag = Flag.of(limit.metadata)
        kind, default = types[limit.name], limit.default
        if flag.zero_means_none:  # the command line spells None as 0
            (kind,) = (arg for arg in get_args(kind) if arg is not type(None))
            default = default or 0
        option = typer.Option(
            "--" + limit.name.replace("_", "-"),
            envvar="DATADIVR_" + limit.name.upper(),
            rich_help_panel=_LIMITS,
            help=flag.help,
            min=flag.min,
            show_default=flag.default_text or True,
        )
        parameters.append(
            inspect.Parameter(
                limit.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[kind, option],
            )
        )
    return parameters


def limits_from_options(values: Mapping[str, Any]) -> Limits:
    """The :class:`Limits` that the options of :func:`limit_parameters` set.

    Raises:
        ValueError: a value the command line let through that ``Limits`` refuses (``inf``).
    """
    settings: dict[str, Any] = {}
    for limit in fields(Limits):
        value = values[limit.name]
        settings[limit.name] = value or None if Flag.of(limit.metadata).zero_means_none else value
    return Limits(**settings)


def _with_limit_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with its ``limit_options`` parameter in place of the options of
    :func:`limit_parameters`: it gets their values as a dict, by field name."""
    signature = inspect.signature(command, eval_str=True)
    names = [limit.name for limit in fields(Limits)]
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        if parameter.name == "limit_options":
            parameters += limit_parameters()
        else:
            parameters.append(parameter)

    @functools.wraps(command)
    def with_limits(**options: Any) -> None:
        values = {name: options.pop(name) for name in names}
        command(**options, limit_options=values)

    with_limits.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return with_limits


@app.command(cls=HelpCommand)
@_with_limit_options
def serve(
    *,
    host: Annotated[
        str, typer.Option(envvar="DATADIVR_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(envvar="DATADIVR_PORT", min=0, max=65535, help="Port; 0 picks a free one."),
    ] = 8765,
    log_level: Annotated[LogLevel, typer.Option(envvar="DATADIVR_LOG_LEVEL")] = LogLevel.INFO,
    log_format: Annotated[
        LogFormat, typer.Option(envvar="DATADIVR_LOG_FORMAT", help="console or json lines.")
    ] = LogFormat.CONSOLE,
    protocol: ProtocolOption = None,
    imports: Annotated[
        list[str] | None,
        typer.Option(
            "--import",
            show_default="[tool.datadivr] import",
            help="Module to import first, e.g. one whose @websocket_handler functions register "
            "handlers (repeatable).",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="DATADIVR_TOKEN",
            rich_help_panel=_ACCESS,
            show_default=False,
            help="Shared token clients must present: Authorization: Bearer, ?token=, or the "
            "subprotocol datadivr.token.<token>. Prefer the environment variable.",
        ),
    ] = None,
    allowed_origins: Annotated[
        str | None,
        typer.Option(
            envvar="DATADIVR_ALLOWED_ORIGINS",
            rich_help_panel=_ACCESS,
            help="Comma-separated Origin values browsers may connect from; any when unset.",
        ),
    ] = None,
    explorer: Annotated[
        bool,
        typer.Option(
            "--explorer/--no-explorer",
            envvar="DATADIVR_EXPLORER",
            help="Serve the protocol explorer, a page that lists the events and talks to /ws, "
            "at GET /.",
        ),
    ] = True,
    limit_options: dict[str, Any],  # one option per field of Limits: _with_limit_options
    broker: Annotated[
        str | None,
        typer.Option(
            envvar="DATADIVR_BROKER",
            rich_help_panel=_CLUSTER,
            show_default="memory:// (this process alone)",
            help="Where servers meet to reach each other's clients: redis://host:port/db "
            "(also rediss://, unix://).",
        ),
    ] = None,
    presence_ttl: Annotated[
        float,
        typer.Option(
            envvar="DATADIVR_PRESENCE_TTL",
            rich_help_panel=_CLUSTER,
            min=0.3,
            help="Seconds after which a dead node's clients are forgotten (plus a third of it "
            "for the other nodes to notice).",
        ),
    ] = 15.0,
    workers: Annotated[
        int,
        typer.Option(
            envvar="DATADIVR_WORKERS",
            rich_help_panel=_CLUSTER,
            min=1,
            help="Server processes sharing the port; more than one needs --broker.",
        ),
    ] = 1,
) -> None:
    """Run the server: WebSocket at /ws, health at /health, the protocol explorer at /."""
    from datadivr.broker import backplane_for
    from datadivr.broker._backplane import Backplane, safe_url
    from datadivr.server._app import create_app
    from datadivr.server._uvicorn import run

    configure_logging(log_level.value, log_format)
    log = get_logger("datadivr.cli")
    project = _project()
    try:
        limits = limits_from_options(limit_options)
    except ValueError as exc:
        log.error("invalid limits", error=str(exc))
        raise typer.Exit(2) from None
    if token is None and os.environ.get("DATADIVR_TOKEN") == "":
        # Set but empty is a mistake, not a wish to run without authentication.
        log.error("invalid access settings", error="DATADIVR_TOKEN is set but empty")
        raise typer.Exit(2)
    origins = (
        None
        if allowed_origins is None
        else [entry.strip() for entry in allowed_origins.split(",") if entry.strip()]
    )
    if workers > 1 and not hasattr(os, "fork"):
        log.error("invalid scaling settings", error="--workers needs os.fork (POSIX systems)")
        raise typer.Exit(2)
    url = broker or "memory://"
    # Built once per serving process: here, and in each worker after the fork.
    new_backplane = functools.partial(backplane_for, url, presence_ttl=presence_ttl)
    try:
        backplane = new_backplane()
    except (ValueError, ImportError) as exc:
        log.error("invalid broker", error=str(exc))
        raise typer.Exit(2) from None
    if workers > 1 and not backplane.spans_nodes:
        log.error(
            "invalid scaling settings",
            error=f"--workers {workers} needs --broker (e.g. redis://127.0.0.1:6379): "
            "the in-memory default cannot reach the clients of other processes",
        )
        raise typer.Exit(2)
    package = _load_protocol(protocol, project)
    for name in project.imports if imports is None else imports:
        if not _is_module_name(name):
            log.error(
                "cannot import", import_name=name, error="not a module name (e.g. game_server)"
            )
            raise typer.Exit(2)
        try:
            importlib.import_module(name)
        except (ImportError, RegistrationError) as exc:  # a handler of no event, too
            log.error("cannot import", import_name=name, error=str(exc))
            raise typer.Exit(2) from None

    def make_app(backplane: Backplane) -> Any:
        return create_app(
            protocol=package.PROTOCOL,
            limits=limits,
            token=token,
            allowed_origins=origins,
            broker=backplane,
            explorer=explorer,
        )

    try:
        application = make_app(backplane)
    except ValueError as exc:  # an unusable token
        log.error("invalid access settings", error=str(exc))
        raise typer.Exit(2) from None
    # Bound once every setting, the protocol and the imports are known good.
    try:
        sock = _bind(host, port)
    except OSError as exc:
        log.error("cannot listen", host=host, port=port, error=str(exc))
        raise typer.Exit(1) from None
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    log.info(
        "listening",
        protocol=_shown(protocol, project),
        url=f"ws://{shown}:{bound_port}/ws",
        health=f"http://{shown}:{bound_port}/health",
        explorer=f"http://{shown}:{bound_port}/" if explorer else "off",
        authentication="token" if token else "none",
        allowed_origins=origins or "any",
        broker=safe_url(url),
        workers=workers,
    )
    options: dict[str, Any] = {
        "sockets": [sock],
        "log_level": "warning" if log_level is not LogLevel.DEBUG else "debug",
        "lifespan": "on",
        "log_config": None,  # uvicorn's records go through the handler configure_logging set up
    }
    if workers == 1:
        run(application, **options)
        return
    from datadivr.server._workers import run_workers

    # Each worker builds its own app after the fork: its own node id, loop and connections.
    raise typer.Exit(run_workers(workers, lambda: run(make_app(new_backplane()), **options)))


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@app.command(cls=HelpCommand)
def events(
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table or json.")
    ] = OutputFormat.TABLE,
    protocol: ProtocolOption = None,
) -> None:
    """List the protocol's events with their direction and reply."""
    from rich.table import Table

    project = _project()
    PROTOCOL = _load_protocol(protocol, project).PROTOCOL
    specs = sorted(PROTOCOL.events.values(), key=lambda e: e.name)
    if output is OutputFormat.JSON:
        rows = [
            {
                "event": e.name,
                "direction": e.direction.value,
                "reply": e.reply,
                "description": e.description,
            }
            for e in specs
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(
        title=_escape(
            f"{_shown(protocol, project)}, {PROTOCOL.schema_hash[:19]}…, {PROTOCOL.fingerprint}"
        )
    )
    for column in ("event", "direction", "reply", "description"):
        table.add_column(column)
    for e in specs:
        table.add_row(e.name, e.direction.value, e.reply or "", e.description)
    _console(width=160).print(table)


@app.command(cls=HelpCommand)
def generate(
    schema: Annotated[
        Path | None,
        typer.Option(
            envvar="DATADIVR_SCHEMA",
            file_okay=False,
            show_default="[tool.datadivr] schema",
            help="Folder of JSON Schema files.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            envvar="DATADIVR_OUT",
            file_okay=False,
            show_default="[tool.datadivr] out",
            help="Package folder to write the generated code to.",
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; fail when the output is stale.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Generate even when the headers say the output is up to date."
        ),
    ] = False,
) -> None:
    """Generate the typed protocol package (models, handlers, client) from a schema folder.

    The folders come from the options, else from the tool.datadivr table of pyproject.toml.
    Nothing is generated when every file's header names the current schema and generator
    hashes: --force generates anyway, and --check compares every byte (once: a stamp in the
    user's cache folder answers the next check of the same files).
    """
    from datadivr_codegen import INSTALL_HINT, missing_extra
    from datadivr_codegen.freshness import verified_up_to_date
    from datadivr_codegen.headers import skipped_summary, skips

    if check and force:
        _console(stderr=True).print("[red]error:[/] --check and --force cannot be used together")
        raise typer.Exit(2)
    try:
        schema, out = folders(schema, out, load_config())
    except (ConfigError, NotConfiguredError) as exc:
        _console(stderr=True).print(f"[red]error:[/] {_escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    # The pre-commit hook's case: what a full check found up to date has not changed since,
    # told by hashing files, before the generator (seconds to import) is imported.
    if check and verified_up_to_date(schema, out, regenerate_command(schema, out)):
        typer.echo(f"{out} is up to date with {schema}")
        return
    # Nothing to generate, as the headers tell: answered without the generator too.
    if not (check or force) and skips(schema, out):
        for line in skipped_summary(out):
            typer.echo(line)
        return
    err = _console(stderr=True)
    missing = missing_extra()
    if missing is not None:
        err.print(
            f"[red]error:[/] the generator needs the codegen extra ({missing} is missing): "
            + _escape(INSTALL_HINT),
            highlight=False,
        )
        raise typer.Exit(2)
    from datadivr_codegen.errors import SchemaError
    from datadivr_codegen.generator import check as check_output
    from datadivr_codegen.generator import generate as write_output

    try:
        if check:
            problems = check_output(schema, out)
            if problems:
                for line in problems:
                    err.print(f"[red]{line}[/]", highlight=False)
                command = regenerate_command(schema, out, cwd=Path.cwd())
                err.print(f"{out} is stale: run `{command}`", highlight=False)
                raise typer.Exit(1)
            typer.echo(f"{out} is up to date with {schema}")
            return
        result = write_output(schema, out, force=force)
    except SchemaError as exc:
        err.print(f"[red]schema error:[/] {_escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    except OSError as exc:  # a folder that cannot be read or written
        err.print(f"[red]error:[/] {_escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    for line in result.summary(out):
        typer.echo(line)


@app.command(cls=HelpCommand)
def init(
    directory: Annotated[
        Path, typer.Argument(help="The project's folder; created when missing.", file_okay=False)
    ] = Path("."),
    package: Annotated[
        str | None,
        typer.Option(
            show_default="<folder name>_protocol",
            help="Name of the protocol package to generate.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> None:
    """Start a protocol project: schemas, a server, a client and its pyproject.toml settings.

    The schema folder holds the envelope, the definitions and events the runtime needs
    (welcome, error), a request the server answers (greet) and an event relayed between
    clients (chat). Nothing is overwritten without --force.
    """
    from datadivr._starter import StarterError, next_steps, plan_starter, write_starter

    err = _console(stderr=True)
    try:
        starter = plan_starter(directory, package, force=force)
    except StarterError as exc:
        err.print(f"[red]error:[/] {_escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    if starter.clashes and not force:
        err.print("[red]error:[/] init would overwrite:", highlight=False)
        for clash in starter.clashes:
            typer.echo(f"  {clash.path} ({clash.why})", err=True)
        err.print("Nothing was written: pass --force to overwrite, or pick another folder.")
        raise typer.Exit(1)
    try:
        written = write_starter(starter)
    except OSError as exc:
        err.print(f"[red]error:[/] {_escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    for line in written:
        typer.echo(line)
    typer.echo("\n" + next_steps(starter, cwd=Path.cwd()))


@app.command(cls=HelpCommand)
def client(
    url: Annotated[
        str, typer.Option(envvar="DATADIVR_URL", help="Server WebSocket URL.")
    ] = "ws://127.0.0.1:8765/ws",
    linger: Annotated[
        float, typer.Option(min=0, help="Seconds to keep printing after the end of input.")
    ] = 1.0,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="DATADIVR_TOKEN",
            show_default=False,
            help="Token to present (Authorization: Bearer). Prefer the environment variable.",
        ),
    ] = None,
    protocol: ProtocolOption = None,
) -> None:
    """Interactive client: type `EVENT [JSON payload]` (or `@TO EVENT …`, or a raw JSON frame).

    Every incoming message is printed, errors included. `/help` lists the commands.
    """
    from datadivr._console import run_console

    configure_logging("warning")
    client_type = _load_protocol(protocol).Client
    headers = {"Authorization": f"Bearer {token}"} if token else None
    import asyncio

    code = asyncio.run(
        run_console(url, sys.stdin, linger=linger, client_type=client_type, headers=headers)
    )
    raise typer.Exit(code)


schema_app = typer.Typer(
    cls=HelpGroup,
    help="Export the protocol's schema for other languages, or compare two versions of it.",
    no_args_is_help=True,
)
app.add_typer(schema_app, name="schema")

OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="File to write; standard output when omitted."),
]


@schema_app.command("bundle", cls=HelpCommand)
def schema_bundle(
    out: OutOption = None,
    protocol: ProtocolOption = None,
) -> None:
    """Write one self-contained JSON Schema (draft 2020-12) of the whole protocol.

    Every message, discriminated by event_name, with no external $ref.
    """
    _write_json(_load_protocol(protocol).PROTOCOL.schema, out)


@schema_app.command("asyncapi", cls=HelpCommand)
def schema_asyncapi(
    out: OutOption = None,
    protocol: ProtocolOption = None,
    server: Annotated[
        str,
        typer.Option(
            "--server",
            metavar="URL",
            help="The server's WebSocket URL, declared as the document's server.",
        ),
    ] = "ws://127.0.0.1:8765/ws",
    token_security: Annotated[
        bool,
        typer.Option(
            "--token-security",
            help="Declare that clients present the shared token (datadivr serve --token): "
            "Authorization: Bearer, ?token=, or the datadivr.token.<token> subprotocol.",
        ),
    ] = False,
) -> None:
    """Write an AsyncAPI 3.0.0 document of the protocol.

    Its server, the /ws channel, one message per event, the server's send and receive
    operations with their replies.
    """
    from datadivr.core._asyncapi import asyncapi_for

    err = _console(stderr=True)
    package = _load_protocol(protocol)
    try:
        document = package.PROTOCOL.asyncapi
    except FileNotFoundError:
        err.print(
            f"[red]error:[/] {package.__name__!r} has no asyncapi.json: regenerate it with a newer "
            "datadivr generate"
        )
        raise typer.Exit(2) from None
    try:
        document = asyncapi_for(document, server, token=token_security)
    except ValueError as exc:
        err.print(f"[red]error:[/] --server {_escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    _write_json(document, out)


@schema_app.command("typescript", cls=HelpCommand)
def schema_typescript(
    out: OutOption = None,
    protocol: ProtocolOption = None,
) -> None:
    """Write TypeScript declarations (.d.ts) of the protocol.

    An interface per message and definition, the ClientFrame and ServerFrame unions
    discriminated by event_name, and the event table as types.
    """
    package = _load_protocol(protocol)
    try:
        text = package.PROTOCOL.typescript
    except FileNotFoundError:
        _console(stderr=True).print(
            f"[red]error:[/] {package.__name__!r} has no protocol.d.ts: regenerate it with a newer "
            "datadivr generate"
        )
        raise typer.Exit(2) from None
    _write_text(text, out)


class DiffFormat(str, Enum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


class FailOnSide(str, Enum):
    CLIENTS = "clients"
    SERVERS = "servers"
    ANY = "any"


@schema_app.command("diff", cls=HelpCommand)
def schema_diff(
    old: Annotated[
        str | None,
        typer.Argument(
            metavar="OLD",
            show_default=False,
            help="OLD: a schema folder, or a git revision of the schema folder (main, v1.2.0, "
            "HEAD~1).",
        ),
    ] = None,
    new: Annotated[
        str | None,
        typer.Argument(
            metavar="NEW",
            show_default="the schema folder",
            help="NEW: a schema folder, or a git revision of the schema folder.",
        ),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="REV",
            help="Compare the schema folder with itself at this git revision (OLD is REV).",
        ),
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option(
            envvar="DATADIVR_SCHEMA",
            file_okay=False,
            show_default="[tool.datadivr] schema",
            help="The schema folder: NEW when omitted, and the folder a revision is read from.",
        ),
    ] = None,
    output: Annotated[
        DiffFormat,
        typer.Option("--format", help="text, json, or github (workflow commands)."),
    ] = DiffFormat.TEXT,
    fail_on: Annotated[
        FailOnSide,
        typer.Option(
            "--fail-on", help="Exit 1 when a change breaks clients, servers, or any side."
        ),
    ] = FailOnSide.ANY,
    allow: Annotated[
        Path | None,
        typer.Option(
            "--allow",
            metavar="FILE",
            dir_okay=False,
            help="TOML file of accepted breaks: \\[\\[allow]] entries with change and reason.",
        ),
    ] = None,
) -> None:
    """Compare two versions of the protocol: what each change breaks, and for whom.

    OLD and NEW are schema folders, or git revisions of the schema folder, read without
    checking anything out (a folder wins over a revision of the same name). With one of them,
    or with --against REV, NEW is the schema folder as it is. A change that makes a message
    stricter breaks its senders still on OLD; one that makes it looser, its receivers. Exit
    status 0 if compatible, 1 if a change breaks a side --fail-on names, 2 if the two cannot
    be compared.
    """
    from datadivr._schema_diff import CannotCompareError, load_source, load_working
    from datadivr.compat._allow import (
        AllowEntry,
        AllowFileError,
        apply_allowances,
        read_allow_file,
    )
    from datadivr.compat._diff import diff_protocols
    from datadivr.compat._report import (
        DiffReport,
        ExitCode,
        FailOn,
        failure_document,
        workflow_command,
    )

    err = _console(stderr=True)

    def cannot_compare(text: str) -> typer.Exit:
        # Unwrapped: CI logs and scripts read the line whole.
        err.print(f"[red]error:[/] {_escape(text)}", highlight=False, soft_wrap=True)
        if output is DiffFormat.GITHUB:
            typer.echo(workflow_command("error", text, {"title": "schema diff: cannot compare"}))
        elif output is DiffFormat.JSON:
            typer.echo(json.dumps(failure_document(text), indent=2, ensure_ascii=False))
        return typer.Exit(int(ExitCode.CANNOT_COMPARE))

    if against is not None and new is not None:
        raise cannot_compare("--against REV takes at most one folder or revision (NEW)")
    if against is None and old is None:
        raise cannot_compare(
            "nothing to compare: name OLD (and NEW), or pass --against REV (e.g. --against main)"
        )
    entries: tuple[AllowEntry, ...] = ()
    if allow is not None:
        try:
            entries = read_allow_file(allow)
        except AllowFileError as exc:
            raise cannot_compare(f"allow file {exc}") from None
    try:
        folder = schema if schema is not None else _project().schema
        if against is not None:
            old_side = load_source(against, folder, revision_only=True)
            new_side = load_working(folder) if old is None else load_source(old, folder)
        else:
            assert old is not None
            old_side = load_source(old, folder)
            new_side = load_working(folder) if new is None else load_source(new, folder)
        diff = diff_protocols(old_side.bundle, new_side.bundle)
    except CannotCompareError as exc:
        raise cannot_compare(str(exc)) from None
    except ImportError as exc:  # the loader's dependencies, when they are not installed
        from datadivr_codegen import INSTALL_HINT

        raise cannot_compare(
            f"comparing schemas needs the codegen extra ({exc.name or exc}): {INSTALL_HINT}"
        ) from None
    except ValueError as exc:  # a document the engine cannot read as a protocol
        raise cannot_compare(str(exc)) from None
    allowed = apply_allowances(diff, entries)
    for entry in allowed.stale:
        stale = (
            f"allow[{entry.index}] change = {entry.change!r} matches no change (stale: remove it)"
        )
        err.print(
            f"[yellow]warning:[/] {_escape(f'{allow}: {stale}')}", highlight=False, soft_wrap=True
        )
        if output is DiffFormat.GITHUB:
            typer.echo(
                workflow_command("warning", stale, {"file": str(allow), "title": "stale allow"})
            )
    report = DiffReport(
        allowed.diff,
        FailOn(fail_on.value),
        old_side.label,
        new_side.label,
        {**old_side.files, **new_side.files},
        allowed.reasons,
    )
    if output is DiffFormat.JSON:
        typer.echo(json.dumps(report.document(), indent=2, ensure_ascii=False))
    elif output is DiffFormat.GITHUB:
        typer.echo(report.github(), nl=False)
    else:
        typer.echo(report.text(), nl=False)
    raise typer.Exit(int(report.exit_code))


def _write_json(document: Any, out: Path | None) -> None:
    """``document`` as indented JSON, to ``out`` or standard output."""
    _write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", out)


def _write_text(text: str, out: Path | None) -> None:
    """``text`` to ``out``, or to standard output."""
    if out is None:
        typer.echo(text, nl=False)
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            _console(stderr=True).print(
                f"[red]error:[/] cannot write {_escape(str(out))}: "
                f"{_escape(exc.strerror or str(exc))}",
                highlight=False,
            )
            raise typer.Exit(1) from None
        typer.echo(f"wrote {out}", err=True)


@app.command(cls=HelpCommand)
def validate(
    capture: Annotated[
        str, typer.Argument(help="A JSON Lines file of messages, one per line; - for stdin.")
    ],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table (text) or json.")
    ] = OutputFormat.TABLE,
    protocol: ProtocolOption = None,
) -> None:
    """Validate captured messages (JSON Lines) against the schema.

    One report line per violation: line number, event, JSON path, reason. Exit status 0 if all
    are valid, 1 if any is not, 2 if the capture cannot be read.
    """
    from datadivr.validation import Validator
    from datadivr.validation._capture import CaptureError, validate_capture

    validator = Validator(_load_protocol(protocol).PROTOCOL)
    fmt = "json" if output is OutputFormat.JSON else "text"
    try:
        summary = validate_capture(capture, validator, sys.stdout, fmt=fmt)
    except CaptureError as exc:
        sys.stdout.flush()
        _console(stderr=True).print(f"[red]error:[/] {_escape(str(exc))}")
        raise typer.Exit(2) from None
    raise typer.Exit(1 if summary.invalid else 0)


@app.command(cls=HelpCommand)
def proxy(
    upstream: Annotated[
        str, typer.Option(help="The server's WebSocket URL, e.g. ws://127.0.0.1:8765/ws.")
    ],
    listen: Annotated[
        str, typer.Option(help="HOST:PORT to listen on; port 0 picks a free one.")
    ] = "127.0.0.1:8766",
    enforce: Annotated[
        bool,
        typer.Option(help="Stop a client's invalid frames and answer with the server's error."),
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Also write the conformance summary to this JSON file.")
    ] = None,
    log_format: Annotated[
        LogFormat, typer.Option(help="console or json lines.")
    ] = LogFormat.CONSOLE,
    protocol: ProtocolOption = None,
) -> None:
    """Validating proxy between any WebSocket client and a datadivr server.

    Every frame is forwarded unchanged and checked against the schema and its direction;
    violations are logged, and a conformance summary is printed on exit (Ctrl-C or SIGTERM).
    """
    import asyncio

    from datadivr.validation._proxy import ValidatingProxy

    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit():
        _console(stderr=True).print(f"[red]error:[/] --listen must be HOST:PORT, got {listen!r}")
        raise typer.Exit(2)
    if report is not None and (report.is_dir() or not report.parent.is_dir()):
        # Said now, not when the session's summary is lost on exit.
        _console(stderr=True).print(
            f"[red]error:[/] --report {_escape(str(report))}: not a file in an existing folder",
            highlight=False,
        )
        raise typer.Exit(2)
    configure_logging("info", log_format)
    relay = ValidatingProxy(upstream, protocol=_load_protocol(protocol).PROTOCOL, enforce=enforce)
    try:
        asyncio.run(_run_proxy(relay, host.strip("[]"), int(port_text)))
    except OSError as exc:
        get_logger("datadivr.cli").error("cannot listen", listen=listen, error=str(exc))
        raise typer.Exit(1) from None
    typer.echo(relay.conformance.summary())
    if report is not None:
        report.write_text(
            json.dumps(relay.conformance.as_dict(), indent=2) + "\n", encoding="utf-8"
        )


async def _run_proxy(relay: Any, host: str, port: int) -> None:
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bound_host, bound_port = await relay.start(host, port)
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    get_logger("datadivr.cli").info(
        "proxy listening",
        url=f"ws://{shown}:{bound_port}/ws",
        upstream=relay.upstream,
        enforce=relay.enforce,
    )
    await stop.wait()
    await relay.stop()


def main(argv: list[str] | None = None) -> Any:
    """Run the command line."""
    return app(args=argv)
