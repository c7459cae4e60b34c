"""The sides of ``datadivr schema diff``: a schema folder, or a git revision of one.

A revision is read without checking anything out: ``git ls-tree`` lists the folder's files at
the revision, ``git cat-file --batch`` hands over their bytes, and they are written to a
temporary folder that :func:`~datadivr_codegen.schema.load_schema_folder` reads. The working
tree, the index and ``HEAD`` are left as they were.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from datadivr_codegen.project import shown_path

__all__ = ["CannotCompareError", "Source", "load_source", "load_working", "read_revision"]

#: The schema file of the envelope, wherever it is in the folder.
_ENVELOPE_FILE = "envelope.schema.json"


class CannotCompareError(Exception):
    """A side of the diff cannot be read (exit status 2); the message says which and why."""


@dataclass(frozen=True)
class Source:
    """One side of the diff, loaded.

    Attributes:
        label: What it is, as shown (``schema``, ``schema at origin/main``).
        bundle: The bundled protocol (``schema.json``'s document).
        files: The schema file of each event (``None``: the envelope), as shown.
    """

    label: str
    bundle: dict[str, Any]
    files: dict[str | None, str] = field(default_factory=dict)


def load_source(spec: str, schema: Path | None, *, revision_only: bool = False) -> Source:
    """The side ``spec`` names: a schema folder, else a git revision of ``schema``.

    A folder of that name wins over a revision of the same name, unless ``revision_only``.

    Raises:
        CannotCompareError: it is neither, or cannot be read or loaded.
    """
    if not revision_only and Path(spec).is_dir():
        folder = Path(spec)
        return _load(folder, str(folder), folder, None)
    if schema is None:
        raise CannotCompareError(
            f"{spec!r} is not a folder, and no schema folder is configured to read it as a git "
            "revision of: pass --schema DIR or set [tool.datadivr] schema"
        )
    with tempfile.TemporaryDirectory(prefix="datadivr-diff-") as tmp:
        where = read_revision(schema, spec, Path(tmp))
        return _load(Path(tmp), f"{shown_path(schema)} at {spec}", schema, where)


def load_working(schema: Path | None) -> Source:
    """The configured schema folder, as it is in the working tree.

    Raises:
        CannotCompareError: there is none, or it cannot be loaded.
    """
    if schema is None:
        raise CannotCompareError(
            "no schema folder to compare: pass --schema DIR or set [tool.datadivr] schema"
        )
    if not schema.is_dir():
        raise CannotCompareError(f"{schema}: the schema folder is not a directory")
    return _load(schema, str(shown_path(schema)), schema, None)


def _load(folder: Path, label: str, shown: Path, revision: str | None) -> Source:
    """Load and bundle ``folder``; files are named under ``shown`` (the folder in the working
    tree), and errors in a revision's files as ``REV:path``."""
    from datadivr_codegen.bundle import protocol_bundle
    from datadivr_codegen.errors import SchemaError
    from datadivr_codegen.schema import load_schema_folder

    try:
        schemas = load_schema_folder(folder)
        bundle = protocol_bundle(schemas)
    except SchemaError as exc:
        text = str(exc)
        if revision is not None:
            text = text.replace(str(folder) + os.sep, revision + "/").replace(str(folder), revision)
        raise CannotCompareError(f"{label}: schema error: {text}") from None
    base = shown_path(shown)
    files: dict[str | None, str] = {
        event.name: (base / event.file).as_posix() for event in schemas.events
    }
    envelopes = sorted(folder.rglob(_ENVELOPE_FILE))
    if len(envelopes) == 1:
        files[None] = (base / envelopes[0].relative_to(folder)).as_posix()
    return Source(label, bundle, files)


def _git(args: list[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    """Run git; its output, or :class:`CannotCompareError` with what it said."""
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except FileNotFoundError:
        raise CannotCompareError(
            "git is not installed (or not on PATH): a revision cannot be read without it"
        ) from None
    except OSError as exc:
        raise CannotCompareError(f"cannot run git: {exc.strerror or exc}") from None
    if result.returncode != 0:
        said = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _GitFailed(said[-1] if said else f"git {args[0]} failed ({result.returncode})")
    return result.stdout


class _GitFailed(CannotCompareError):
    pass


def _existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def read_revision(folder: Path, revision: str, into: Path) -> str:
    """Write the ``*.json`` files of ``folder`` as they are at ``revision`` into ``into``.

    ``folder`` is a path in the working tree (it need not exist there any more); its path
    in the repository is taken relative to ``git rev-parse --show-toplevel``.

    Returns:
        ``REV:path/in/repo``, how the files of the revision are named in messages.

    Raises:
        CannotCompareError: no git, no repository, an unknown revision, or no such folder at it.
    """
    folder = Path(os.path.abspath(folder))
    cwd = _existing(folder)
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], cwd).decode().strip())
    except _GitFailed as exc:
        raise CannotCompareError(
            f"{revision!r} is not a folder, and {shown_path(folder)} is not in a git "
            f"repository to read it as a revision of ({exc})"
        ) from None
    try:
        inside = PurePosixPath(folder.resolve().relative_to(top.resolve()).as_posix())
    except ValueError:
        raise CannotCompareError(f"{folder} is not inside the repository at {top}") from None
    if revision.startswith("-"):
        raise CannotCompareError(f"{revision!r} is not a revision")
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], top)
    except _GitFailed:
        raise CannotCompareError(
            f"{revision!r} is neither a folder nor a known git revision (commit, branch or tag)"
        ) from None
    sha = commit.decode().strip()
    where = f"{revision}:{inside}" if str(inside) != "." else f"{revision}:"
    spec = f"{sha}:{inside}" if str(inside) != "." else sha
    try:
        kind = _git(["cat-file", "-t", spec], top).decode().strip()
    except _GitFailed:
        kind = ""
    if kind != "tree":
        raise CannotCompareError(f"{where}: the schema folder does not exist at {revision!r}")
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", spec], top)
    blobs: list[tuple[str, str]] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, kind, object_id = meta.decode().split()
        path = name.decode("utf-8", "surrogateescape")
        # Regular files only: a symlink or a submodule is no schema the folder holds.
        if kind == "blob" and mode in ("100644", "100755") and path.endswith(".json"):
            blobs.append((path, object_id))
    if not blobs:
        return where
    contents = _git(["cat-file", "--batch"], top, "".join(f"{o}\n" for _, o in blobs).encode())
    offset = 0
    for path, object_id in blobs:
        end = contents.index(b"\n", offset)
        header = contents[offset:end].split()
        if len(header) != 3 or header[0].decode() != object_id:
            raise CannotCompareError(f"{where}: git cat-file answered {header!r} for {path}")
        size = int(header[2])
        data = contents[end + 1 : end + 1 + size]
        offset = end + 1 + size + 1
        target = into.joinpath(*PurePosixPath(path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return where
