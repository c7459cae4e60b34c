"""MkDocs hook: the reference pages, generated at every build so that they cannot drift.

- ``reference/cli.md``: typer's own Markdown for the ``datadivr`` command line
  (``typer datadivr.cli utils docs``), from the app the console script runs.
- ``reference/api/*.md``: one mkdocstrings block per name of ``datadivr.__all__``, grouped by
  the module that defines it. A public name from a module no page claims fails the build.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import griffe
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.reference")

ROOT = Path(__file__).resolve().parents[2]
SEARCH_PATHS = [str(ROOT / "src"), str(ROOT / "codegen")]


@dataclass(frozen=True)
class Page:
    """An API reference page: the modules whose public names it shows, in this order."""

    slug: str
    title: str
    intro: str
    modules: tuple[str, ...]


API_PAGES = (
    Page(
        "server",
        "Server",
        "The FastAPI application, running it under uvicorn, its limits and access control.",
        (
            "datadivr.server._server",
            "datadivr.server._app",
            "datadivr.server._uvicorn",
            "datadivr.core._limits",
            "datadivr.server._auth",
        ),
    ),
    Page(
        "client",
        "Client",
        "The generated, typed `Client` and the runtime it subclasses.",
        (
            "datadivr.demo.client",
            "datadivr.client._client",
            "datadivr.client._session",
            "datadivr.client._reconnect",
        ),
    ),
    Page(
        "handlers",
        "Handlers",
        "Registering handlers: the generated, typed `websocket_handler` and handler types, "
        "the registry under them, and the lifecycle hooks.",
        ("datadivr.demo.handlers", "datadivr.core._registry", "datadivr.core._lifecycle"),
    ),
    Page(
        "messages",
        "Messages",
        "The generated message and payload models, the protocol's events, and the bases "
        "they are built on.",
        (
            "datadivr.demo",
            "datadivr.demo.events",
            "datadivr.demo.models",
            "datadivr.core._message",
            "datadivr.core._protocol",
            "datadivr_codegen.terms",
            "datadivr._error_message",
        ),
    ),
    Page(
        "core",
        "Protocol core",
        "Parsing, validating and routing messages, without any I/O: the server and the "
        "client are adapters around it.",
        ("datadivr.core._hub", "datadivr.core._route"),
    ),
    Page(
        "scaling",
        "Scaling out",
        "The backplane that joins the nodes of a cluster: in memory on one node, Redis "
        "across processes and hosts.",
        ("datadivr.broker._backplane", "datadivr.broker"),
    ),
    Page(
        "runtime",
        "Runtime contract",
        "The one module generated code imports, and the check of the version a generated "
        "package was made for.",
        ("datadivr.runtime",),
    ),
    Page(
        "errors",
        "Errors",
        "Every error datadivr raises.",
        ("datadivr.exceptions", "datadivr_codegen.errors"),
    ),
)


def cli_markdown() -> str:
    """The command line's reference, from typer's documentation generator."""
    result = subprocess.run(
        [sys.executable, "-m", "typer", "datadivr.cli", "utils", "docs", "--name", "datadivr"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1", "TERM": "dumb"},
    )
    if result.returncode != 0:
        raise PluginError(f"typer could not document the command line:\n{result.stderr}")
    body = result.stdout
    # typer writes `# datadivr` and a `##` per command: one level down, under the page title.
    body = re.sub(r"^(#+) ", r"#\1 ", body, flags=re.MULTILINE)
    return (
        "# Command line\n\n"
        "Every command and option of `datadivr`, generated from the command line itself at "
        "each build of this site. `datadivr COMMAND --help` prints the same.\n\n" + body
    )


@dataclass(frozen=True)
class Name:
    """A public name, and whether it names a module."""

    name: str
    is_module: bool


def public_names() -> dict[str, list[Name]]:
    """``datadivr.__all__``, by the module that defines each name, in source order."""
    import datadivr

    loader = griffe.GriffeLoader(search_paths=SEARCH_PATHS)
    package = loader.load("datadivr")
    loader.load("datadivr_codegen")
    loader.resolve_aliases(implicit=False, external=False)
    found: dict[str, list[tuple[int, Name]]] = {}
    for name in datadivr.__all__:
        member = package.members[name]
        target = member.final_target if isinstance(member, griffe.Alias) else member
        # A public module is shown among the names of its own path.
        module = target.path if target.is_module else target.module.path
        found.setdefault(module, []).append((target.lineno or 0, Name(name, target.is_module)))
    return {
        module: [name for _, name in sorted(items, key=lambda item: item[0])]
        for module, items in found.items()
    }


def api_pages() -> dict[str, str]:
    """The API reference pages by path: an index and one page per :data:`API_PAGES` entry."""
    names = public_names()
    claimed = {module for page in API_PAGES for module in page.modules}
    unclaimed = sorted(set(names) - claimed)
    if unclaimed:
        listed = ", ".join(
            f"{module} ({', '.join(name.name for name in names[module])})" for module in unclaimed
        )
        raise PluginError(
            f"public names from modules no API reference page shows: {listed}; "
            "add each module to a page in docs/_hooks/reference.py"
        )
    pages: dict[str, str] = {}
    index = [
        "# API reference\n",
        "Everything below is importable from `datadivr` itself (`from datadivr import …`); "
        "the page a name is on follows the module that defines it. The generated names come "
        "from `schema/` and change with it.\n",
        "| page | names |",
        "| ---- | ----- |",
    ]
    for page in API_PAGES:
        lines = [f"# {page.title}\n", page.intro + "\n"]
        shown: list[str] = []
        for module in page.modules:
            for name in names.get(module, []):
                # A public module is its docstring: its names have blocks of their own.
                options = "\n    options:\n      members: false" if name.is_module else ""
                lines.append(f"::: datadivr.{name.name}{options}\n")
                shown.append(name.name)
        pages[f"reference/api/{page.slug}.md"] = "\n".join(lines)
        listed = ", ".join(f"[`{name}`]({page.slug}.md#datadivr.{name})" for name in shown)
        index.append(f"| [{page.title}]({page.slug}.md) | {listed} |")
    pages["reference/api/index.md"] = "\n".join(index) + "\n"
    return pages


def on_files(files: Files, config: MkDocsConfig) -> Files:
    generated = {"reference/cli.md": cli_markdown(), **api_pages()}
    for path, content in generated.items():
        if files.get_file_from_path(path) is not None:
            raise PluginError(f"docs/{path} is generated at build time: remove the file")
        files.append(File.generated(config, path, content=content))
    log.debug("generated %d reference pages", len(generated))
    return files
