"""The public surface of ``datadivr``: ``__all__``, re-exports, ``py.typed``, exceptions."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

import datadivr
import datadivr.core._protocol
import datadivr_codegen.errors
import datadivr_codegen.terms
from datadivr import exceptions

PACKAGE_DIR = Path(datadivr.__file__).resolve().parent

#: Names in a re-exported module's ``__all__`` that ``datadivr`` deliberately does not export:
#: plumbing that only generated code imports (``from datadivr.runtime import present`` …).
GENERATED_CODE_PLUMBING = {
    "datadivr.client._client": {"present"},
    "datadivr.core._registry": {"not_implemented", "register_handler"},
}

#: The subsystems: each a package whose ``__init__`` re-exports its public names.
SUBPACKAGES = (
    "datadivr.broker",
    "datadivr.client",
    "datadivr.compat",
    "datadivr.core",
    "datadivr.server",
    "datadivr.validation",
)

#: Names a subsystem's ``__init__`` defines itself (or, for Redis, imports when first named).
#: ``datadivr`` re-exports none of them: naming ``RedisBackplane`` would import redis-py.
OWN_NAMES = {
    "datadivr.broker": {"DEFAULT_PRESENCE_TTL", "RedisBackplane", "backplane_for"},
    "datadivr.validation": {"Report", "Validator"},
}


def _not_reexported(name: str) -> set[str]:
    """What ``name`` declares public that the package importing from it does not export."""
    return GENERATED_CODE_PLUMBING.get(name, set()) | OWN_NAMES.get(name, set())


def _init_imports(package: str = "datadivr") -> tuple[dict[str, set[str]], set[str]]:
    """What ``package``'s ``__init__.py`` imports: the names it takes from each ``datadivr.*``
    module (``*`` for a star import), and the submodules it imports as names."""
    init = PACKAGE_DIR.parent.joinpath(*package.split("."), "__init__.py")
    tree = ast.parse(init.read_text(encoding="utf-8"))
    from_modules: dict[str, set[str]] = {}
    submodules: set[str] = set()
    for node in _body_with_type_checking(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
            continue
        if node.module == package:
            submodules.update(alias.name for alias in node.names)
        elif node.module.startswith("datadivr."):
            from_modules.setdefault(node.module, set()).update(a.name for a in node.names)
    return from_modules, submodules


def _body_with_type_checking(tree: ast.Module) -> list[ast.stmt]:
    """The module's top-level statements, those under ``if TYPE_CHECKING:`` too: a package
    that imports its names when first used (PEP 562) states them there for type checkers."""
    body: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            body.extend(node.body)
        else:
            body.append(node)
    return body


def _reexported_modules() -> list[str]:
    return sorted(_init_imports()[0])


def _face_imports(sub: str) -> dict[str, set[str]]:
    """What a subsystem's ``__init__.py`` takes from its own private modules (what it imports
    from other subsystems for its own use is not re-exported)."""
    return {m: names for m, names in _init_imports(sub)[0].items() if m.startswith(f"{sub}.")}


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    return ".".join(relative.parts).removesuffix(".__init__")


#: ``datadivr/**/_*.py`` (not ``__init__``/``__main__``), ``datadivr/demo/*.py`` and the
#: subsystems' ``__init__``.
MODULES_WITH_ALL = sorted(
    [
        *(_module_name(p) for p in PACKAGE_DIR.rglob("_*.py") if not p.name.startswith("__")),
        *(_module_name(p) for p in (PACKAGE_DIR / "demo").glob("*.py")),
        *SUBPACKAGES,
        "datadivr.exceptions",
        "datadivr.runtime",
    ]
)


# -- __all__ -------------------------------------------------------------------------------


def test_all_has_no_duplicates() -> None:
    duplicates = sorted({name for name in datadivr.__all__ if datadivr.__all__.count(name) > 1})
    assert duplicates == []


def test_every_name_in_all_exists() -> None:
    missing = sorted(name for name in datadivr.__all__ if not hasattr(datadivr, name))
    assert missing == []


def test_reexported_modules_are_found() -> None:
    """Guards the parsing of ``__init__.py`` the tests below rely on."""
    from_modules, submodules = _init_imports()
    assert set(from_modules) == {
        "datadivr._error_message",
        "datadivr.broker",
        "datadivr.client",
        "datadivr.core",
        "datadivr.exceptions",
        "datadivr.server",
    }
    assert submodules == {"exceptions", "runtime"}


def test_all_is_the_union_of_the_reexported_modules_all() -> None:
    """``datadivr.__all__`` is exactly what its modules declare public, nothing more or less:
    a name added to a module's ``__all__`` must be re-exported (or listed as plumbing)."""
    from_modules, submodules = _init_imports()
    expected = set(submodules)
    for name in from_modules:
        declared = set(importlib.import_module(name).__all__)
        plumbing = _not_reexported(name)
        assert plumbing <= declared, f"{name}: stale plumbing entry {plumbing - declared}"
        expected |= declared - plumbing
    assert sorted(set(datadivr.__all__) - expected) == [], "exported but declared nowhere"
    assert sorted(expected - set(datadivr.__all__)) == [], "declared public but not exported"


