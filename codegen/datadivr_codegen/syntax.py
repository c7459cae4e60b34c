"""The syntax tree of a generated module, parsed once for every pass that reads it.

The passes over ``models.py`` (and the checks of every module) each read the tree of the text
they are given, and most are given the text the pass before left unchanged: a module of a
hundred events is parsed in a tenth of a second, a dozen times over without this.
"""

from __future__ import annotations

import ast
import functools

__all__ = ["parse"]


@functools.lru_cache(maxsize=8)
def parse(source: str) -> ast.Module:
    """The tree of ``source``, shared by every caller: read it, never change it (copy a node
    before transforming it).

    Raises:
        SyntaxError: ``source`` does not parse.
    """
    return ast.parse(source)
