"""Fixtures of the generator tests: the case folders, and generated, importable packages.

Every generated package gets a fresh module name (``gen_<case>_<uuid hex>``) so that tests never
see each other's modules; it is written below a temporary folder that is put on ``sys.path``.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from datadivr_codegen.generator import generate

HERE = Path(__file__).parent
CASES_DIR = HERE / "cases"
PROJECT_ROOT = HERE.parents[1]
PROJECT_SCHEMA = PROJECT_ROOT / "schema"
CASES = ("minimal", "nested", "reply", "echo", "features", "game")
GENERATED_FILES = (
    "__init__.py",
    "asyncapi.json",
    "client.py",
    "events.py",
    "handlers.py",
    "models.py",
    "protocol.d.ts",
    "protocol.md",
    "py.typed",
    "schema.json",
)
#: The generated files that name the schema hash: all but the empty ``py.typed`` marker.
HASHED_FILES = tuple(name for name in GENERATED_FILES if name != "py.typed")


def case_schema(case: str) -> Path:
    """The schema folder of a test case."""
    return CASES_DIR / case / "schema"


def copy_case(case: str, dest: Path) -> Path:
    """A writable copy of a case's schema folder at ``dest``."""
    shutil.copytree(case_schema(case), dest)
    return dest


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (relative path → bytes)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def package_name(case: str) -> str:
    return f"gen_{case}_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Generated:
    """A generated package, written to ``path`` and imported as ``module``."""

    name: str
    path: Path
    module: ModuleType

    def submodule(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.name}.{name}")


def _forget(names: list[str]) -> None:
    for key in list(sys.modules):
        if key.partition(".")[0] in names:
            del sys.modules[key]


GenerateFn = Callable[..., Generated]


@pytest.fixture
def generate_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GenerateFn]:
    """Generate a schema folder into ``tmp_path / <fresh name>`` and import the package."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names: list[str] = []

    def run(schema_dir: Path, case: str = "pkg") -> Generated:
        name = package_name(case)
        names.append(name)
        out = tmp_path / name
        generate(schema_dir, out)
        importlib.invalidate_caches()
        return Generated(name, out, importlib.import_module(name))

    yield run
    _forget(names)


@pytest.fixture(scope="session")
def shared_packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Generated]]:
    """Every case generated once per session, for the large tables of read-only checks."""
    root = tmp_path_factory.mktemp("shared")
    names: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        packages: dict[str, Generated] = {}
        for case in CASES:
            name = package_name(case)
            names.append(name)
            generate(case_schema(case), root / name)
            importlib.invalidate_caches()
            packages[case] = Generated(name, root / name, importlib.import_module(name))
        yield packages
    _forget(names)