def test_explicit_imports_are_exported() -> None:
    """Every name ``__init__.py`` imports by name is in ``__all__`` (none imported unused)."""
    from_modules, submodules = _init_imports()
    imported = set(submodules).union(*(n for n in from_modules.values() if "*" not in n))
    assert sorted(imported - set(datadivr.__all__)) == []


def test_plumbing_stays_private() -> None:
    for names in GENERATED_CODE_PLUMBING.values():
        assert names.isdisjoint(datadivr.__all__)


@pytest.mark.parametrize("name", sorted(_reexported_modules()))
def test_reexports_are_the_modules_own_objects(name: str) -> None:
    """No star import shadows another module's name: each export is its module's object."""
    module = importlib.import_module(name)
    for exported in set(module.__all__) - _not_reexported(name):
        assert getattr(datadivr, exported) is getattr(module, exported), exported


def test_reexported_modules_do_not_overlap() -> None:
    seen: dict[str, str] = {}
    for name in sorted(_reexported_modules()):
        for exported in importlib.import_module(name).__all__:
            assert exported not in seen, f"{exported!r} in both {seen[exported]} and {name}"
            seen[exported] = name


def test_the_demo_protocol_stays_out_of_the_namespace() -> None:
    """The top level works with any protocol: none of the demo's names is re-exported."""
    import datadivr.demo

    assert set(datadivr.demo.__all__).isdisjoint(datadivr.__all__)
    assert not hasattr(datadivr, "websocket_handler")
    assert not hasattr(datadivr, "SumEventMessage")


def test_version_matches_the_distribution() -> None:
    from importlib.metadata import version

    assert datadivr.__version__ == version("datadivr")


# -- the modules' own __all__ ----------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES_WITH_ALL)
def test_module_declares_all(name: str) -> None:
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    assert isinstance(declared, list), f"{name} has no __all__ list"
    assert len(declared) == len(set(declared)), f"{name}.__all__ has duplicates"
    missing = sorted(entry for entry in declared if not hasattr(module, entry))
    assert missing == [], f"{name}.__all__ names what it does not define"


def test_modules_with_all_were_found() -> None:
    assert "datadivr.client._client" in MODULES_WITH_ALL
    assert "datadivr.demo" in MODULES_WITH_ALL
    assert "datadivr.demo.handlers" in MODULES_WITH_ALL
    assert "datadivr.server._uvicorn" in MODULES_WITH_ALL
    assert set(SUBPACKAGES) <= set(MODULES_WITH_ALL)
    assert not any(name.endswith("__main__") for name in MODULES_WITH_ALL)


# -- the subsystems' public faces ------------------------------------------------------------


def test_subpackages_are_all_the_packages() -> None:
    """Every folder of ``datadivr`` but the generated protocol is a subsystem listed here."""
    packages = {_module_name(p) for p in PACKAGE_DIR.glob("*/__init__.py")}
    assert packages == {*SUBPACKAGES, "datadivr.demo"}


