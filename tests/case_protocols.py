"""Generated protocol packages of the codegen case folders, for runtime tests that need a
protocol other than the demo's (e.g. ``server_request``, whose server asks its clients)."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from datadivr_codegen.generator import generate

CASES_DIR = Path(__file__).parent / "codegen" / "cases"


@contextmanager
def case_package(case: str, root: Path) -> Iterator[ModuleType]:
    """The case's schema folder generated below ``root`` under a fresh name, imported; its
    modules are forgotten afterwards."""
    name = f"gen_{case}_{uuid.uuid4().hex}"
    generate(CASES_DIR / case / "schema", root / name)
    sys.path.insert(0, str(root))
    try:
        importlib.invalidate_caches()
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(root))
        for key in list(sys.modules):
            if key.partition(".")[0] == name:
                del sys.modules[key]
