"""``views`` reads source segments as :func:`ast.get_source_segment` does, splitting once."""

from __future__ import annotations

import ast
import random

import pytest

from datadivr_codegen.views import _Lines

from .conftest import PROJECT_ROOT

#: Multi-line expressions, non-ASCII text (columns are UTF-8 offsets), a form feed (not a line
#: break for the parser) and a line separator inside a string; ``@`` is a line end.
TEMPLATE = (
    "x: Annotated[@    int,@    Field(description='é\\x0c ü'),@] = (@  1 +@  2)@"
    "y = 'ü' ; z: 'é' = 3@w = {'a':@ 1}@\x0cv = [@'é',@ 'ü\u2028']@"
)


def _sources() -> list[object]:
    rng = random.Random(7)
    mixed = [
        pytest.param(
            "".join(rng.choice(("\n", "\r\n", "\r")) if c == "@" else c for c in TEMPLATE),
            id=f"mixed-line-ends-{i}",
        )
        for i in range(50)
    ]
    generated = [
        pytest.param(
            (PROJECT_ROOT / "src" / "datadivr" / "demo" / name).read_text("utf-8"), id=name
        )
        for name in ("models.py", "client.py")
    ]
    return [pytest.param(TEMPLATE.replace("@", "\n"), id="template"), *mixed, *generated]


@pytest.mark.parametrize("source", _sources())
def test_segments_are_the_ast_segments(source: str) -> None:
    lines = _Lines(source)
    nodes = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.expr)]
    assert nodes
    for node in nodes:
        assert lines.segment(node) == ast.get_source_segment(source, node), ast.dump(node)