def test_subpackage_reexports_are_found() -> None:
    """Guards the parsing of the subsystems' ``__init__.py`` the tests below rely on."""
    assert {sub: set(_face_imports(sub)) for sub in SUBPACKAGES} == {
        "datadivr.broker": {"datadivr.broker._backplane", "datadivr.broker._redis"},
        "datadivr.client": {"datadivr.client._client", "datadivr.client._reconnect"},
        "datadivr.compat": {
            "datadivr.compat._allow",
            "datadivr.compat._diff",
            "datadivr.compat._fingerprint",
            "datadivr.compat._report",
        },
        "datadivr.core": {
            "datadivr.core._hub",
            "datadivr.core._lifecycle",
            "datadivr.core._limits",
            "datadivr.core._message",
            "datadivr.core._protocol",
            "datadivr.core._registry",
            "datadivr.core._route",
        },
        "datadivr.server": {
            "datadivr.server._app",
            "datadivr.server._auth",
            "datadivr.server._server",
            "datadivr.server._uvicorn",
        },
        "datadivr.validation": set(),
    }


@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_subpackage_all_is_the_union_of_its_modules_all(sub: str) -> None:
    """A subsystem's ``__all__`` is what its private modules declare public (less the
    plumbing only generated code imports), and the names it defines itself."""
    expected = set(OWN_NAMES.get(sub, set()))
    for name, imported in _face_imports(sub).items():
        public = set(importlib.import_module(name).__all__) - _not_reexported(name)
        assert public <= imported, f"{sub} does not import {sorted(public - imported)}"
        expected |= public
    assert sorted(importlib.import_module(sub).__all__) == sorted(expected)


@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_subpackage_reexports_are_the_modules_own_objects(sub: str) -> None:
    package = importlib.import_module(sub)
    for name in _face_imports(sub):
        module = importlib.import_module(name)
        for exported in set(module.__all__) - _not_reexported(name):
            assert getattr(package, exported) is getattr(module, exported), exported


def test_protocol_all_is_the_union_of_its_submodules() -> None:
    union: set[str] = set()
    for sub in ("client", "events", "handlers", "models"):
        module: ModuleType = importlib.import_module(f"datadivr.demo.{sub}")
        union |= set(module.__all__)
    assert sorted(datadivr.demo.__all__) == sorted(union)


# -- the runtime generated code imports ------------------------------------------------------

#: ``datadivr.runtime.__all__``, the contract with generated code, by the module behind each
#: name (``None``: defined in ``datadivr.runtime`` itself). Changing it changes what generated
#: packages may import: see the compatibility rule in ``datadivr.runtime``'s docstring.
RUNTIME_NAMES: dict[str, str | None] = {
    "RUNTIME_API_VERSION": None,
    "SUPPORTED_API_VERSIONS": None,
    "check_generated": None,
    "UUID": "datadivr.core._message",
    "AwareDatetime": "datadivr.core._message",
    "ExactLiteral": "datadivr.core._message",
    "MessageBase": "datadivr.core._message",
    "NotNull": "datadivr.core._message",
    "Payload": "datadivr.core._message",
    "SchemaChecks": "datadivr.core._checks",
    "Direction": "datadivr.core._protocol",
    "EventSpec": "datadivr.core._protocol",
    "MessageText": "datadivr.core._protocol",
    "Protocol": "datadivr.core._protocol",
    "build_message": "datadivr.core._factories",
    "create_message": "datadivr.core._factories",
    "BaseClient": "datadivr.client._client",
    "present": "datadivr.client._client",
    "HandlerContext": "datadivr.core._registry",
    "HandlerType": "datadivr.core._registry",
    "Registry": "datadivr.core._registry",
    "ServicerBase": "datadivr.core._registry",
    "not_implemented": "datadivr.core._registry",
    "register_handler": "datadivr.core._registry",
    "on_connect": "datadivr.core._registry",
    "on_disconnect": "datadivr.core._registry",
    "ClientInfo": "datadivr.core._lifecycle",
    "DisconnectInfo": "datadivr.core._lifecycle",
    "PresenceChange": "datadivr.core._lifecycle",
    "on_presence": "datadivr.core._registry",
    "HandlerNotImplementedError": "datadivr.exceptions",
}


