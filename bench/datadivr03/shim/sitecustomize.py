"""Graft ``datadivr.core`` (next to this file) into the installed datadivr 0.3 package.

Python imports this module at start-up when its directory is on ``PYTHONPATH``. A regular
package's submodules are looked up only in its own directory, so a second ``datadivr/`` on the
path cannot add ``datadivr.core`` by itself: this finder adds that directory to the real
package's search path when ``datadivr`` is imported. Nothing else of the package changes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType

_PORTION = str(Path(__file__).resolve().parent / "datadivr")


class _DatadivrCore:
    """A meta path finder for ``datadivr`` alone: the installed package, plus the shim."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != "datadivr":
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.submodule_search_locations is not None:
            spec.submodule_search_locations.append(_PORTION)
        return spec


sys.meta_path.insert(0, _DatadivrCore())
