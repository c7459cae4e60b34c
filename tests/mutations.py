"""Hypothesis helpers that change a JSON value in place, for tests that compare verdicts on
broken instances."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def random_container(draw: st.DrawFn, instance: Any) -> Any:
    """An object or array inside ``instance`` (``instance`` itself, or one reached by walking
    down through randomly drawn children), where a test then changes one thing."""
    node = instance
    while True:
        children = (
            list(node.values())
            if isinstance(node, dict)
            else node
            if isinstance(node, list)
            else []
        )
        containers = [c for c in children if isinstance(c, (dict, list))]
        if not containers or not draw(st.booleans()):
            return node
        node = draw(st.sampled_from(containers))