def test_runtime_all_is_the_contract() -> None:
    assert sorted(datadivr.runtime.__all__) == sorted(RUNTIME_NAMES)


@pytest.mark.parametrize("name", sorted(RUNTIME_NAMES))
def test_runtime_reexports_the_modules_own_objects(name: str) -> None:
    source = RUNTIME_NAMES[name]
    if source is not None:
        assert getattr(datadivr.runtime, name) is getattr(importlib.import_module(source), name)


def test_runtime_is_a_public_module() -> None:
    assert datadivr.runtime is importlib.import_module("datadivr.runtime")
    assert "contract between generated code and the runtime" in (datadivr.runtime.__doc__ or "")
    assert isinstance(datadivr.runtime.RUNTIME_API_VERSION, int)
    assert datadivr.runtime.RUNTIME_API_VERSION in datadivr.runtime.SUPPORTED_API_VERSIONS


# -- packaging -------------------------------------------------------------------------------


def test_py_typed_ships() -> None:
    assert resources.files("datadivr").joinpath("py.typed").is_file()


def test_bundled_schema_ships() -> None:
    assert resources.files("datadivr.demo").joinpath("schema.json").is_file()


def test_codegen_py_typed_ships() -> None:
    assert resources.files("datadivr_codegen").joinpath("py.typed").is_file()


# -- exceptions ------------------------------------------------------------------------------

_TREE_LINE = re.compile(
    r"^(?P<prefix>[ │├└─]*?)(?P<name>[A-Z]\w*Error)(?:\s+\((?P<bases>[\w, ]+)\))?(?:\s|$)"
)


def _drawn_hierarchy() -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """The tree in ``exceptions``' docstring: each class's drawn parent and named bases."""
    doc = inspect.getdoc(exceptions) or ""
    block = doc.split("::", 1)[1].split("``SchemaError`` is", 1)[0]
    drawn: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    stack: list[str] = []
    indent: int | None = None  # the roots' indentation
    for line in block.splitlines():
        match = _TREE_LINE.match(line)
        if match is None:
            continue
        indent = len(match["prefix"]) if indent is None else indent
        depth = (len(match["prefix"]) - indent) // 4
        del stack[depth:]
        parent = stack[-1] if stack else None
        bases = tuple(b.strip() for b in (match["bases"] or "").split(",") if b.strip())
        drawn[match["name"]] = (parent, bases)
        stack.append(match["name"])
    return drawn


DRAWN = _drawn_hierarchy()
EXCEPTION_CLASSES = {
    name: obj
    for name in exceptions.__all__
    if isinstance(obj := getattr(exceptions, name), type)
    and issubclass(obj, BaseException)
    and not issubclass(obj, Warning)
}


def test_the_incompatibility_warning_is_a_user_warning() -> None:
    assert issubclass(exceptions.IncompatibleProtocolWarning, UserWarning)
    assert not issubclass(exceptions.IncompatibleProtocolWarning, exceptions.DatadivrError)
    assert datadivr.IncompatibleProtocolWarning is exceptions.IncompatibleProtocolWarning


def test_drawing_was_parsed() -> None:
    assert DRAWN["DatadivrError"] == (None, ())
    assert DRAWN["MessageValidationError"] == ("ProtocolError", ())
    assert DRAWN["HandlerNotImplementedError"] == ("HandlerError", ("NotImplementedError",))
    assert DRAWN["SchemaError"] == (None, ("ValueError",))


def test_every_exception_is_drawn() -> None:
    assert sorted(DRAWN) == sorted(EXCEPTION_CLASSES)


