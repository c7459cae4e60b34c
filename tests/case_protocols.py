"""Generated protocol packages of the codegen case folders, for runtime tests that need a
protocol other than the demo's (e.g. ``server_request``, whose server asks its clients)."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import ModuleType

from datadivr_codegen.generator import generate

CASES_DIR = Path(__file__).parent / "codegen" / "cases"


@contextmanager
def generated_package(schema_dir: Path, root: Path, prefix: str = "gen") -> Iterator[ModuleType]:
    """``schema_dir`` generated below ``root`` under a fresh name (starting with ``prefix``),
    imported; its modules are forgotten afterwards.

    Raises:
        SchemaError: the generator refuses the folder.
    """
    name = f"{prefix}_{uuid.uuid4().hex}"
    generate(schema_dir, root / name, force=True)
    sys.path.insert(0, str(root))
    try:
        importlib.invalidate_caches()
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(root))
        for key in list(sys.modules):
            if key.partition(".")[0] == name:
                del sys.modules[key]


def case_package(case: str, root: Path) -> AbstractContextManager[ModuleType]:
    """The case's schema folder generated below ``root`` under a fresh name, imported; its
    modules are forgotten afterwards."""
    return generated_package(CASES_DIR / case / "schema", root, f"gen_{case}")
