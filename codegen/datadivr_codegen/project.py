"""A project's datadivr settings: the ``[tool.datadivr]`` table of its ``pyproject.toml``.

The table is looked for in the ``pyproject.toml`` nearest to the current folder (walking up, as
ruff and black do); its paths are relative to that file's folder::

    [tool.datadivr]
    schema = "schema"              # the folder of JSON Schema files
    out = "src/game_protocol"      # the generated package's folder
    protocol = "game_protocol"     # its import name; the name of `out` when omitted
    import = ["game_server"]       # modules `datadivr serve` imports first

Command-line options and environment variables override the table. This module needs the
standard library alone (``tomli`` on Python 3.10), and lives here for the reason
:mod:`datadivr_codegen.terms` does: ``python -m datadivr_codegen`` reads it without importing
:mod:`datadivr`, and the ``datadivr`` command line reads it before it imports anything heavy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "DEMO_PROTOCOL",
    "KEYS",
    "PYPROJECT",
    "ConfigError",
    "NotConfiguredError",
    "ProjectConfig",
    "find_pyproject",
    "folders",
    "load_config",
    "protocol_name",
    "read_config",
    "regenerate_command",
    "shown_path",
]

#: The file the settings live in.
PYPROJECT = "pyproject.toml"
#: The protocol the commands use when nothing names one.
DEMO_PROTOCOL = "datadivr.demo"
#: Every key of ``[tool.datadivr]``, with what it holds.
KEYS: Mapping[str, str] = {
    "schema": "the folder of JSON Schema files (a string)",
    "out": "the generated package's folder (a string)",
    "protocol": "the generated package's import name (a string)",
    "import": "modules `datadivr serve` imports first (a list of strings)",
}


class ConfigError(ValueError):
    """The ``[tool.datadivr]`` table (or the file holding it) cannot be used.

    Attributes:
        file: The ``pyproject.toml`` at fault.
        key: The key at fault, when there is one.
    """

    def __init__(self, file: Path, message: str, key: str | None = None) -> None:
        where = f"{file}: [tool.datadivr]" + (f" {key}" if key else "")
        super().__init__(f"{where}: {message}")
        self.file = file
        self.key = key


@dataclass(frozen=True)
class ProjectConfig:
    """The settings of one project; every path absolute.

    Attributes:
        file: The ``pyproject.toml`` holding the table, or None when there is none.
        schema: The schema folder, when configured.
        out: The generated package's folder, when configured.
        protocol: The package's import name: ``protocol``, else the name of ``out``.
        imports: Modules to import before serving.
    """

    file: Path | None = None
    schema: Path | None = None
    out: Path | None = None
    protocol: str | None = None
    imports: tuple[str, ...] = field(default=())

    @property
    def root(self) -> Path | None:
        """The project's folder: where its ``pyproject.toml`` is."""
        return None if self.file is None else self.file.parent

    def import_paths(self, cwd: Path | None = None) -> list[Path]:
        """The folders a protocol package or a module to import may be found in, in order:
        the current folder and its ``src/``, the project's folder and its ``src/``, and the
        folder holding the package generated into ``out``."""
        here = Path.cwd() if cwd is None else cwd
        candidates = [here, here / "src"]
        if self.root is not None:
            candidates += [self.root, self.root / "src"]
        if self.out is not None and self.protocol is not None:
            # The folder holding the top package of ``protocol``: ``src/`` for src/datadivr/demo.
            depth = self.protocol.count(".")
            if depth < len(self.out.parents):
                candidates.append(self.out.parents[depth])
        seen: list[Path] = []
        for path in candidates:
            resolved = path.resolve()
            if resolved.is_dir() and resolved not in seen:
                seen.append(resolved)
        return seen

    def add_import_paths(self, cwd: Path | None = None) -> None:
        """Put :meth:`import_paths` on ``sys.path`` (after what is there: an installed
        package of the same name wins, as it would for any other import)."""
        for path in self.import_paths(cwd):
            if str(path) not in sys.path:
                sys.path.append(str(path))


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` (the current folder by default) or above."""
    folder = (Path.cwd() if start is None else Path(start)).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / PYPROJECT
        if path.is_file():
            return path
    return None


def load_config(start: Path | None = None) -> ProjectConfig:
    """The settings of the project ``start`` (the current folder by default) is in.

    An empty :class:`ProjectConfig` when no ``pyproject.toml`` is found, or it has no
    ``[tool.datadivr]`` table.

    Raises:
        ConfigError: the file is not valid TOML, or the table has an unknown key or a value
            of the wrong type.
    """
    path = find_pyproject(start)
    if path is None:
        return ProjectConfig()
    return read_config(path)


def read_config(path: Path) -> ProjectConfig:
    """The settings in the ``pyproject.toml`` at ``path`` (see :func:`load_config`)."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror or exc}") from None
    table = document.get("tool", {}).get("datadivr")
    if table is None:
        return ProjectConfig()
    if not isinstance(table, dict):
        raise ConfigError(path, "must be a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        known = "; ".join(f"{key}: {text}" for key, text in KEYS.items())
        raise ConfigError(path, f"unknown key (known keys: {known})", ", ".join(unknown))
    root = path.parent
    schema = _path(path, table, "schema")
    out = _path(path, table, "out")
    protocol = table.get("protocol")
    if protocol is not None and not _is_module_name(protocol):
        raise ConfigError(
            path, f"must be an importable name like 'game_protocol', got {protocol!r}", "protocol"
        )
    imports = table.get("import", [])
    if not isinstance(imports, list) or not all(_is_module_name(name) for name in imports):
        raise ConfigError(
            path, f"must be a list of module names like ['game_server'], got {imports!r}", "import"
        )
    if protocol is None and out is not None:
        protocol = protocol_name(root / out)
        if not _is_module_name(protocol):
            raise ConfigError(
                path,
                f"{protocol!r} (the package name of this folder) is not an importable name: "
                "rename the folder, or set `protocol`",
                "out",
            )
    return ProjectConfig(
        file=path,
        schema=None if schema is None else root / schema,
        out=None if out is None else root / out,
        protocol=protocol,
        imports=tuple(imports),
    )


class NotConfiguredError(ValueError):
    """Nothing names the schema folder or the package folder: no option, no setting."""


def folders(schema: Path | None, out: Path | None, config: ProjectConfig) -> tuple[Path, Path]:
    """The schema folder and the package folder to generate: the options', else the
    configured ones (relative to the current folder when inside it).

    Raises:
        NotConfiguredError: neither names one of them. The message says what to do.
    """
    # A configured folder is shown relative to the current folder; an option's, as typed.
    if schema is None and config.schema is not None:
        schema = shown_path(config.schema)
    if out is None and config.out is not None:
        out = shown_path(config.out)
    if schema is not None and out is not None:
        return schema, out
    missing = " and ".join(
        f"no --{name} (or [tool.datadivr] {name})"
        for name, value in (("schema", schema), ("out", out))
        if value is None
    )
    found = find_pyproject()
    where = (
        f"{found} has no [tool.datadivr] table"
        if config.file is None and found is not None
        else "no pyproject.toml with a [tool.datadivr] table here or above"
        if config.file is None
        else f"{config.file}"
    )
    raise NotConfiguredError(
        f"nothing to generate: {missing} ({where}). Run `datadivr init` to start a protocol "
        "project here, or add to pyproject.toml:\n\n"
        '[tool.datadivr]\nschema = "schema"\nout = "src/my_protocol"\n\n'
        "or pass --schema DIR --out DIR."
    )


def _path(file: Path, table: Mapping[str, Any], key: str) -> Path | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(file, f"must be a folder path (a string), got {value!r}", key)
    return Path(value)


def _is_module_name(value: object) -> bool:
    return isinstance(value, str) and all(part.isidentifier() for part in value.split("."))


def protocol_name(out: Path) -> str:
    """The import name of the package generated into ``out``: its folder's name
    (``src/game_protocol`` → ``game_protocol``), under the names of the packages holding it
    (``src/datadivr/demo`` → ``datadivr.demo``, as ``src/datadivr/`` has an ``__init__.py``)."""
    out = Path(out)
    names = [out.name]
    parent = out.parent
    while (parent / "__init__.py").is_file() and parent.name:
        names.insert(0, parent.name)
        parent = parent.parent
    return ".".join(names)


def regenerate_command(schema: Path, out: Path, *, cwd: Path | None = None) -> str:
    """The command that regenerates ``out`` from ``schema``, run from ``cwd``.

    ``datadivr generate`` when the project's ``[tool.datadivr]`` names these two folders;
    otherwise with ``--schema`` and ``--out``, relative to ``cwd`` when inside it. With no ``cwd``, the
    command is for the project's folder (found from ``out``; the folder holding both when
    there is no ``pyproject.toml``), so that it is the same from wherever it is computed: what
    the generated files' headers say.
    """
    schema, out = Path(schema).resolve(), Path(out).resolve()
    try:
        config = load_config(out if cwd is None else cwd)
    except ConfigError:
        config = ProjectConfig()
    if (
        config.schema is not None
        and config.out is not None
        and config.schema.resolve() == schema
        and config.out.resolve() == out
    ):
        return "datadivr generate"
    if cwd is None:
        if config.root is not None:
            base = config.root.resolve()
        else:
            found = find_pyproject(out)
            base = (
                found.parent.resolve()
                if found is not None
                else Path(os.path.commonpath([schema, out]))
            )
        return f"datadivr generate --schema {_relative(schema, base)} --out {_relative(out, base)}"
    here = cwd.resolve()
    return f"datadivr generate --schema {_argument(schema, here)} --out {_argument(out, here)}"


def shown_path(path: Path, cwd: Path | None = None) -> Path:
    """``path`` relative to ``cwd`` (the current folder) when it is inside it, else as it is:
    how the commands print a configured (absolute) folder."""
    here = (Path.cwd() if cwd is None else cwd).resolve()
    try:
        return Path(path).resolve().relative_to(here)
    except ValueError:
        return Path(path)


def _argument(path: Path, cwd: Path) -> str:
    """``path`` as an option's value typed in ``cwd``: relative when inside it."""
    try:
        return path.relative_to(cwd).as_posix() or "."
    except ValueError:
        return str(path)


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()