@pytest.mark.parametrize("name", sorted(DRAWN))
def test_exception_matches_the_drawing(name: str) -> None:
    cls = EXCEPTION_CLASSES[name]
    parent, named_bases = DRAWN[name]
    drawn_bases = [b for b in cls.__bases__ if b.__name__ in DRAWN]
    assert [b.__name__ for b in drawn_bases] == ([parent] if parent else [])
    other_bases = {b.__name__ for b in cls.__bases__ if b.__name__ not in DRAWN}
    assert other_bases == (set(named_bases) or ({"Exception"} if parent is None else set()))
    for base in named_bases:
        assert issubclass(cls, getattr(builtins, base))


@pytest.mark.parametrize("name", sorted(EXCEPTION_CLASSES))
def test_everything_but_schema_error_is_a_datadivr_error(name: str) -> None:
    assert issubclass(EXCEPTION_CLASSES[name], exceptions.DatadivrError) == (name != "SchemaError")


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (exceptions.ProtocolError, ValueError),
        (exceptions.MessageValidationError, ValueError),
        (exceptions.MessageValidationError, exceptions.ProtocolError),
        (exceptions.RequestTimeoutError, TimeoutError),
        (exceptions.InvalidStateError, RuntimeError),
        (exceptions.HandlerNotImplementedError, NotImplementedError),
        (exceptions.HandlerNotImplementedError, exceptions.HandlerError),
        (exceptions.RegistrationError, ValueError),
        (exceptions.SchemaError, ValueError),
        (exceptions.RuntimeVersionError, ImportError),
    ],
)
def test_exception_is_also_a(cls: type[BaseException], builtin: type[BaseException]) -> None:
    assert issubclass(cls, builtin)


def test_schema_error_is_the_generators() -> None:
    assert exceptions.SchemaError is datadivr_codegen.errors.SchemaError
    assert datadivr.SchemaError is datadivr_codegen.errors.SchemaError


def test_violation_is_not_an_exception() -> None:
    assert not issubclass(exceptions.Violation, BaseException)


# -- the vocabulary the generator and the runtime share --------------------------------------


@pytest.mark.parametrize("enum_name", ["Direction", "MessageText"])
def test_generator_and_runtime_share_one_vocabulary(enum_name: str) -> None:
    assert getattr(datadivr.core._protocol, enum_name) is getattr(datadivr_codegen.terms, enum_name)
    assert getattr(datadivr, enum_name) is getattr(datadivr_codegen.terms, enum_name)


# -- names imported when first used ----------------------------------------------------------


@pytest.mark.parametrize("name", ["datadivr", "datadivr.core"])
def test_lazy_names_are_listed_and_unknown_ones_raise(name: str) -> None:
    """``datadivr`` and ``datadivr.core`` import their names when first used (PEP 562):
    ``dir()`` still lists every one, and a name they do not have is an ``AttributeError``."""
    module = importlib.import_module(name)
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="Nonesuch"):
        module.Nonesuch  # noqa: B018
    assert not hasattr(module, "Nonesuch")


def test_the_subsystems_are_attributes_of_the_package() -> None:
    """As when the package imported every name: ``datadivr.server`` after ``import datadivr``."""
    code = "import datadivr\nprint(datadivr.server.create_app is datadivr.create_app)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout) == (0, "True\n"), result.stderr


@pytest.mark.parametrize("name", ["datadivr", "datadivr.core"])
def test_the_lazy_table_is_what_type_checkers_are_told(name: str) -> None:
    """The names a package imports when first used (its ``_LAZY`` table) are exactly those its
    ``if TYPE_CHECKING:`` block imports: what mypy sees is what ``__getattr__`` returns."""
    module = importlib.import_module(name)
    init = PACKAGE_DIR.parent.joinpath(*name.split("."), "__init__.py")
    stated: dict[str, set[str]] = {}
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module != "datadivr":
                    assert stmt.module is not None
                    stated[stmt.module] = {alias.name for alias in stmt.names}
    assert stated == {source: set(names) for source, names in module._LAZY.items()}
