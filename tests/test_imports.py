"""How datadivr's modules import each other: by layer, no cycle, and redis-py only when Redis
is used."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import datadivr

PACKAGE_DIR = Path(datadivr.__file__).resolve().parent


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    return ".".join(relative.parts).removesuffix(".__init__")


MODULES = {_module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, tree: ast.Module | None = None) -> set[str]:
    """The ``datadivr`` modules that ``name`` imports: anywhere in it, in functions too
    (run later, they still need the other module to be importable without this one),
    but not under ``if TYPE_CHECKING:`` (never run)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    if tree is None:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(_without_type_checking(tree)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:  # a submodule: from datadivr import _redis
                    found.add(f"{base}.{alias.name}")
                elif base in MODULES:
                    found.add(base)
    return found


def _without_type_checking(tree: ast.Module) -> ast.Module:
    class Strip(ast.NodeTransformer):
        def visit_If(self, node: ast.If) -> ast.AST | list[ast.stmt]:
            if _is_type_checking(node.test):
                return [self.visit(stmt) for stmt in node.orelse]
            return self.generic_visit(node)

    stripped = Strip().visit(tree)
    assert isinstance(stripped, ast.Module)
    return stripped


def test_the_modules_import_each_other_without_a_cycle() -> None:
    """Each edge is an explicit import; the implicit one of a submodule on its package (a
    package's ``__init__`` re-exports its submodules) is not counted."""
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert graph["datadivr.broker._redis"] >= {
        "datadivr.broker._backplane"
    }  # the parsing sees imports
    assert "datadivr.broker._redis" in graph["datadivr.broker"]  # … function-local ones too
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        raise AssertionError(f"an import cycle: {' -> '.join(cycle.args[1])}") from None


#: What each part of datadivr may import of datadivr: a subsystem (a subpackage) or a top-level
#: module, and the parts it may import. Read bottom-up, it is the layering; it has no cycle.
ALLOWED: dict[str, set[str]] = {
    "exceptions": set(),
    "_logging": set(),
    # Schema evolution: the diff of two bundled protocols, and their fingerprints (no I/O).
    "compat": set(),
    # The protocol core, without I/O (and the generator's vocabulary, datadivr_codegen.terms);
    # a protocol generated before the fingerprint was recorded computes it with compat.
    "core": {"exceptions", "_logging", "compat"},
    "client": {"core", "compat", "exceptions", "_logging"},
    "broker": {"core", "exceptions", "_logging"},
    # The reference validator checks against the demo protocol when given none.
    "validation": {"core", "exceptions", "_logging", "demo"},
    # The contract generated code imports: the core's names and the client's base.
    "runtime": {"core", "client", "exceptions"},
    # Generated: it imports the runtime contract alone.
    "demo": {"runtime"},
    # Builds a protocol's ``error`` message: the demo's by default.
    "_error_message": {"core", "exceptions", "demo"},
    # ``datadivr client``'s terminal console: the demo's generated client by default.
    "_console": {"client", "core", "demo", "exceptions", "_logging"},
    # POST /validate answers with the reference validator; the built-in handlers and the
    # default protocol are the generated ones.
    "server": {"core", "broker", "validation", "demo", "exceptions", "_logging"},
    # ``datadivr init``: the starter files, with the project's names.
    "_starter": set(),
    # typer's rich help pages, imported without the renderers they never use.
    "_rich_help": set(),
    # ``datadivr schema diff``'s sides: schema folders, and git revisions of one.
    "_schema_diff": set(),
    "cli": {
        "_starter",
        "_schema_diff",
        "compat",
        "_rich_help",
        "core",
        "server",
        "client",
        "broker",
        "validation",
        "demo",
        "exceptions",
        "_logging",
        "_console",
    },
    # The script: a no-op ``generate --check`` answered from its stamp, else the command line.
    "_entry": {"cli"},
    "__main__": {"_entry"},
    "datadivr": {
        "core",
        "server",
        "client",
        "broker",
        "validation",
        "runtime",
        "exceptions",
        "_logging",
        "_error_message",
    },
}


def _part(module: str) -> str:
    """The subsystem or top-level module ``module`` belongs to."""
    parts = module.split(".")
    return "datadivr" if parts == ["datadivr"] else parts[1]


def test_the_layering_has_no_cycle() -> None:
    assert set(ALLOWED) == {_part(name) for name in MODULES}
    graph = {part: allowed - {part} for part, allowed in ALLOWED.items()}
    assert all(allowed <= set(ALLOWED) for allowed in graph.values())
    list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError


def test_each_import_follows_the_layering() -> None:
    wrong = sorted(
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        for imported in _imports(name, path)
        if _part(imported) not in ALLOWED[_part(name)] | {_part(name)}
    )
    assert wrong == []


def test_the_backplane_interface_knows_none_of_its_implementations() -> None:
    assert _imports("datadivr.broker._backplane", MODULES["datadivr.broker._backplane"]) <= {
        "datadivr.core._route"
    }


def _run_without_redis(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where ``import redis`` fails, as without redis-py."""
    blocked = "import sys\nsys.modules['redis'] = None\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_broker_module_works_without_redis_py() -> None:
    result = _run_without_redis(
        """
        from datadivr.broker import Backplane, ClusterNode, MemoryBackplane, backplane_for
        import datadivr
        from datadivr import create_app

        assert isinstance(backplane_for("memory://"), MemoryBackplane)
        create_app(broker="memory://")
        assert "datadivr.broker._redis" not in sys.modules
        print("ok")
        """
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


def test_naming_redis_without_redis_py_says_what_to_install() -> None:
    result = _run_without_redis(
        """
        import datadivr.broker
        from datadivr.broker import backplane_for

        for attempt in (
            lambda: datadivr.broker.RedisBackplane,
            lambda: datadivr.broker.DEFAULT_PRESENCE_TTL,
            lambda: backplane_for("redis://127.0.0.1:1/0"),
        ):
            try:
                attempt()
            except ImportError as exc:
                print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.splitlines()
        == ["the Redis broker needs redis-py: pip install 'datadivr[redis]'"] * 3
    )


def test_the_broker_module_names_redis_lazily() -> None:
    import datadivr.broker
    import datadivr.broker._redis

    assert datadivr.broker.RedisBackplane is datadivr.broker._redis.RedisBackplane
    assert datadivr.broker.DEFAULT_PRESENCE_TTL == datadivr.broker._redis.DEFAULT_PRESENCE_TTL
    assert {"RedisBackplane", "backplane_for"} <= set(dir(datadivr.broker))
    assert all(hasattr(datadivr.broker, name) for name in datadivr.broker.__all__)
    with pytest.raises(AttributeError, match="Nonesuch"):
        datadivr.broker.Nonesuch  # noqa: B018


#: What a program that only uses the client, the core or the command line's help must not
#: import: the server's stack, the reference validator, the generator.
SERVER_AND_TOOLS = ("fastapi", "uvicorn", "starlette", "jsonschema", "datamodel_code_generator")


def _imported_after(code: str) -> list[str]:
    """Which of :data:`SERVER_AND_TOOLS` a fresh interpreter has imported after ``code``."""
    check = f"{textwrap.dedent(code)}\nimport sys\nprint(*sorted(m for m in {SERVER_AND_TOOLS!r} if m in sys.modules))\n"
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize(
    "code",
    [
        "import datadivr",
        "import datadivr.core",
        "import datadivr.cli",
        "from datadivr import BaseClient, Limits, MessageValidationError, Registry, runtime",
        "from datadivr.client import BaseClient",
        "import datadivr.demo\ndatadivr.demo.Client('ws://127.0.0.1:1/ws')",
    ],
    ids=["datadivr", "core", "cli", "client-names", "client", "demo-client"],
)
def test_a_client_imports_no_server_and_no_tools(code: str) -> None:
    assert _imported_after(code) == []


def test_a_server_name_is_imported_when_first_used() -> None:
    assert _imported_after("from datadivr import create_app") != []


def test_the_command_line_help_imports_no_library_of_a_command() -> None:
    """``datadivr --help`` (a user's first command, and any pre-commit hook's cost) imports the
    command line's own libraries (typer, rich) and none that a command uses."""
    code = textwrap.dedent(
        """
        import runpy, sys
        sys.argv = ["datadivr", "--help"]
        try:
            runpy.run_module("datadivr", run_name="__main__", alter_sys=True)
        except SystemExit:
            pass
        heavy = (*SERVER_AND_TOOLS, "jinja2", "pydantic", "structlog", "websockets")
        print(*sorted(name for name in heavy if name in sys.modules), file=sys.stderr)
        """
    ).replace("SERVER_AND_TOOLS", repr(SERVER_AND_TOOLS))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: " in result.stdout
    assert result.stderr.strip() == ""
